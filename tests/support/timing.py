"""One knob for the suite's waits on a slow machine, as websockets' ``MS``.

``TELEOP_TESTS_TIMEOUT_FACTOR`` (default 1) multiplies every wait for something to
happen (a sleep before checking that the arm held, a deadline for a condition) and the
timeouts of the helpers in ``tests/support``: on a slow or loaded machine, run e.g.
``TELEOP_TESTS_TIMEOUT_FACTOR=4 python -m pytest`` instead of editing tests. A longer
wait never weakens a test here.

Sleeps that are the behaviour under test are not scaled: a command every 10 ms (to keep
the watchdog fed, or to stay under the flood limit), a key held down for a distance, an
episode recorded for a length, a stall longer than the watchdog.
"""

from __future__ import annotations

import os

SCALE = float(os.environ.get("TELEOP_TESTS_TIMEOUT_FACTOR", "1"))
"""How much longer than written every wait and timeout is."""
MS = 0.001 * SCALE
"""One millisecond of waiting, in [s]: ``time.sleep(300 * MS)``."""
