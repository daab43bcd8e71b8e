// Input devices: the keyboard, the on-screen hold buttons (pointer events, so touch
// works), and the Gamepad API. Each keeps only what is held right now; drive.js turns
// that into commands. Losing focus or hiding the page lets go of everything, so a key
// held while the window changes never keeps the arm moving.

import { DEADMAN_KEYS, KEY_AXES, readGamepad, rumbleFor, zeroAxes } from "./drive.js";

const RUMBLE_INTERVAL_MS = 100;

function isTextField(el) {
  if (!el) return false;
  if (el.isContentEditable) return true;
  if (el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
  return el.tagName === "INPUT" && !["button", "checkbox", "radio", "submit"].includes(el.type);
}

export class Keyboard {
  /**
   * @param {object} actions  onEstop(), onTakeControl()
   */
  constructor(actions, target = window) {
    this.held = new Set();
    this.actions = actions;
    target.addEventListener("keydown", (ev) => this._down(ev));
    target.addEventListener("keyup", (ev) => this._up(ev));
    target.addEventListener("blur", () => this.releaseAll());
    document.addEventListener("visibilitychange", () => {
      if (document.hidden) this.releaseAll();
    });
  }

  get deadman() {
    return DEADMAN_KEYS.some((code) => this.held.has(code));
  }

  releaseAll() {
    this.held.clear();
  }

  _down(ev) {
    if (ev.code === "Escape") {
      // Always, even while typing in a field.
      ev.preventDefault();
      this.actions.onEstop();
      return;
    }
    if (isTextField(ev.target) || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.code === "KeyT" && !ev.repeat) {
      this.actions.onTakeControl();
      return;
    }
    if (ev.code in KEY_AXES || DEADMAN_KEYS.includes(ev.code)) {
      ev.preventDefault(); // no page scrolling, no "click" of a focused button on Space
      this.held.add(ev.code);
    }
  }

  _up(ev) {
    if (this.held.delete(ev.code)) ev.preventDefault();
  }
}

/** A button that counts as held while a pointer (mouse, finger, pen) presses it. */
export function holdButton(el, onChange) {
  const pointers = new Set();
  const update = () => {
    const held = pointers.size > 0;
    el.classList.toggle("held", held);
    onChange(held);
  };
  el.addEventListener("pointerdown", (ev) => {
    if (el.disabled) return;
    ev.preventDefault();
    el.setPointerCapture?.(ev.pointerId);
    pointers.add(ev.pointerId);
    update();
  });
  const release = (ev) => {
    if (pointers.delete(ev.pointerId)) update();
  };
  for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) {
    el.addEventListener(type, release);
  }
  el.addEventListener("contextmenu", (ev) => ev.preventDefault()); // long press on touch
  return {
    releaseAll() {
      pointers.clear();
      update();
    },
  };
}

/** The on-screen deadman and jog buttons. */
export class TouchControls {
  constructor(deadmanEl, jogEls) {
    this.deadman = false;
    this.axes = zeroAxes();
    this.held = new Map(); // jog element -> held
    this.handles = [
      holdButton(deadmanEl, (held) => {
        this.deadman = held;
      }),
    ];
    for (const el of jogEls) {
      this.handles.push(
        holdButton(el, (held) => {
          this.held.set(el, held);
          this._recompute();
        }),
      );
    }
    window.addEventListener("blur", () => this.releaseAll());
  }

  releaseAll() {
    for (const h of this.handles) h.releaseAll();
  }

  _recompute() {
    const axes = zeroAxes();
    for (const [el, held] of this.held) {
      if (held) axes[el.dataset.axis] += Number(el.dataset.dir);
    }
    this.axes = axes;
  }
}

/** The first connected standard gamepad, polled once per tick. */
export class Gamepads {
  constructor(onChange) {
    this.onChange = onChange;
    this.index = null;
    this.lastId = null;
    this.lastButtons = { estop: false, takeControl: false };
    this.lastRumble = 0;
    window.addEventListener("gamepadconnected", (ev) => {
      if (this.index === null) this.index = ev.gamepad.index;
    });
    window.addEventListener("gamepaddisconnected", (ev) => {
      if (ev.gamepad.index === this.index) this.index = null;
    });
  }

  current() {
    const pads = navigator.getGamepads ? Array.from(navigator.getGamepads()) : [];
    if (this.index !== null && pads[this.index]?.connected) return pads[this.index];
    const pad = pads.find((p) => p && p.connected) || null;
    this.index = pad ? pad.index : null;
    return pad;
  }

  /**
   * @returns {{axes: object, deadman: boolean, estopPressed: boolean, takeControlPressed: boolean, pad: Gamepad|null}}
   *   the `...Pressed` fields are true only on the tick the button went down
   */
  poll() {
    const pad = this.current();
    const id = pad ? `${pad.index}:${pad.id}` : null;
    if (id !== this.lastId) {
      // Some pads show up only by polling (no gamepadconnected event); report those too.
      this.lastId = id;
      this.onChange(pad);
    }
    if (!pad) {
      this.lastButtons = { estop: false, takeControl: false };
      return { axes: zeroAxes(), deadman: false, estopPressed: false, takeControlPressed: false, pad };
    }
    const read = readGamepad(pad);
    const out = {
      axes: read.axes,
      deadman: read.deadman,
      estopPressed: read.estop && !this.lastButtons.estop,
      takeControlPressed: read.takeControl && !this.lastButtons.takeControl,
      pad,
    };
    this.lastButtons = { estop: read.estop, takeControl: read.takeControl };
    return out;
  }

  /**
   * Vibrates the pad in proportion to force, where the browser supports it: contact
   * force [N] on the strong motor, grasp force [N] on the weak one; at most every 100 ms.
   */
  rumble(contactN, graspN, graspFullN) {
    const actuator = this.current()?.vibrationActuator;
    if (!actuator || typeof actuator.playEffect !== "function") return;
    const now = performance.now();
    if (now - this.lastRumble < RUMBLE_INTERVAL_MS) return;
    const { strongMagnitude, weakMagnitude } = rumbleFor(contactN, graspN, 20, graspFullN);
    if (strongMagnitude < 0.02 && weakMagnitude < 0.02) return;
    this.lastRumble = now;
    const effect = { startDelay: 0, duration: RUMBLE_INTERVAL_MS + 20, strongMagnitude, weakMagnitude };
    actuator.playEffect("dual-rumble", effect).catch(() => {}); // unsupported: no feedback, no error
  }
}
