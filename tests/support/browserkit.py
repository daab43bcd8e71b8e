"""Helpers for the browser tests: the station subprocess, page actions, a msgpack observer.

``conftest.py`` turns these into fixtures.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import msgpack
import pytest
from timing import SCALE

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = os.environ.get("TELEOP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
VIEWPORT = {"width": 1280, "height": 800}
# The command that starts a station; TELEOP_WEB_SERVE replaces it (e.g. another build).
SERVE = shlex.split(os.environ.get("TELEOP_WEB_SERVE", "")) or [
    sys.executable,
    "-m",
    "teleop.cli",
    "serve",
]

T = TypeVar("T")


def missing(what: str) -> None:
    """Fail, naming the missing browser part: a skipped browser test checks nothing."""
    pytest.fail(f"{what}; .ci/run shows how to install it")


def wait_for(
    probe: Callable[[], T], timeout_s: float = 10.0, what: str = "condition", every_s: float = 0.05
) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` after the timeout."""
    deadline = time.monotonic() + timeout_s * SCALE
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every_s)
    pytest.fail(f"timed out after {timeout_s:g} s waiting for {what} (last: {last!r})")


# --- the station ------------------------------------------------------------------------------


class Station:
    """One `teleop serve` subprocess; its URL comes from the line it prints."""

    def __init__(self, *args: str, record_dir: Path, dataset: str = "webtest") -> None:
        self.args = list(args)
        self.record_dir = record_dir
        self.dataset = dataset
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.port = 0
        self.output: list[str] = []

    def start(self, port: int = 0, timeout_s: float = 60.0) -> Station:
        cmd = [
            *SERVE,
            "--port",
            str(port),
            "--record-dir",
            str(self.record_dir),
            "--dataset",
            self.dataset,
            *self.args,
        ]
        self.output = []
        self.proc = subprocess.Popen(
            cmd,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        found = threading.Event()
        proc = self.proc

        def pump() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                self.output.append(line.rstrip())
                m = re.search(r"serving on (http://\S+?)/?\s*$", line)
                if m and not found.is_set():
                    self.url = m.group(1) + "/"
                    found.set()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + timeout_s
        while not found.wait(0.1):
            if proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"`{' '.join(cmd)}` did not start:\n" + "\n".join(self.output[-40:]))
        self.port = int(self.url.rstrip("/").rsplit(":", 1)[1])
        return self

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "ws"

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def total_episodes(self) -> int:
        info = self.record_dir / self.dataset / "meta" / "info.json"
        if not info.exists():
            return 0
        return int(json.loads(info.read_text()).get("total_episodes", 0))


# --- the browser ------------------------------------------------------------------------------


class PageErrors(list[str]):
    """Uncaught exceptions and console errors of one page."""


def wait_connected(page: Page, timeout_s: float = 15.0) -> None:
    page.wait_for_function(
        "() => document.body.dataset.phase === 'ready'", timeout=timeout_s * 1000
    )


def wait_status(page: Page, pattern: str, timeout_s: float = 10.0) -> str:
    """Wait until the connection status matches the regular expression ``pattern``."""
    page.wait_for_function(
        "(p) => new RegExp(p).test(document.getElementById('conn-status').textContent)",
        arg=pattern,
        timeout=timeout_s * 1000,
    )
    return page.inner_text("#conn-status")


def take_control(page: Page) -> None:
    wait_connected(page)
    page.click("#lease-btn")
    page.wait_for_function("() => document.body.dataset.control === 'true'", timeout=5000)


def displayed_q(page: Page) -> list[float]:
    """The joint positions the page shows (from the joint bars' data-q)."""
    values = page.eval_on_selector_all(".joint", "rows => rows.map(r => r.dataset.q ?? null)")
    assert all(v is not None for v in values), f"joint bars without a value: {values}"
    return [float(v) for v in values]


def hold_keys(page: Page, keys: list[str], seconds: float) -> None:
    """Hold the deadman (Space) and ``keys`` for ``seconds``, then let go of all of them."""
    page.keyboard.down("Space")
    for key in keys:
        page.keyboard.down(key)
    time.sleep(seconds)
    for key in reversed(keys):
        page.keyboard.up(key)
    page.keyboard.up("Space")


def screenshot(page: Page, name: str, full_page: bool = False) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=full_page)
    return path


# --- a Python observer over msgpack -----------------------------------------------------------


class Observer:
    """A second client, connected as an observer, that keeps the newest `state`."""

    def __init__(self, ws_url: str, token: str | None = None) -> None:
        from websockets.sync.client import connect

        headers = {"Authorization": f"Bearer {token}"} if token else None
        self._stack = contextlib.ExitStack()
        self.ws = self._stack.enter_context(
            connect(ws_url, additional_headers=headers, compression=None, max_size=None)
        )
        self.ws.send(msgpack.packb({"type": "hello", "role": "observer", "name": "pytest"}))
        self.state: dict[str, Any] | None = None
        self.messages: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        with contextlib.suppress(Exception):
            for data in self.ws:
                msg = msgpack.unpackb(data) if isinstance(data, bytes) else None
                if not isinstance(msg, dict):
                    continue
                with self._lock:
                    if msg.get("type") == "state":
                        self.state = msg
                    elif msg.get("type") != "frame":
                        self.messages.append(msg)

    def latest(self, timeout_s: float = 5.0) -> dict[str, Any]:
        return wait_for(lambda: self.state, timeout_s, "a state message")

    def q(self) -> list[float]:
        return [float(v) for v in self.latest()["q"]]

    def fresh_q(self) -> list[float]:
        """Joint positions from a state that arrived after this call."""
        old = self.latest()
        wait_for(lambda: self.latest()["t_ns"] > old["t_ns"], 5, "a new state")
        return self.q()

    def close(self) -> None:
        self._stack.close()
        self._thread.join(timeout=5)


def moved(a: list[float], b: list[float]) -> float:
    """Largest change of any arm joint (the gripper, last, excluded) [rad]."""
    return max(abs(x - y) for x, y in zip(a[:-1], b[:-1], strict=True))
