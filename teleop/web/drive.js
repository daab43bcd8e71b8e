// Driving: inputs (keys, gamepad, on-screen buttons) to end-effector velocity commands.
//
// Everything here is pure or takes its clock and its send function as arguments, so the
// browser tests can call it directly. Axes are unit-less in [-1, 1]; speeds turn them
// into SI: linear [m/s] in the base frame (x forward, y left, z up), yaw [rad/s] about
// +z (counter-clockwise seen from above), gripper opening rate [1/s].

export const SPEEDS = Object.freeze({
  linear: 0.1, // [m/s] at full deflection
  yaw: 0.8, // [rad/s]
  gripper: 0.8, // opening change per second, the opening being in [0, 1]
});

export const SEND_RATE_HZ = 50;

/** Keyboard bindings by `KeyboardEvent.code` (layout independent): [axis, direction]. */
export const KEY_AXES = Object.freeze({
  KeyW: ["x", 1],
  KeyS: ["x", -1],
  KeyA: ["y", 1],
  KeyD: ["y", -1],
  KeyR: ["z", 1],
  KeyF: ["z", -1],
  KeyQ: ["yaw", 1],
  KeyE: ["yaw", -1],
  KeyX: ["grip", 1],
  KeyZ: ["grip", -1],
});

export const DEADMAN_KEYS = Object.freeze(["Space", "ShiftLeft", "ShiftRight"]);

/** Axis values with nothing pressed. */
export function zeroAxes() {
  return { x: 0, y: 0, z: 0, yaw: 0, grip: 0 };
}

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

/** Axes from the set of held key codes. Opposite keys cancel. */
export function axesFromKeys(held) {
  const axes = zeroAxes();
  for (const code of held) {
    const binding = KEY_AXES[code];
    if (binding) axes[binding[0]] += binding[1];
  }
  for (const k of Object.keys(axes)) axes[k] = clamp(axes[k], -1, 1);
  return axes;
}

/** A stick deflection with a dead zone, rescaled so that motion starts from 0. */
export function applyDeadzone(value, deadzone = 0.12) {
  const mag = Math.abs(value);
  if (!Number.isFinite(value) || mag <= deadzone) return 0;
  return Math.sign(value) * Math.min(1, (mag - deadzone) / (1 - deadzone));
}

/**
 * What a "standard" mapping gamepad asks for.
 *
 * Left stick: x (up = forward) and y (left = +y). Right stick: z (up) and yaw (left =
 * counter-clockwise). Right trigger closes the gripper, left trigger opens it. Either
 * shoulder button is the deadman. B (east button) is the e-stop, Y (north) takes control.
 *
 * @param {Gamepad} pad
 * @returns {{axes: object, deadman: boolean, estop: boolean, takeControl: boolean}}
 */
export function readGamepad(pad, deadzone = 0.12) {
  const axis = (i) => applyDeadzone(pad.axes[i] ?? 0, deadzone);
  const button = (i) => pad.buttons[i] ?? { pressed: false, value: 0 };
  const trigger = (i) => {
    const b = button(i);
    const v = typeof b.value === "number" ? b.value : b.pressed ? 1 : 0;
    return v > 0.05 ? v : 0;
  };
  const axes = {
    x: -axis(1),
    y: -axis(0),
    z: -axis(3),
    yaw: -axis(2),
    grip: trigger(6) - trigger(7),
  };
  return {
    axes,
    deadman: button(4).pressed || button(5).pressed,
    estop: button(1).pressed,
    takeControl: button(3).pressed,
  };
}

/** The sum of several axis sources, each axis clamped to [-1, 1]. */
export function combineAxes(...sources) {
  const out = zeroAxes();
  for (const src of sources) for (const k of Object.keys(out)) out[k] += src[k] || 0;
  for (const k of Object.keys(out)) out[k] = clamp(out[k], -1, 1);
  return out;
}

