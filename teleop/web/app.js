// The teleop operator page: wires the connection, the inputs and the views together.
//
// Protocol: docs/protocol.md (JSON text frames). The page keeps a small model of the
// station (who holds the lease, e-stop, recording) from welcome/lease/estop/record/state
// messages, and streams ee_velocity commands from drive.js while the deadman is held.

import { Connection, Phase, REFUSED_TOKEN } from "./connection.js";
import {
  CommandStreamer,
  SEND_RATE_HZ,
  axesFromKeys,
  clientNowNs,
  combineAxes,
  isIdle,
  twistFromAxes,
} from "./drive.js";
import { Gamepads, Keyboard, TouchControls } from "./input.js";
import { drawState, haveLease as panelsHaveLease, renderSession } from "./panels.js";
import { loadSettings, saveSettings, settings } from "./settings.js";
import { Cameras, Counters, Joints, Log, fmt, setPill } from "./view.js";

const $ = (id) => document.getElementById(id);

const PING_INTERVAL_MS = 1000;

/** What the page knows about the station. */
const model = {
  phase: Phase.IDLE,
  clientId: null,
  role: null,
  robot: null,
  holder: null,
  holderName: null,
  estop: false,
  estopReason: "",
  tokenRefused: false,
  recording: false,
  episodesSaved: 0,
  lastState: null,
  lastEchoNs: null,
  rttMs: [],
};

const ui = {
  cameras: new Cameras($("cameras")),
  joints: new Joints($("joints")),
  counters: new Counters($("safety")),
  log: new Log($("log")),
};

const conn = new Connection({ onMessage, onPhase });
// A command that would wait behind a backlog is stale before it leaves: drop it instead.
const MAX_BUFFERED_BYTES = 16 * 1024;
const streamer = new CommandStreamer((msg) => conn.bufferedBytes < MAX_BUFFERED_BYTES && conn.send(msg));
const keyboard = new Keyboard({ onEstop: triggerEstop, onTakeControl: requestLease });
const touch = new TouchControls($("deadman-btn"), document.querySelectorAll(".jog"));
const gamepads = new Gamepads((pad) => {
  const help = "sticks move, LB/RB deadman, RT/LT close/open, B e-stop, Y take control";
  $("gamepad-status").textContent = pad ? `gamepad: ${pad.id.slice(0, 48)} · ${help}` : `no gamepad · ${help}`;
});

const haveLease = () => panelsHaveLease(model);
const render = () => renderSession(model);
const isOperator = () => model.role === "operator";

// --- connection ----------------------------------------------------------------------------

function connect() {
  model.tokenRefused = false;
  saveSettings();
  resetSession();
  conn.connect(settings());
}

function onPhase(phase, text, detail) {
  const changed = phase !== model.phase;
  model.phase = phase;
  // A token refusal stays on screen through the retries that follow, until one succeeds.
  if (detail.why === REFUSED_TOKEN || text === REFUSED_TOKEN) model.tokenRefused = true;
  if (phase === Phase.READY || phase === Phase.IDLE) model.tokenRefused = false;
  const tokenProblem = model.tokenRefused;
  let level = { idle: "idle", connecting: "busy", ready: "ok", retrying: "warn", refused: "bad" }[phase];
  if (tokenProblem) level = "bad";
  if (tokenProblem && phase === Phase.CONNECTING) text = `${REFUSED_TOKEN} (trying again…)`;
  setPill($("conn-pill"), level, text);
  $("token").classList.toggle("invalid", tokenProblem);
  const placeholder = document.querySelector("#cameras .placeholder .nosignal");
  if (placeholder) {
    placeholder.textContent = tokenProblem
      ? `${REFUSED_TOKEN} Enter the server's token under Connection.`
      : phase === Phase.IDLE
        ? "not connected"
        : `${text}`;
  }
  document.body.dataset.phase = phase;
  if (phase !== Phase.READY) {
    resetSession();
    ui.cameras.setStale(true);
  }
  if (!changed) return;
  if (phase === Phase.REFUSED) ui.log.add("error", text, "refused");
  if (phase === Phase.RETRYING) ui.log.add("warn", detail.why ? `disconnected: ${detail.why}` : "disconnected");
  render();
}

function resetSession() {
  if (model.clientId === null && model.holder === null) return;
  model.clientId = null;
  model.holder = null;
  model.holderName = null;
  streamer.revoke();
  render();
}

// --- messages ------------------------------------------------------------------------------

