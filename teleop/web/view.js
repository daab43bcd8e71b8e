// Drawing: camera tiles, joint bars, force meters, safety counters and the event log.
// Only DOM work lives here; app.js decides what to show.

const $ = (sel, root = document) => root.querySelector(sel);

function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const child of children) node.append(child);
  return node;
}

export function fmt(value, digits = 2) {
  return Number.isFinite(value) ? value.toFixed(digits) : "–";
}

function signed(value, digits = 2) {
  if (!Number.isFinite(value)) return "–";
  const text = Math.abs(value).toFixed(digits);
  if (Number(text) === 0) return ` ${text}`; // no "−0.00"
  return (value > 0 ? "+" : "−") + text;
}

/** Restarts a CSS animation class, e.g. a flash when a counter changes. */
export function flash(node, cls = "flash") {
  node.classList.remove(cls);
  void node.offsetWidth; // reflow, so that re-adding the class replays the animation
  node.classList.add(cls);
}

// --- cameras -------------------------------------------------------------------------------

function base64ToBytes(b64) {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i += 1) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

/**
 * One camera view. A JPEG is shown through a blob URL; while one is decoding, only the
 * newest arrival waits, so a slow page shows fresh frames rather than a backlog.
 */
class CameraTile {
  constructor(name) {
    this.name = name;
    this.img = el("img", { alt: `${name} camera`, decoding: "async", draggable: false });
    this.nosignal = el("div", { class: "nosignal", text: "no frames yet" });
    this.meta = el("span", { class: "cam-meta", text: "" });
    this.node = el("figure", { class: "camera", "data-camera": name }, [
      this.img,
      this.nosignal,
      el("figcaption", {}, [el("span", { class: "cam-name", text: name }), this.meta]),
    ]);
    this.url = null;
    this.loading = false;
    this.pending = null;
    this.lastSeq = null;
    this.dropped = 0;
    this.frames = 0;
    this.arrivals = [];
    this.img.addEventListener("load", () => this._settled());
    this.img.addEventListener("error", () => this._settled());
  }

  push(msg) {
    if (this.lastSeq !== null && msg.seq > this.lastSeq + 1) this.dropped += msg.seq - this.lastSeq - 1;
    this.lastSeq = msg.seq;
    this.frames += 1;
    const now = performance.now();
    this.arrivals.push(now);
    while (this.arrivals.length && now - this.arrivals[0] > 2000) this.arrivals.shift();
    this.pending = msg;
    if (!this.loading) this._show();
  }

  get fps() {
    const a = this.arrivals;
    return a.length > 1 ? ((a.length - 1) * 1000) / (a[a.length - 1] - a[0] || 1) : 0;
  }

  _show() {
    const msg = this.pending;
    this.pending = null;
    if (!msg) return;
    let blob;
    try {
      blob = new Blob([base64ToBytes(msg.data)], { type: `image/${msg.format || "jpeg"}` });
    } catch {
      return; // a malformed frame costs that frame only
    }
    this.loading = true;
    this.next = URL.createObjectURL(blob);
    this.img.src = this.next;
    this.shape = `${msg.width}×${msg.height}`;
  }

  _settled() {
    this.loading = false;
    if (this.url && this.url !== this.next) URL.revokeObjectURL(this.url);
    this.url = this.next;
    this.node.classList.add("live");
    this.meta.textContent = `${this.shape} · ${fmt(this.fps, 1)} fps · ${this.dropped} dropped`;
    if (this.pending) this._show();
  }

  dispose() {
    if (this.url) URL.revokeObjectURL(this.url);
    if (this.next && this.next !== this.url) URL.revokeObjectURL(this.next);
  }
}

export class Cameras {
  constructor(container) {
    this.container = container;
    this.tiles = new Map();
  }

  setNames(names) {
    const same = names.length === this.tiles.size && names.every((n) => this.tiles.has(n));
    if (same) return;
    for (const tile of this.tiles.values()) tile.dispose();
    this.tiles = new Map(names.map((n) => [n, new CameraTile(n)]));
    this.container.replaceChildren(...[...this.tiles.values()].map((t) => t.node));
    this.container.style.setProperty("--cams", String(Math.max(1, names.length)));
  }

  push(msg) {
    let tile = this.tiles.get(msg.camera);
    if (!tile) {
      // A camera the welcome did not list: show it anyway, after the others.
      tile = new CameraTile(msg.camera);
      this.tiles.set(msg.camera, tile);
      this.container.append(tile.node);
      this.container.style.setProperty("--cams", String(this.tiles.size));
    }
    tile.push(msg);
  }

  setStale(stale) {
    this.container.classList.toggle("stale", stale);
  }
}

// --- joints --------------------------------------------------------------------------------

export class Joints {
  constructor(container) {
    this.container = container;
    this.rows = [];
  }

  setRobot(robot) {
    const { joint_names: names, limits } = robot;
    this.rows = names.map((name, i) => {
      const gripper = i === names.length - 1;
      const lo = limits.lower[i];
      const hi = limits.upper[i];
      const marker = el("div", { class: "marker" });
      const fill = el("div", { class: "fill" });
      const track = el("div", { class: "track" }, [fill, marker]);
      if (!gripper && lo < 0 && hi > 0) {
        const zero = el("div", { class: "zero" });
        zero.style.left = `${(100 * -lo) / (hi - lo)}%`;
        track.prepend(zero);
      }
      const value = el("span", { class: "value", text: "–" });
      const range = gripper ? "opening 0 (closed) … 1 (open)" : `${fmt(lo)} … ${fmt(hi)} rad`;
      const row = el("div", { class: gripper ? "joint gripper" : "joint", "data-joint": name, title: range }, [
        el("span", { class: "name", text: name }),
        track,
        value,
      ]);
      return { row, marker, fill, value, lo, hi, gripper, zeroFrac: gripper ? 0 : clamp01(-lo / (hi - lo)) };
    });
    this.container.replaceChildren(...this.rows.map((r) => r.row));
  }