export function isIdle(axes) {
  return Object.values(axes).every((v) => v === 0);
}

/** True when no velocity axis is deflected (the gripper axis does not count). */
export function isStill(axes) {
  return axes.x === 0 && axes.y === 0 && axes.z === 0 && axes.yaw === 0;
}

/** Linear [m/s] and angular [rad/s] velocity for these axes. */
export function twistFromAxes(axes, speeds = SPEEDS) {
  return {
    linear: [axes.x * speeds.linear, axes.y * speeds.linear, axes.z * speeds.linear],
    angular: [0, 0, axes.yaw * speeds.yaw],
  };
}

/** This page's clock as integer nanoseconds, for `t_client_ns`. */
export function clientNowNs() {
  return Math.round(performance.now() * 1e6);
}

/**
 * Turns held inputs into a steady stream of `command` messages.
 *
 * While the deadman is held, or any velocity axis is deflected, one command goes out per tick
 * (SEND_RATE_HZ), with `seq` counting up from 1 after each lease grant. When that ends,
 * one zero-velocity command with `deadman: false` goes out, then nothing: the server's
 * watchdog holds the arm.
 */
export class CommandStreamer {
  /**
   * @param {(msg: object) => boolean} send  sends one message; false if it could not
   * @param {() => number} nowNs  client clock [ns]
   */
  constructor(send, nowNs = clientNowNs, speeds = SPEEDS) {
    this.send = send;
    this.nowNs = nowNs;
    this.speeds = speeds;
    this.seq = 0;
    this.gripper = null; // opening target in [0, 1]; null until the lease is granted
    this.streaming = false;
    this.sent = 0;
  }

  /** The lease was granted: start the count afresh and hold the gripper where it is. */
  grant(gripperOpening) {
    this.seq = 0;
    this.streaming = false;
    this.gripper = clamp(Number.isFinite(gripperOpening) ? gripperOpening : 1, 0, 1);
  }

  /** The lease is gone: nothing more may be sent. */
  revoke() {
    this.streaming = false;
    this.gripper = null;
  }

  /**
   * One tick.
   *
   * @param {object} axes  from combineAxes
   * @param {boolean} deadman  held right now
   * @param {boolean} enabled  we hold the lease, the e-stop is not latched, the socket is open
   * @param {number} dtS  time since the last tick [s]
   * @returns {object|null} the command sent, if any
   */
  tick(axes, deadman, enabled, dtS) {
    if (!enabled || this.gripper === null) {
      this.streaming = false;
      return null;
    }
    const active = deadman || !isStill(axes);
    if (!active && !this.streaming) return null;
    let msg;
    if (active) {
      if (deadman) this.gripper = clamp(this.gripper + axes.grip * this.speeds.gripper * dtS, 0, 1);
      const twist = twistFromAxes(deadman ? axes : zeroAxes(), this.speeds);
      msg = this._command(twist, deadman);
    } else {
      msg = this._command(twistFromAxes(zeroAxes(), this.speeds), false);
    }
    this.streaming = active;
    if (!this.send(msg)) this.streaming = false;
    else this.sent += 1;
    return msg;
  }

  _command(twist, deadman) {
    this.seq += 1;
    return {
      type: "command",
      seq: this.seq,
      mode: "ee_velocity",
      linear: twist.linear,
      angular: twist.angular,
      gripper: this.gripper,
      deadman,
      t_client_ns: this.nowNs(),
    };
  }
}

/**
 * Rumble strength for a force reading: contact force drives the strong (low-frequency)
 * motor, grasp force the weak one, each saturating at its full-scale value [N].
 */
export function rumbleFor(contactN, graspN, contactFullN = 20, graspFullN = 30) {
  return {
    strongMagnitude: clamp(contactN / contactFullN, 0, 1),
    weakMagnitude: clamp(graspN / Math.max(graspFullN, 1e-6), 0, 1),
  };
}
