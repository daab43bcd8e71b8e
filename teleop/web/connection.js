// The websocket to the station: hello on open, JSON text frames, reconnect with backoff.
//
// A handshake that the server refuses (HTTP 401 for a wrong token, 403 for a foreign
// origin) reaches the page only as a close event (code 1006) before "open", the same as
// a server that is down. So a connection that closes before it opened is followed by a
// plain HTTP probe of the same URL: an HTTP answer means the server is up and refused us.

/** How the connection stands; shown in the status bar. */
export const Phase = Object.freeze({
  IDLE: "idle", // not connected, not trying (never started, or the user disconnected)
  CONNECTING: "connecting", // socket opening, or open and waiting for welcome
  READY: "ready", // welcome received
  RETRYING: "retrying", // lost; the next attempt is scheduled
  REFUSED: "refused", // the server refused the handshake; waits for the user
});

export const REFUSED_TOKEN = "connection refused: wrong or missing token?";
export const REFUSED_ORIGIN = "connection refused: this page's origin is not allowed (server --allow-origin)";

/** Delay before reconnect attempt number `attempt` (0-based), in [s]: 0.5, 1, 2, 4, 8, 10, 10 ... */
export function backoffDelayS(attempt, baseS = 0.5, maxS = 10) {
  return Math.min(maxS, baseS * 2 ** Math.max(0, attempt));
}

/** The websocket URL for a page served by the station, with the token as a query parameter. */
export function websocketUrl(loc, token) {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  const query = token ? `?token=${encodeURIComponent(token)}` : "";
  return `${scheme}//${loc.host}/ws${query}`;
}

const WELCOME_TIMEOUT_MS = 5000;

export class Connection {
  /**
   * @param {object} handlers
   * @param {(msg: object) => void} handlers.onMessage  every decoded server message
   * @param {(phase: string, text: string, detail?: object) => void} handlers.onPhase
   * @param {Location} [loc] the page location the server URL derives from
   */
  constructor({ onMessage, onPhase }, loc = window.location) {
    this.onMessage = onMessage;
    this.onPhase = onPhase;
    this.loc = loc;
    this.ws = null;
    this.phase = Phase.IDLE;
    this.attempt = 0;
    this.retryTimer = null;
    this.countdownTimer = null;
    this.welcomeTimer = null;
    this.opts = { token: "", role: "operator", name: "" };
    this.generation = 0; // ignores events of sockets that were replaced
  }

  /** Connect (or reconnect now) with these settings. */
  connect(opts) {
    this.opts = { ...this.opts, ...opts };
    this.attempt = 0;
    this._open();
  }

  /** Close on purpose; no reconnect. */
  disconnect() {
    this._clearTimers();
    this.generation += 1;
    if (this.ws) {
      this.ws.close(1000, "user disconnected");
      this.ws = null;
    }
    this._setPhase(Phase.IDLE, "not connected");
  }

  /** Send one message as JSON text; false if the socket is not open. */
  send(msg) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  /** Bytes queued in the socket and not yet sent; 0 when closed. */
  get bufferedBytes() {
    return this.ws ? this.ws.bufferedAmount : 0;
  }

  get isOpen() {
    return !!this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  _open() {
    this._clearTimers();
    this.generation += 1;
    const gen = this.generation;
    if (this.ws) this.ws.close(1000, "reconnecting");
    this._setPhase(Phase.CONNECTING, "connecting…");
    let opened = false;
    let ws;
    try {
      ws = new WebSocket(websocketUrl(this.loc, this.opts.token));
    } catch (err) {
      this._setPhase(Phase.REFUSED, `cannot connect: ${err.message}`);
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (gen !== this.generation) return;
      opened = true;
      const hello = { type: "hello", role: this.opts.role, protocol: 1 };
      if (this.opts.name) hello.name = this.opts.name;
      ws.send(JSON.stringify(hello));
      this.welcomeTimer = setTimeout(() => {
        if (gen === this.generation) ws.close(4000, "no welcome within 5 s");
      }, WELCOME_TIMEOUT_MS);
    };
    ws.onmessage = (ev) => {
      if (gen !== this.generation || typeof ev.data !== "string") return;
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return; // not ours to fix; the server only sends JSON to a JSON client
      }
      if (msg.type === "welcome") {
        clearTimeout(this.welcomeTimer);
        this.attempt = 0;
        this._setPhase(Phase.READY, "connected");
      }
      this.onMessage(msg);
    };
    ws.onclose = (ev) => {
      if (gen !== this.generation) return;
      this.ws = null;
      clearTimeout(this.welcomeTimer);
      if (opened) {
        this._scheduleRetry(closeText(ev));
      } else {
        this._probe(gen);
      }
    };
  }

  async _probe(gen) {
    // The same URL over plain HTTP: an answer proves the server is up and refused us.
    const url = websocketUrl(this.loc, this.opts.token).replace(/^ws/, "http");
    let status = null;
    try {
      const resp = await fetch(url, { cache: "no-store" });
      status = resp.status;
    } catch {
      status = null; // network error: the server is down or unreachable
    }
    if (gen !== this.generation) return;
    if (status === 401) {
      this._setPhase(Phase.REFUSED, REFUSED_TOKEN, { status });
    } else if (status === 403) {
      this._setPhase(Phase.REFUSED, REFUSED_ORIGIN, { status });
    } else if (status === null) {
      this._scheduleRetry("server unreachable");
    } else {
      // The server answers HTTP but refused the websocket: most likely the token, but a
      // server that is just starting looks the same, so keep trying.
      this._scheduleRetry(REFUSED_TOKEN);
    }
  }

  _scheduleRetry(why) {
    const delayS = backoffDelayS(this.attempt);
    this.attempt += 1;
    const until = performance.now() + delayS * 1000;
    const show = () => {
      const left = Math.max(0, Math.ceil((until - performance.now()) / 1000));
      const text = why === REFUSED_TOKEN
        ? `${REFUSED_TOKEN} (retrying in ${left} s)`
        : `disconnected, retrying in ${left} s`;
      this._setPhase(Phase.RETRYING, text, { why });
    };
    show();
    this.countdownTimer = setInterval(show, 250);
    this.retryTimer = setTimeout(() => this._open(), delayS * 1000);
  }

  _clearTimers() {
    clearTimeout(this.retryTimer);
    clearInterval(this.countdownTimer);
    clearTimeout(this.welcomeTimer);
  }

  _setPhase(phase, text, detail = {}) {
    if (phase !== Phase.RETRYING) clearInterval(this.countdownTimer);
    this.phase = phase;
    this.onPhase(phase, text, detail);
  }
}

function closeText(ev) {
  const known = {
    1000: "closed",
    1001: "the server is going away",
    1006: "the connection dropped",
    1008: "closed by the server (policy)",
    1009: "a message was too big",
    1011: "server error",
  };
  const what = known[ev.code] || `closed (${ev.code})`;
  return ev.reason ? `${what}: ${ev.reason}` : what;
}