  update(q) {
    this.rows.forEach((r, i) => {
      const v = q[i];
      if (!Number.isFinite(v)) return;
      const frac = clamp01((v - r.lo) / (r.hi - r.lo || 1));
      r.marker.style.left = `${frac * 100}%`;
      const from = r.gripper ? 0 : Math.min(frac, r.zeroFrac);
      const to = r.gripper ? frac : Math.max(frac, r.zeroFrac);
      r.fill.style.left = `${from * 100}%`;
      r.fill.style.width = `${(to - from) * 100}%`;
      r.row.dataset.q = String(v);
      r.row.classList.toggle("near-limit", !r.gripper && (frac < 0.05 || frac > 0.95));
      r.value.textContent = r.gripper
        ? `${Math.round(v * 100)} % open`
        : `${signed(v)} rad ${signed((v * 180) / Math.PI, 0)}°`;
    });
  }
}

function clamp01(v) {
  return Math.min(1, Math.max(0, v));
}

// --- meters, counters, log -----------------------------------------------------------------

/** A horizontal meter; full scale grows to the largest value seen so that nothing pins. */
export function setMeter(node, value, unit = "N") {
  const full = Math.max(Number(node.dataset.full) || 1, value);
  node.dataset.full = String(full);
  $(".fill", node).style.width = `${clamp01(value / full) * 100}%`;
  $(".value", node).textContent = `${fmt(value, 1)} ${unit}`;
  node.dataset.value = String(value);
  node.classList.toggle("hot", value > 0.6 * full);
}

const COUNTER_LABELS = {
  step_clamps: "step clamps",
  velocity_clamps: "velocity clamps",
  limit_clamps: "limit clamps",
  twist_clamps: "twist clamps",
  jump_rejections: "jump rejections",
  kinematics_failures: "IK failures",
  rejected_nonfinite: "non-finite refused",
  rejected_shape: "bad shape refused",
  stale_commands: "stale commands",
  watchdog_holds: "watchdog holds",
  watchdog_hold_ticks: "watchdog ticks",
  deadman_holds: "deadman holds",
  estop_ticks: "e-stop ticks",
};

/** Which look a counter gets: "hold" (the arm was held), "ticks" (a duration), "clamp". */
function counterKind(name) {
  if (name.endsWith("_ticks")) return "ticks"; // counts every tick of a hold: no flashing
  if (/watchdog|deadman|estop/.test(name)) return "hold";
  return "clamp";
}

export class Counters {
  constructor(container) {
    this.container = container;
    this.cells = new Map();
    this.lastFlash = new Map();
  }

  /** Shows every counter; the ones that changed flash (at most every 0.6 s each). */
  update(safety) {
    if (this.cells.size === 0) this.container.replaceChildren();
    for (const [name, count] of Object.entries(safety)) {
      let cell = this.cells.get(name);
      if (!cell) {
        const value = el("b", { text: "0" });
        const kind = counterKind(name);
        const node = el("div", { class: `counter ${kind}`, "data-counter": name }, [
          value,
          el("span", { text: COUNTER_LABELS[name] || name.replaceAll("_", " ") }),
        ]);
        cell = { node, value, count, kind };
        this.cells.set(name, cell);
        this.container.append(node);
      }
      if (count !== cell.count && cell.kind !== "ticks") {
        const now = performance.now();
        if (now - (this.lastFlash.get(name) || 0) > 600) {
          flash(cell.node);
          this.lastFlash.set(name, now);
        }
        cell.count = count;
      }
      cell.value.textContent = String(count);
      cell.node.dataset.count = String(count);
    }
  }
}

export class Log {
  constructor(list, max = 80) {
    this.list = list;
    this.max = max;
  }

  /** kind: "error", "warn", "info" or "ok". A repeat of the newest entry is counted, not added. */
  add(kind, text, code = "") {
    const stamp = new Date().toTimeString().slice(0, 8);
    const top = this.list.firstElementChild;
    if (top && top.dataset.key === `${kind}|${code}|${text}`) {
      const repeats = Number(top.dataset.repeats || 1) + 1;
      top.dataset.repeats = String(repeats);
      top.querySelector("time").textContent = stamp;
      top.querySelector(".repeats").textContent = `×${repeats}`;
      return top;
    }
    const item = el("li", { class: `log-${kind}` }, [
      el("time", { text: stamp }),
      code ? el("code", { text: code }) : "",
      el("span", { text }),
      el("span", { class: "repeats" }),
    ]);
    item.dataset.key = `${kind}|${code}|${text}`;
    if (code) item.dataset.code = code;
    this.list.prepend(item);
    while (this.list.childElementCount > this.max) this.list.lastElementChild.remove();
    return item;
  }
}

export function setPill(node, level, text) {
  node.dataset.level = level;
  const label = node.querySelector("span:not(.dot)") || node;
  label.textContent = text;
}
