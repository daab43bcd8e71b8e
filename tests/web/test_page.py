"""The page loads from the station, connects, shows everything, and handles bad connections."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

from browserkit import (
    REPO,
    displayed_q,
    moved,
    screenshot,
    take_control,
    wait_connected,
    wait_for,
    wait_status,
)

WEB = REPO / "teleop" / "web"


def test_static_files_are_served_with_their_types(station):
    kinds = {".html": "text/html", ".js": "javascript", ".css": "text/css"}
    files = sorted(p.name for p in WEB.iterdir() if p.suffix in kinds)
    assert {"index.html", "app.js", "style.css"} <= set(files)
    for name in ["", *files]:
        with urllib.request.urlopen(station.url + name, timeout=5) as resp:
            kind = kinds[Path(name or "index.html").suffix]
            assert resp.status == 200, name
            assert kind in resp.headers["Content-Type"], (name, resp.headers["Content-Type"])


def test_every_module_the_page_imports_ships_in_the_package():
    # No CDN, no build step: each import names a file next to it.
    for script in WEB.glob("*.js"):
        for target in re.findall(r'from "([^"]+)"', script.read_text()):
            assert target.startswith("./"), (script.name, target)
            assert (WEB / target[2:]).is_file(), (script.name, target)


def test_page_connects_and_shows_cameras_joints_and_loop(station, open_page):
    page, errors = open_page(station.url)
    requests: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    page.reload()
    wait_connected(page)

    # Every camera of the welcome shows live frames at their size.
    page.wait_for_function(
        """() => {
            const imgs = [...document.querySelectorAll('.camera.live img')];
            const sized = (i) => i.naturalWidth === 320 && i.naturalHeight === 240;
            return imgs.length === 2 && imgs.every(sized);
        }""",
        timeout=10000,
    )
    names = page.eval_on_selector_all(".camera", "cs => cs.map(c => c.dataset.camera)")
    assert names == ["front", "wrist"]

    # One bar per joint, each with its current position; the gripper last.
    joints = page.eval_on_selector_all(".joint", "rows => rows.map(r => r.dataset.joint)")
    assert joints[-1] == "gripper" and len(joints) == 6
    wait_for(lambda: page.eval_on_selector_all(".joint", "r => r.every(x => x.dataset.q)"))
    assert len(displayed_q(page)) == 6

    # Loop statistics, ping time and the safety counters come from the server.
    wait_for(lambda: page.inner_text("#loop-rate").endswith("Hz"), what="the loop rate")
    wait_for(lambda: page.inner_text("#ping").endswith("ms"), what="a ping round trip")
    assert page.locator("#safety .counter").count() > 0
    assert "you have control" not in page.inner_text("#lease-status")

    # Nothing came from anywhere but the station (no CDN).
    foreign = [
        u for u in requests if not u.startswith((station.url, "data:", "blob:", station.ws_url))
    ]
    assert foreign == []
    assert errors == []


def test_blob_urls_of_old_frames_are_revoked(station, open_page):
    page, errors = open_page(station.url)
    wait_connected(page)
    page.wait_for_function("() => document.querySelectorAll('.camera.live').length === 2")
    img = ".camera[data-camera=front] img"
    first = page.eval_on_selector(img, "i => i.src")
    # The old URL is revoked once the next image has loaded; two changes later it surely is.
    second = page.wait_for_function(
        "([sel, old]) => { const s = document.querySelector(sel).src; return s !== old && s; }",
        arg=[img, first],
    ).json_value()
    page.wait_for_function(
        "([sel, old]) => document.querySelector(sel).src !== old", arg=[img, second]
    )
    assert errors == []
    # A revoked blob URL no longer loads (and Chromium logs that it did not).
    still_loads = page.evaluate(
        """async (url) => {
            try { await fetch(url); return true; } catch { return false; }
        }""",
        first,
    )
    assert still_loads is False


def test_wrong_or_missing_token_says_so_and_the_right_one_connects(station_factory, open_page):
    station = station_factory("--token", "s3cret")

    page, _ = open_page(station.url)
    status = wait_status(page, "wrong or missing token")
    assert "connection refused" in status
    assert "wrong or missing token" in page.inner_text("#log")

    page.fill("#token", "wrong")
    page.click("#connect-btn")
    wait_status(page, "wrong or missing token")

    page.fill("#token", "s3cret")
    page.click("#connect-btn")
    wait_connected(page)
    assert page.inner_text("#conn-status") == "connected"


def test_token_from_the_url_is_used(station_factory, open_page):
    station = station_factory("--token", "s3cret")
    page, errors = open_page(station.url + "?token=s3cret")
    wait_connected(page)
    assert errors == []


def test_a_lost_server_shows_retrying_and_the_page_reconnects(station_factory, open_page):
    station = station_factory()
    page, _ = open_page(station.url)
    wait_connected(page)
    port = station.port

    station.stop()
    wait_status(page, r"disconnected, retrying in \d+ s")
    assert page.locator("#lease-btn").is_disabled()

    station_factory(port=port)
    wait_connected(page, timeout_s=30)
    page.wait_for_function("() => document.querySelectorAll('.camera.live').length === 2")


def test_observer_sees_everything_but_cannot_drive(station, open_page, observer_factory):
    observer = observer_factory(station)
    operator, _ = open_page(station.url + "?name=alice")
    take_control(operator)

    page, errors = open_page(station.url + "?role=observer&name=bob")
    wait_connected(page)
    page.wait_for_function("() => document.querySelectorAll('.camera.live').length === 2")
    wait_for(lambda: "alice has control" in page.inner_text("#lease-status"), what="lease shown")
    for control in ("#lease-btn", "#deadman-btn", "#rec-start", "#reset-btn"):
        assert page.locator(control).is_disabled(), control
    assert page.locator("#task").is_disabled()

    # The observer's keys do not move the arm...
    before = observer.fresh_q()
    page.keyboard.down("Space")
    page.keyboard.down("KeyW")
    page.wait_for_timeout(600)
    page.keyboard.up("KeyW")
    page.keyboard.up("Space")
    assert moved(before, observer.fresh_q()) < 1e-3

    # ...but an observer may stop it: anyone may trigger the e-stop.
    page.click("#estop-btn")
    wait_for(lambda: observer.latest()["estop"] is True, what="the e-stop latched")
    operator.wait_for_selector("#banner:not([hidden])")
    assert errors == []


def test_phone_layout_fits_the_width(station, open_page):
    page, errors = open_page(
        station.url, viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True
    )
    wait_connected(page)
    page.wait_for_function("() => document.querySelectorAll('.camera.live').length === 2")
    take_control(page)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390
    box = page.locator("#deadman-btn").bounding_box()
    assert box is not None and box["width"] >= 200 and box["height"] >= 80
    page.evaluate("() => window.scrollTo(0, 0)")
    screenshot(page, "web-phone-390x844.png")
    assert errors == []
