// The panels that follow the station's state: the 30 Hz robot state (joints, force, loop,
// safety, recording clock) and the session (connection, lease, e-stop, recording buttons).
// Pure DOM updates from the page's model; app.js decides when.

import { Phase } from "./connection.js";
import { fmt, setMeter, setPill } from "./view.js";

const $ = (id) => document.getElementById(id);

/** Whether this page's client holds the lease. */
export function haveLease(model) {
  return model.clientId !== null && model.holder === model.clientId;
}

/** Draws one `state` message. `ui` holds the joints and counters views. */
export function drawState(s, ui) {
  if (!s) return;
  ui.joints.update(s.q);
  const f = s.ee_force || [0, 0, 0];
  setMeter($("force-contact"), Math.hypot(f[0], f[1], f[2]));
  setMeter($("force-grasp"), s.grasp_force || 0);
  if (s.loop) {
    $("loop-rate").textContent = `${fmt(s.loop.rate_hz, 0)} Hz`;
    $("loop-jitter").textContent = `${fmt(s.loop.jitter_p99_ms, 2)} ms`;
    $("loop-overruns").textContent = String(s.loop.overruns ?? "–");
  }
  if (s.safety) ui.counters.update(s.safety);
  const faults = s.faults || [];
  $("faults").hidden = faults.length === 0;
  $("faults").textContent = faults.length ? `faults: ${faults.join(", ")}` : "";
  const rec = s.recording || {};
  // Not in protocol v1: a server may add the dataset's episode total.
  if (Number.isInteger(rec.episodes)) $("dataset-episodes").textContent = ` · in the dataset: ${rec.episodes}`;
  if (rec.active) {
    const idx = Number.isInteger(rec.episode_index) ? `episode ${rec.episode_index} · ` : "";
    $("rec-status").textContent = `● REC ${clock(rec.elapsed_s)}`;
    $("rec-detail").textContent = ` · ${idx}${rec.frames ?? 0} rows`;
  }
}

function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds || 0));
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

/** Draws everything that depends on the session model (not on the 30 Hz state). */
export function renderSession(model) {
  const ready = model.phase === Phase.READY;
  const mine = haveLease(model);
  const operator = ready && model.role === "operator";

  // Lease.
  let leaseLevel = "idle";
  let leaseText = "not connected";
  if (ready && mine) [leaseLevel, leaseText] = ["ok", "you have control"];
  else if (ready && model.holder !== null) {
    leaseLevel = "warn";
    leaseText = `observing · ${model.holderName || `client ${model.holder}`} has control`;
  } else if (ready) leaseText = model.role === "operator" ? "observing · nobody has control" : "observing";
  setPill($("lease-pill"), leaseLevel, leaseText);
  const leaseBtn = $("lease-btn");
  leaseBtn.textContent = mine ? "Release control" : "Take control";
  leaseBtn.classList.toggle("primary", !mine);
  leaseBtn.disabled = !operator;
  leaseBtn.title = operator ? "" : "observers cannot take control; reconnect as operator";
  $("client-id").textContent = ready ? `client ${model.clientId} · ${model.role}` : "";
  const name = $("name").value.trim();
  $("conn-summary").textContent = ready ? `${name ? `${name} · ` : ""}${window.location.host}` : "";
  document.body.dataset.role = ready ? model.role : "";
  document.body.dataset.control = String(mine);

  // E-stop.
  document.body.classList.toggle("estopped", model.estop);
  $("banner").hidden = !model.estop;
  $("banner-text").textContent = model.estop
    ? `E-STOP LATCHED${model.estopReason ? ` — ${model.estopReason}` : ""}. Nothing moves until the operator in control resets it.`
    : "";
  $("reset-btn").disabled = !mine;
  $("estop-btn").disabled = false;

  // Driving.
  const canDrive = ready && mine && !model.estop;
  $("deadman-btn").disabled = !canDrive;
  $("drive-take").hidden = !(operator && !mine);
  for (const b of document.querySelectorAll(".jog")) b.disabled = !canDrive;
  $("drive-hint").textContent = !ready
    ? ""
    : model.role !== "operator"
      ? "observer: read-only"
      : model.estop
        ? "e-stop latched"
        : mine
          ? "hold the deadman to move"
          : "take control to drive (T)";

  // Recording.
  $("rec-start").disabled = !(mine && !model.recording);
  for (const id of ["rec-stop-ok", "rec-stop-fail", "rec-discard"]) $(id).disabled = !(mine && model.recording);
  $("task").disabled = !operator;
  const recStatus = $("rec-status");
  recStatus.dataset.active = String(model.recording);
  if (!model.recording) {
    recStatus.textContent = "idle";
    $("rec-detail").textContent = "";
  }
  $("episodes").textContent = String(model.episodesSaved);

  // Connection form.
  $("disconnect-btn").disabled = model.phase === Phase.IDLE;
  $("connect-btn").textContent = model.phase === Phase.IDLE || model.phase === Phase.REFUSED ? "Connect" : "Reconnect";
}
