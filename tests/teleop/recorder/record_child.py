"""Run by the kill-and-recover test: record one episode, start another, report its rows.

Usage: python record_child.py DATASET_DIR. Prints ``STOPPED`` after the first episode,
then ``ROWS <n> <t_ns>`` every 0.05 s until it is killed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def main() -> None:
    import robots
    from teleop.bench.record import DriveLoop
    from teleop.recorder import Recorder, RecorderConfig

    config = RecorderConfig(root=Path(sys.argv[1]), reserve_bytes=0)
    with (
        robots.make_robot("fake") as robot,
        Recorder(config, robot.spec, robot.cameras) as recorder,
        DriveLoop(robot, recorder),
    ):
        recorder.start("first, stopped cleanly", "alice")
        time.sleep(1.0)
        recorder.stop(True)
        print("STOPPED", flush=True)
        recorder.start("second, killed", "alice")
        while True:
            print(f"ROWS {recorder.status.frames} {time.monotonic_ns()}", flush=True)
            time.sleep(0.05)


if __name__ == "__main__":
    main()