const handlers = {
  welcome(msg) {
    model.clientId = msg.client_id;
    model.role = msg.role;
    model.robot = msg.robot;
    model.holder = msg.holder;
    model.holderName = msg.holder_name;
    model.estop = !!msg.estop;
    model.recording = !!msg.recording;
    $("robot-name").textContent = msg.robot.name;
    document.title = `teleop · ${msg.robot.name}`;
    ui.cameras.setNames(msg.robot.cameras);
    ui.cameras.setStale(false);
    ui.joints.setRobot(msg.robot);
    const effort = msg.robot.limits.max_effort;
    $("force-grasp").dataset.full = String(effort[effort.length - 1] || 30);
    ui.log.add("ok", `connected as ${msg.role} (client ${msg.client_id}), ${msg.robot.name} at ${fmt(msg.rate_hz, 0)} Hz`);
    if (model.estop) ui.log.add("warn", "the e-stop is latched");
    render();
  },

  lease(msg) {
    const had = haveLease();
    model.holder = msg.holder;
    model.holderName = msg.holder_name ?? null;
    if (msg.granted && !had) {
      const q = model.lastState?.q;
      streamer.grant(q ? q[q.length - 1] : 1);
      ui.log.add("ok", "you have control");
    } else if (!msg.granted && had) {
      streamer.revoke();
      ui.log.add("warn", "you no longer have control");
    }
    render();
  },

  state(msg) {
    model.lastState = msg;
    if (model.estop !== msg.estop) {
      model.estop = msg.estop;
      render();
    }
    if (model.recording !== msg.recording?.active) {
      model.recording = !!msg.recording?.active;
      render();
    }
    measureRtt(msg.t_client_ns);
    scheduleStateDraw();
    rumble(msg);
  },

  frame(msg) {
    ui.cameras.push(msg);
  },

  estop(msg) {
    model.estop = msg.latched;
    model.estopReason = msg.reason || "";
    ui.log.add(msg.latched ? "error" : "ok", msg.latched ? `E-STOP: ${msg.reason || "latched"}` : `e-stop ${msg.reason || "reset"}`);
    render();
  },

  record(msg) {
    model.recording = msg.active;
    const reason = msg.reason || "";
    if (msg.action === "start") {
      ui.log.add("ok", `recording started${msg.task ? `: ${msg.task}` : ""}`);
    } else if (msg.action === "stop") {
      model.episodesSaved += 1;
      const outcome = msg.success === true ? "success" : msg.success === false ? "failure" : "outcome unknown";
      ui.log.add(reason.startsWith("lease_lost") ? "warn" : "ok", `episode saved (${outcome})${reason && reason !== "operator" ? ` — ${reason}` : ""}`);
    } else if (msg.action === "discard") {
      ui.log.add("info", "episode discarded");
    } else if (reason.startsWith("failed")) {
      ui.log.add("error", `recording ${reason}`);
    } else if (reason.startsWith("saved")) {
      ui.log.add("ok", reason);
    } else if (reason.startsWith("checked")) {
      // The station's quality verdict on the episode just saved.
      ui.log.add(reason.includes("rejected") ? "warn" : "ok", reason);
    }
    render();
  },

  error(msg) {
    ui.log.add("error", msg.message || "(no message)", msg.code || "error");
  },

  pong(msg) {
    if (Number.isFinite(msg.t_client_ns)) {
      $("ping").textContent = `${fmt((clientNowNs() - msg.t_client_ns) / 1e6, 1)} ms`;
    }
  },
};

function onMessage(msg) {
  const handler = handlers[msg.type];
  if (handler) handler(msg);
  // Unknown types are ignored: the protocol only ever adds.
}

// The state echoes the t_client_ns of the command it applied; the first state that
// shows a new echo closes one round trip.
function measureRtt(echo) {
  if (!Number.isFinite(echo) || echo === model.lastEchoNs) return;
  model.lastEchoNs = echo;
  const rttMs = (clientNowNs() - echo) / 1e6;
  if (rttMs < 0 || rttMs > 60000) return; // from another page load's clock
  model.rttMs.push(rttMs);
  if (model.rttMs.length > 25) model.rttMs.shift();
  const sorted = [...model.rttMs].sort((a, b) => a - b);
  $("rtt").textContent = `${fmt(sorted[Math.floor(sorted.length / 2)], 1)} ms`;
}

// --- drawing -------------------------------------------------------------------------------

let drawPending = false;
function scheduleStateDraw() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => {
    drawPending = false;
    drawState(model.lastState, ui);
  });
}

// --- actions -------------------------------------------------------------------------------

function requestLease() {
  if (model.phase !== Phase.READY || !isOperator() || haveLease()) return;
  conn.send({ type: "lease", action: "request" });
}

function toggleLease() {
  if (haveLease()) {
    streamer.tick(combineAxes(), false, true, 0); // a last zero command if moving
    conn.send({ type: "lease", action: "release" });
  } else {
    requestLease();
  }
}

