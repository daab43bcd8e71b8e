"""Driving from the page: keyboard, on-screen deadman, gamepad; the e-stop stops it all."""

from __future__ import annotations

import time

from browserkit import (
    displayed_q,
    hold_keys,
    moved,
    take_control,
    wait_connected,
    wait_for,
)
from timing import MS

# Enough motion to be sure the arm was driven: at 0.1 m/s for a second the end effector
# moves ~10 cm, which is tenths of a radian at the joints.
MOVED_RAD = 0.01
STILL_RAD = 1e-3


def test_deadman_and_key_move_the_arm(station, open_page, observer_factory):
    observer = observer_factory(station)
    page, errors = open_page(station.url)
    take_control(page)
    wait_for(lambda: page.inner_text("#lease-status") == "you have control")

    before_obs, before_ui = observer.fresh_q(), displayed_q(page)
    hold_keys(page, ["KeyW"], 1.0)
    wait_for(lambda: moved(before_obs, observer.q()) > MOVED_RAD, what="the arm to move")
    wait_for(lambda: moved(before_ui, displayed_q(page)) > MOVED_RAD, what="the page to show it")

    # The command->state round trip is measured once a state echoes our t_client_ns.
    wait_for(lambda: page.inner_text("#rtt").endswith("ms"), what="an RTT figure")
    rtt_ms = float(page.inner_text("#rtt").split()[0])
    assert 0 < rtt_ms < 1000

    # Let go: a last deadman-false command, then nothing. The arm stays where it is.
    time.sleep(400 * MS)
    settled = observer.fresh_q()
    time.sleep(600 * MS)
    assert moved(settled, observer.fresh_q()) < STILL_RAD
    sent = page.evaluate("() => window.teleop.streamer.sent")
    time.sleep(300 * MS)
    assert page.evaluate("() => window.teleop.streamer.sent") == sent, "still sending at rest"
    assert errors == []


def test_keys_without_the_deadman_do_not_move(station, open_page, observer_factory):
    observer = observer_factory(station)
    page, _ = open_page(station.url)
    take_control(page)
    before = observer.fresh_q()
    page.keyboard.down("KeyW")
    time.sleep(0.8)
    page.keyboard.up("KeyW")
    assert moved(before, observer.fresh_q()) < STILL_RAD


def test_on_screen_deadman_button_moves_with_a_key(station, open_page, observer_factory):
    observer = observer_factory(station)
    page, errors = open_page(station.url)
    take_control(page)
    before = observer.fresh_q()

    box = page.locator("#deadman-btn").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.keyboard.down("KeyW")
    time.sleep(1.0)
    page.keyboard.up("KeyW")
    page.mouse.up()
    wait_for(lambda: moved(before, observer.q()) > MOVED_RAD, what="the arm to move")
    assert errors == []


def test_gamepad_drives_and_rumbles_with_force(station, open_page, observer_factory):
    observer = observer_factory(station)
    page, errors = open_page(station.url)
    # A standard-mapping pad that the test moves through window.__pad; rumbles are kept.
    page.add_init_script(
        """
        window.__rumbles = [];
        window.__pad = {
            id: 'test pad (STANDARD GAMEPAD)', index: 0, connected: true, mapping: 'standard',
            timestamp: 0, axes: [0, 0, 0, 0],
            buttons: Array.from({length: 17}, () => ({pressed: false, touched: false, value: 0})),
            vibrationActuator: {
                type: 'dual-rumble',
                playEffect(kind, params) {
                    window.__rumbles.push([kind, params]);
                    return Promise.resolve('complete');
                },
            },
        };
        navigator.getGamepads = () => [window.__pad, null, null, null];
        """
    )
    page.reload()
    wait_connected(page)
    wait_for(lambda: "test pad" in page.inner_text("#gamepad-status"), what="the pad shown")
    page.evaluate("() => { window.__pad.buttons[3] = {pressed: true, touched: true, value: 1}; }")
    page.wait_for_function("() => document.body.dataset.control === 'true'")  # Y takes control
    page.evaluate("() => { window.__pad.buttons[3] = {pressed: false, touched: false, value: 0}; }")

    before = observer.fresh_q()
    # Left stick forward with the right shoulder (deadman) held.
    page.evaluate(
        """() => {
            window.__pad.axes = [0, -1, 0, 0];
            window.__pad.buttons[5] = {pressed: true, touched: true, value: 1};
        }"""
    )
    wait_for(lambda: moved(before, observer.q()) > MOVED_RAD, what="the arm to move")

    # Stick centred, right trigger: close the gripper until it grasps (the fake arm
    # reports a grasp force once closed) and the pad rumbles.
    page.evaluate(
        """() => {
            window.__pad.axes = [0, 0, 0, 0];
            window.__pad.buttons[7] = {pressed: true, touched: true, value: 1};
        }"""
    )
    wait_for(lambda: observer.q()[-1] < 0.2, timeout_s=10, what="the gripper to close")
    wait_for(lambda: observer.latest().get("grasp_force", 0) > 0, what="a grasp force")
    rumble = wait_for(
        lambda: page.evaluate("() => window.__rumbles.at(-1) || null"), what="a rumble"
    )
    kind, params = rumble
    assert kind == "dual-rumble"
    assert 0 < max(params["strongMagnitude"], params["weakMagnitude"]) <= 1

    # Letting go of the deadman stops the stream.
    page.evaluate("() => { window.__pad.buttons[5] = {pressed: false, touched: false, value: 0}; }")
    time.sleep(300 * MS)
    sent = page.evaluate("() => window.teleop.streamer.sent")
    time.sleep(300 * MS)
    assert page.evaluate("() => window.teleop.streamer.sent") == sent
    assert errors == []


def test_estop_button_and_escape_stop_motion_until_reset(station, open_page, observer_factory):
    observer = observer_factory(station)
    page, errors = open_page(station.url)
    take_control(page)

    # The button latches the e-stop: the page says so and keys move nothing.
    page.click("#estop-btn")
    page.wait_for_selector("#banner:not([hidden])")
    wait_for(lambda: observer.latest()["estop"] is True, what="the e-stop latched")
    assert page.locator("#deadman-btn").is_disabled()
    before = observer.fresh_q()
    hold_keys(page, ["KeyW"], 0.8)
    assert moved(before, observer.fresh_q()) < STILL_RAD

    # Reset: driving works again.
    page.click("#reset-btn")
    page.wait_for_selector("#banner", state="hidden")
    wait_for(lambda: observer.latest()["estop"] is False, what="the e-stop reset")
    before = observer.fresh_q()
    hold_keys(page, ["KeyS"], 0.8)
    wait_for(lambda: moved(before, observer.q()) > MOVED_RAD, what="the arm to move again")

    # Escape, in the middle of a motion, even with the focus in a text field.
    page.keyboard.down("Space")
    page.keyboard.down("KeyW")
    time.sleep(0.3)
    page.keyboard.press("Escape")
    wait_for(lambda: observer.latest()["estop"] is True, what="Escape to latch the e-stop")
    time.sleep(200 * MS)
    stopped = observer.fresh_q()
    time.sleep(600 * MS)
    assert moved(stopped, observer.fresh_q()) < STILL_RAD
    page.keyboard.up("KeyW")
    page.keyboard.up("Space")

    page.click("#reset-btn")
    wait_for(lambda: observer.latest()["estop"] is False, what="the e-stop reset")
    page.focus("#task")
    page.keyboard.press("Escape")
    wait_for(lambda: observer.latest()["estop"] is True, what="Escape from a text field")
    assert errors == []
