"""The page against the default sim arm: camera views, driving, and screenshots to look at."""

from __future__ import annotations

from browserkit import (
    hold_keys,
    moved,
    screenshot,
    take_control,
    wait_connected,
    wait_for,
)


def test_sim_station_page_drives_and_screenshots(station_factory, open_page, observer_factory):
    station = station_factory(robot="")  # the default: the PyBullet sim arm
    observer = observer_factory(station)
    page, errors = open_page(station.url + "?name=pytest")
    wait_connected(page, timeout_s=30)
    page.wait_for_function(
        """() => {
            const imgs = [...document.querySelectorAll('.camera.live img')];
            return imgs.length >= 2 && imgs.every(i => i.naturalWidth > 0);
        }""",
        timeout=30000,
    )
    take_control(page)
    before = observer.fresh_q()
    hold_keys(page, ["KeyW", "KeyR"], 1.2)
    wait_for(lambda: moved(before, observer.q()) > 0.01, what="the sim arm to move")
    page.fill("#task", "pick up the red cube")
    page.wait_for_timeout(500)

    path = screenshot(page, "web-sim-1280x800.png")
    assert path.stat().st_size > 20_000
    assert errors == []