function triggerEstop() {
  // Anyone connected may trigger, even before the welcome.
  const sent = conn.send({ type: "estop", action: "trigger" });
  if (!sent) ui.log.add("error", "e-stop NOT sent: not connected");
  model.estop = sent || model.estop;
  keyboard.releaseAll();
  touch.releaseAll();
  render();
}

function resetEstop() {
  conn.send({ type: "estop", action: "reset" });
}

function record(action, extra = {}) {
  conn.send({ type: "record", action, ...extra });
}

// --- the command loop ----------------------------------------------------------------------

let lastTick = performance.now();
let lastPing = 0;
let sentAtLastRate = 0;
let lastRateAt = performance.now();

function tick() {
  const now = performance.now();
  const dtS = Math.min(0.1, (now - lastTick) / 1000);
  lastTick = now;

  const pad = gamepads.poll();
  if (pad.estopPressed) triggerEstop();
  if (pad.takeControlPressed) requestLease();

  const axes = combineAxes(axesFromKeys(keyboard.held), touch.axes, pad.axes);
  const deadman = keyboard.deadman || touch.deadman || pad.deadman;
  const enabled = conn.isOpen && haveLease() && !model.estop;
  const sent = streamer.tick(axes, deadman, enabled, dtS);
  showTwist(axes, deadman, sent);

  if (now - lastRateAt >= 1000) {
    const rate = ((streamer.sent - sentAtLastRate) * 1000) / (now - lastRateAt);
    sentAtLastRate = streamer.sent;
    lastRateAt = now;
    $("send-rate").textContent = rate > 0 ? `sending ${fmt(rate, 0)} Hz` : "idle";
  }
  if (now - lastPing >= PING_INTERVAL_MS && conn.isOpen) {
    lastPing = now;
    conn.send({ type: "ping", t_client_ns: clientNowNs() });
  }
}

function showTwist(axes, deadman, sent) {
  const moving = deadman && !isIdle(axes);
  const t = twistFromAxes(deadman ? axes : combineAxes());
  $("twist-linear").textContent = t.linear.map((v) => fmt(v)).join(" ");
  $("twist-yaw").textContent = fmt(t.angular[2]);
  $("twist-grip").textContent = streamer.gripper === null ? "–" : `${Math.round(streamer.gripper * 100)} %`;
  document.body.classList.toggle("deadman-held", deadman && !!sent);
  document.body.classList.toggle("moving", moving && !!sent);
}

// --- force feedback ------------------------------------------------------------------------

function rumble(state) {
  const f = state.ee_force || [0, 0, 0];
  const graspFullN = Number($("force-grasp").dataset.full) || 30;
  gamepads.rumble(Math.hypot(f[0], f[1], f[2]), state.grasp_force || 0, graspFullN);
}

// --- wiring --------------------------------------------------------------------------------

function bind() {
  $("conn-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    connect();
  });
  $("disconnect-btn").addEventListener("click", () => conn.disconnect());
  $("lease-btn").addEventListener("click", toggleLease);
  $("drive-take").addEventListener("click", requestLease);
  $("conn-edit").addEventListener("click", () => {
    const open = $("conn-panel").classList.toggle("editing");
    $("conn-edit").setAttribute("aria-expanded", String(open));
  });
  // The e-stop acts on press, not on release; click covers keyboard activation only.
  $("estop-btn").addEventListener("pointerdown", (ev) => {
    ev.preventDefault();
    triggerEstop();
  });
  $("estop-btn").addEventListener("click", (ev) => {
    if (ev.detail === 0) triggerEstop();
  });
  $("reset-btn").addEventListener("click", resetEstop);
  $("rec-start").addEventListener("click", () => {
    const task = $("task").value.trim();
    if (!task) {
      // Every episode needs its task: it is what training conditions on.
      ui.log.add("warn", "describe the task first, e.g. 'put the red cube in the bowl'");
      $("task").classList.add("invalid");
      $("task").focus();
      return;
    }
    record("start", { task });
  });
  $("task").addEventListener("input", () => $("task").classList.remove("invalid"));
  $("task").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") $("task").blur(); // back to driving keys
  });
  $("rec-stop-ok").addEventListener("click", () => record("stop", { success: true }));
  $("rec-stop-fail").addEventListener("click", () => record("stop", { success: false }));
  $("rec-discard").addEventListener("click", () => record("discard"));
  // Buttons lose focus after a click, so Space drives instead of pressing them again.
  document.addEventListener("click", (ev) => {
    if (ev.target instanceof HTMLButtonElement) ev.target.blur();
  });
  window.addEventListener("pagehide", () => conn.disconnect());
}

loadSettings();
bind();
render();
setInterval(tick, 1000 / SEND_RATE_HZ);
connect();

// For tests and debugging in the console.
window.teleop = { model, conn, streamer, keyboard, touch };
