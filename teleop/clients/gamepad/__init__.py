"""``teleop gamepad``: drive a teleop server's arm with a locally attached gamepad.

Default bindings (Xbox names / PlayStation names)::

    hold LB / L1              deadman: the arm moves only while it is held
    left stick  up/down       x: forward/back          (base frame, m/s)
    left stick  left/right    y: left/right
    right stick up/down       z: up/down
    right stick left/right    yaw: turn left/right     (rad/s)
    hold RB / R1              slow: fine motion (``feel.slow_scale``)
    RT / R2                   gripper: press to close, release to open
    A / Cross                 record start (task text from ``--task``)
    B / Circle                record stop, success
    X / Square                record stop, failure
    Y / Triangle              record discard
    Back/View / Share/Create  e-stop (latches the station)
    LB + Start / L1 + Options e-stop reset (the deadman must be held)

A ``--mapping`` TOML file overrides any of it (see :mod:`.mapfile`). Contact force
from the server's state (``|ee_force|`` or ``grasp_force``) rumbles the pad (see
:mod:`.feedback`).

Modules: :mod:`.mapping` (pure: axes and buttons to an intent), :mod:`.layouts` (the
built-in layouts, as data), :mod:`.mapfile` (the TOML file), :mod:`.gate` (pure: when
to send), :mod:`.feedback` (pure: force to rumble), :mod:`.device` (pygame/SDL),
:mod:`.app` (the asyncio loop and reconnection), :mod:`.config` (its settings),
:mod:`.status` (the status line).
Importing this package does not import pygame; :mod:`.device` and :mod:`.app` do.
"""
