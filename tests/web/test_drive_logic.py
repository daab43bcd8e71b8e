"""The page's pure driving logic (drive.js, connection.js), run in the browser itself."""

from __future__ import annotations

import pytest


@pytest.fixture
def page(station, open_page):
    page, errors = open_page(station.url)
    yield page
    assert errors == []


def run(page, body: str):
    """Evaluate ``body`` (an async function body) with drive.js and connection.js imported."""
    return page.evaluate(
        f"""async () => {{
            const d = await import('./drive.js');
            const c = await import('./connection.js');
            {body}
        }}"""
    )


def test_keys_map_to_axes(page):
    axes = run(
        page,
        """return [
            d.axesFromKeys(new Set(['KeyW'])),
            d.axesFromKeys(new Set(['KeyW', 'KeyS'])),
            d.axesFromKeys(new Set(['KeyA', 'KeyR', 'KeyQ', 'KeyZ'])),
            d.axesFromKeys(new Set(['KeyD', 'KeyF', 'KeyE', 'KeyX', 'Space'])),
        ];""",
    )
    assert axes[0] == {"x": 1, "y": 0, "z": 0, "yaw": 0, "grip": 0}
    assert axes[1]["x"] == 0  # opposite keys cancel
    assert axes[2] == {"x": 0, "y": 1, "z": 1, "yaw": 1, "grip": -1}
    assert axes[3] == {"x": 0, "y": -1, "z": -1, "yaw": -1, "grip": 1}


def test_twist_is_in_si_units(page):
    twist = run(page, "return d.twistFromAxes({x: 1, y: -0.5, z: 0, yaw: -1, grip: 0});")
    assert twist["linear"] == pytest.approx([0.1, -0.05, 0.0])
    assert twist["angular"] == pytest.approx([0.0, 0.0, -0.8])


def test_gamepad_mapping_deadzone_and_buttons(page):
    out = run(
        page,
        """
        const b = (v) => ({pressed: v > 0.5, value: v});
        const pad = (axes, pressed) => ({
            axes, buttons: Array.from({length: 17}, (_, i) => b(pressed[i] || 0)),
        });
        return [
            d.readGamepad(pad([0.05, -0.08, 0.1, 0.0], {})),
            d.readGamepad(pad([-1, -1, 1, -1], {5: 1, 7: 1})),
            d.readGamepad(pad([0, 0, 0, 0], {4: 1, 6: 0.5, 1: 1, 3: 1})),
        ];
        """,
    )
    rest, full, buttons = out
    assert rest["axes"] == {"x": 0, "y": 0, "z": 0, "yaw": 0, "grip": 0}
    assert rest["deadman"] is False
    # Stick up is forward, stick left is +y, right stick up is +z, right stick right is -yaw.
    assert full["axes"] == {"x": 1, "y": 1, "z": 1, "yaw": -1, "grip": -1}
    assert full["deadman"] is True
    assert buttons["deadman"] and buttons["estop"] and buttons["takeControl"]
    assert buttons["axes"]["grip"] == pytest.approx(0.5)


def test_streamer_counts_seq_from_one_and_ends_with_one_zero_command(page):
    sent = run(
        page,
        """
        const out = [];
        let t = 1000;
        const s = new d.CommandStreamer((m) => { out.push(m); return true; }, () => (t += 20e6));
        const idle = d.zeroAxes();
        const fwd = {...idle, x: 1, grip: -1};
        s.tick(fwd, true, true, 0.02);            // no lease yet: nothing
        s.grant(0.5);
        s.tick(idle, false, true, 0.02);          // at rest: nothing
        s.tick(fwd, true, true, 0.02);            // moving
        s.tick(fwd, true, true, 0.02);
        s.tick(idle, false, true, 0.02);          // released: one zero command
        s.tick(idle, false, true, 0.02);          // then nothing
        s.tick(fwd, true, false, 0.02);           // not enabled (e-stop): nothing
        s.grant(0.5);                             // a new lease: seq starts afresh
        s.tick(fwd, true, true, 0.02);
        return out;
        """,
    )
    assert [m["seq"] for m in sent] == [1, 2, 3, 1]
    assert [m["deadman"] for m in sent] == [True, True, False, True]
    first, second, last = sent[0], sent[1], sent[2]
    assert first["type"] == "command" and first["mode"] == "ee_velocity"
    assert first["linear"] == pytest.approx([0.1, 0, 0]) and first["angular"] == [0, 0, 0]
    assert second["gripper"] < first["gripper"] < 0.5  # closing while the deadman is held
    assert last["linear"] == [0, 0, 0] and last["angular"] == [0, 0, 0]
    assert all(isinstance(m["t_client_ns"], int) for m in sent)
    assert second["t_client_ns"] > first["t_client_ns"]


def test_keys_without_deadman_send_no_velocity(page):
    sent = run(
        page,
        """
        const out = [];
        const s = new d.CommandStreamer((m) => { out.push(m); return true; });
        s.grant(1);
        s.tick({...d.zeroAxes(), y: 1}, false, true, 0.02);
        return out;
        """,
    )
    assert len(sent) == 1
    assert sent[0]["deadman"] is False and sent[0]["linear"] == [0, 0, 0]


def test_backoff_and_url(page):
    out = run(
        page,
        """return {
            delays: [0, 1, 2, 3, 4, 5, 9].map((n) => c.backoffDelayS(n)),
            plain: c.websocketUrl({protocol: 'http:', host: 'h:1'}, ''),
            secure: c.websocketUrl({protocol: 'https:', host: 'h'}, 'a b&c'),
        };""",
    )
    assert out["delays"] == [0.5, 1, 2, 4, 8, 10, 10]
    assert out["plain"] == "ws://h:1/ws"
    assert out["secure"] == "wss://h/ws?token=a%20b%26c"


def test_rumble_scales_with_force(page):
    out = run(page, "return [d.rumbleFor(0, 0), d.rumbleFor(10, 15), d.rumbleFor(100, 100)];")
    assert out[0] == {"strongMagnitude": 0, "weakMagnitude": 0}
    assert out[1] == {"strongMagnitude": 0.5, "weakMagnitude": 0.5}
    assert out[2] == {"strongMagnitude": 1, "weakMagnitude": 1}
