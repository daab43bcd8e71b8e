"""``teleop bench sim``: physics rate, read()/command() latency, delivered camera fps.

The reference is bare physics stepping in the same run: the ceiling for the sim.
"""

from __future__ import annotations

import time

import numpy as np

from robots.sim.arms import arm_model
from robots.sim.physics import SimWorld
from robots.sim.robot import SimRobot
from teleop.bench.report import Figure, percentiles_us

CONTROL_HZ = 200


def _steps_per_s(seconds: float, with_state: bool) -> float:
    """Physics steps per second, bare or with the per-step state read and snapshot."""
    model = arm_model("so101")
    world = SimWorld(model, model.spec(()))
    try:
        world.reset(0)
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            world.step()
            if with_state:
                world.read_state(0)
                world.scene.snapshot()
            n += 1
        return n / (time.perf_counter() - start)
    finally:
        world.close()


def _control_loop(seconds: float, cameras: bool) -> tuple[list[Figure], str]:
    """Drive the realtime sim at CONTROL_HZ and time each read() and command()."""
    label = "2 cameras" if cameras else "no cameras"
    robot = SimRobot(cameras=None if cameras else ())
    reads: list[int] = []
    commands: list[int] = []
    with robot:
        home = robot.read().q
        for cam in robot.cameras.values():
            cam.wait_newer(-1, timeout_s=30.0)  # the render process has started
        first = {name: cam.latest() for name, cam in robot.cameras.items()}
        period = 1.0 / CONTROL_HZ
        start = time.perf_counter()
        deadline = start
        while (now := time.perf_counter()) - start < seconds:
            target = home + 0.3 * np.sin(2 * np.pi * 0.5 * (now - start))
            t0 = time.perf_counter_ns()
            robot.read()
            t1 = time.perf_counter_ns()
            robot.command(target)
            t2 = time.perf_counter_ns()
            reads.append(t1 - t0)
            commands.append(t2 - t1)
            deadline += period
            time.sleep(max(0.0, deadline - time.perf_counter()))
        elapsed = time.perf_counter() - start
        figures = []
        for name, cam in robot.cameras.items():
            last, begin = cam.latest(), first[name]
            assert last is not None and begin is not None
            fps = (last.seq - begin.seq) / elapsed
            figures.append(
                Figure("sim", f"camera '{name}' fps delivered", fps, "fps", "target", cam.spec.fps)
            )
        renderer = robot.renderer
    both = np.asarray(reads) + np.asarray(commands)
    for k, (what, samples) in enumerate(
        (("read()", reads), ("command()", commands), ("read()+command()", both))
    ):
        p50, p99, _ = percentiles_us(samples)
        figures.insert(
            k,
            Figure(
                "sim",
                f"{what} p50 / p99, {label}",
                f"{p50:.1f} / {p99:.1f}",
                "µs",
                "target p99 (read+command)",
                1000.0,
            ),
        )
    return figures, renderer


def run_sim_bench(seconds: float = 10.0) -> list[Figure]:
    """Every sim figure, in report order."""
    bare = _steps_per_s(min(seconds, 3.0), with_state=False)
    full = _steps_per_s(min(seconds, 3.0), with_state=True)
    figures = [
        Figure(
            "sim",
            "physics steps/s (step + state + snapshot)",
            full,
            "steps/s",
            "bare stepping",
            bare,
        ),
    ]
    quiet, _ = _control_loop(seconds, cameras=False)
    loaded, renderer = _control_loop(seconds, cameras=True)
    figures += quiet + loaded
    figures.append(Figure("sim", "renderer", renderer))
    return figures
