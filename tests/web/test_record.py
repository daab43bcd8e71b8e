"""Recording from the page: task, start, stop with success, discard; episodes land on disk."""

from __future__ import annotations

from browserkit import hold_keys, take_control, wait_for


def test_record_an_episode_and_find_it_in_the_dataset(station, open_page):
    page, errors = open_page(station.url)
    take_control(page)
    before = station.total_episodes()

    page.fill("#task", "push the cube to the left")
    page.click("#rec-start")
    page.wait_for_selector("#rec-status[data-active=true]")
    wait_for(lambda: "REC" in page.inner_text("#rec-status"), what="the recording clock")
    assert page.locator("#rec-start").is_disabled()
    hold_keys(page, ["KeyA"], 1.0)
    page.wait_for_timeout(300)
    page.click("#rec-stop-ok")
    page.wait_for_selector("#rec-status[data-active=false]")
    wait_for(lambda: page.inner_text("#episodes") == "1", what="the episode count")
    assert "episode saved (success)" in page.inner_text("#log")

    wait_for(
        lambda: station.total_episodes() == before + 1,
        timeout_s=60,
        what=f"total_episodes in {station.record_dir / station.dataset}/meta/info.json",
    )
    assert errors == []


def test_discarded_episode_is_not_saved(station, open_page):
    page, errors = open_page(station.url)
    take_control(page)
    before = station.total_episodes()

    page.fill("#task", "wave")
    page.click("#rec-start")
    page.wait_for_selector("#rec-status[data-active=true]")
    page.wait_for_timeout(500)
    page.click("#rec-discard")
    page.wait_for_selector("#rec-status[data-active=false]")
    assert "episode discarded" in page.inner_text("#log")
    assert page.inner_text("#episodes") == "0"
    page.wait_for_timeout(1000)
    assert station.total_episodes() == before
    assert errors == []


def test_record_needs_a_task(station, open_page, observer_factory):
    observer = observer_factory(station)
    page, errors = open_page(station.url)
    take_control(page)
    page.click("#rec-start")
    wait_for(lambda: "describe the task first" in page.inner_text("#log"), what="the hint")
    assert page.evaluate("() => document.activeElement.id") == "task"
    page.wait_for_timeout(500)
    assert observer.latest()["recording"]["active"] is False
    assert errors == []


def test_refused_request_shows_the_servers_error(station, open_page):
    # Two operators: the second asks for control while the first holds it.
    first, _ = open_page(station.url + "?name=alice")
    take_control(first)
    second, errors = open_page(station.url + "?name=bob")
    wait_for(lambda: "alice" in second.inner_text("#lease-status"), what="alice's lease shown")
    second.click("#lease-btn")
    second.wait_for_selector("#log [data-code=lease_held]")
    assert "alice" in second.inner_text("#log [data-code=lease_held]")
    assert errors == []
