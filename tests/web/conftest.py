"""Browser tests of the operator page: a real `teleop serve`, a real headless Chromium.

Chromium is Debian's (`apt-get install chromium`), driven by Playwright for Python
through ``executable_path`` (Playwright's own browser download does not work here). When
either is missing the tests fail with the install step.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from browserkit import (
    CHROMIUM,
    CHROMIUM_ARGS,
    VIEWPORT,
    Observer,
    PageErrors,
    Station,
    missing,
)

EXPECTED_CONSOLE = re.compile(r"WebSocket|Failed to load resource: .* status of (401|403|426)")


@pytest.fixture
def station_factory(tmp_path: Path) -> Iterator[Callable[..., Station]]:
    """Starts stations (``--robot fake`` unless told otherwise); stops them all at the end."""
    started: list[Station] = []

    def make(*args: str, robot: str = "fake", port: int = 0) -> Station:
        extra = ["--robot", robot] if robot else []
        station = Station(*extra, *args, record_dir=tmp_path / "recordings")
        started.append(station)
        return station.start(port=port)

    yield make
    for station in started:
        station.stop()


@pytest.fixture
def station(station_factory: Callable[..., Station]) -> Station:
    """A fake-arm station without a token."""
    return station_factory()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("Playwright for Python is not installed (pip install playwright)")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        missing(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def open_page(browser: Any) -> Iterator[Callable[..., tuple[Any, PageErrors]]]:
    """Opens the operator page at a URL in a fresh browser context (1280x800 by default)."""
    contexts = []

    def make(
        url: str, viewport: dict[str, int] | None = None, **context_args: Any
    ) -> tuple[Any, PageErrors]:
        context = browser.new_context(viewport=viewport or VIEWPORT, **context_args)
        contexts.append(context)
        page = context.new_page()
        errors = PageErrors()
        page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))

        def on_console(msg: Any) -> None:
            # Chromium logs a refused or dropped websocket, and the answer to the page's
            # probe of /ws (401, 403 or 426), itself; the page handles those.
            if msg.type == "error" and not EXPECTED_CONSOLE.search(msg.text):
                errors.append(f"console: {msg.text}")

        page.on("console", on_console)
        page.goto(url)
        return page, errors

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def observer_factory() -> Iterator[Callable[..., Observer]]:
    """Python observers (msgpack) of a station; closed at the end."""
    made: list[Observer] = []

    def make(station: Station, token: str | None = None) -> Observer:
        obs = Observer(station.ws_url, token)
        made.append(obs)
        obs.latest(10)
        return obs

    yield make
    for obs in made:
        obs.close()
