"""``teleop bench verify``: how fast ``teleop verify`` checks a dataset, beside real time.

A 100-episode synthetic dataset is recorded once with the real recorder from the fake
arm (two 320x240 cameras, each episode a different smooth motion), closed and signed
like the server does, and cached in the temp directory for later runs. The bench then
verifies it repeatedly for the measurement window. Figures:

- episodes verified per second, beside the rate at which they were recorded;
- video-minutes verified per second, beside real time (cameras x recorded minutes);
- the speed-up over real time, beside the 20x target;
- ``close_episode`` time per episode, beside the recorder's 1 s stop-to-durable target.

:class:`Motion` and :func:`record_scripted` also make the synthetic episodes of the
quality tests.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

import robots
from robots.base import CameraSpec, Robot, RobotSpec
from teleop.bench.report import Figure
from teleop.quality.signing import StationKey
from teleop.quality.verify import verify_dataset
from teleop.recorder import EpisodeSummary, Recorder, RecorderConfig, TickSample
from teleop.station.episode_close import close_episode

log = logging.getLogger(__name__)

CACHE_VERSION = "1"
EPISODES = 100
EPISODE_S = 1.5


@dataclasses.dataclass(frozen=True)
class Motion:
    """A smooth target trajectory: each joint a sine around a centre pose.

    Attributes:
        centre: Centre pose, [rad] (gripper opening last).
        amplitude: Per-joint amplitude, same units.
        freq_hz: Per-joint frequency, [Hz].
        phase: Per-joint phase, [rad].
    """

    centre: np.ndarray
    amplitude: np.ndarray
    freq_hz: np.ndarray
    phase: np.ndarray

    def at(self, t_s: float) -> np.ndarray:
        """The target at ``t_s`` [s] after the motion began."""
        return self.centre + self.amplitude * np.sin(2 * np.pi * self.freq_hz * t_s + self.phase)

    @classmethod
    def random(cls, spec: RobotSpec, seed: int) -> Motion:
        """A motion that keeps well inside the joint limits and keeps the arm moving."""
        rng = np.random.default_rng(seed)
        mid, half = (spec.lower + spec.upper) / 2, (spec.upper - spec.lower) / 2
        return cls(
            centre=mid + rng.uniform(-0.2, 0.2, spec.dof) * half,
            amplitude=rng.uniform(0.15, 0.35, spec.dof) * half,
            freq_hz=rng.uniform(0.25, 0.5, spec.dof),
            phase=rng.uniform(0, 2 * np.pi, spec.dof),
        )


class ScriptedDrive:
    """A control loop that follows a :class:`Motion` and feeds every tick to a recorder.

    Until :meth:`begin`, it holds the motion's first pose, so an episode can start with
    the arm already there, as an operator would. A context manager.

    Args:
        robot: A connected robot.
        recorder: Receives every tick.
        motion: What to follow.
        rate_hz: Tick rate in [Hz] (the server's control rate is 100 Hz).
    """

    def __init__(self, robot: Robot, recorder: Recorder, motion: Motion, rate_hz: float) -> None:
        self.robot, self.recorder, self.motion = robot, recorder, motion
        self.period_ns = int(1e9 / rate_hz)
        self._t0_ns: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scripted-drive", daemon=True)

    def __enter__(self) -> ScriptedDrive:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5.0)

    def begin(self) -> None:
        """Start the motion's clock now."""
        self._t0_ns = time.monotonic_ns()

    def _tick(self, now_ns: int) -> None:
        state = self.robot.read()
        t_s = 0.0 if self._t0_ns is None else (now_ns - self._t0_ns) / 1e9
        requested = self.motion.at(t_s)
        sent = self.robot.command(requested)
        sample = TickSample(
            t_ns=now_ns,
            state=state,
            action=sent,
            requested=requested,
            t_command_ns=now_ns,
            clamped=not np.allclose(sent, requested),
            late=False,
        )
        self.recorder.on_tick(sample)

    def _run(self) -> None:
        deadline = time.monotonic_ns()
        while not self._stop.is_set():
            self._tick(time.monotonic_ns())
            deadline += self.period_ns
            now = time.monotonic_ns()
            if now < deadline:
                time.sleep((deadline - now) / 1e9)
            else:
                deadline = now


def record_scripted(
    recorder: Recorder,
    robot: Robot,
    motion: Motion,
    seconds: float,
    *,
    rate_hz: float = 100.0,
    task: str = "follow the motion",
    operator: str = "bench",
) -> EpisodeSummary:
    """Record one episode of ``seconds`` [s] following ``motion`` at ``rate_hz`` [Hz]."""
    with ScriptedDrive(robot, recorder, motion, rate_hz) as drive:
        time.sleep(0.3)  # the arm settles at the motion's first pose
        recorder.start(task, operator)
        drive.begin()
        time.sleep(seconds)
        return recorder.stop(True)


def fake_robot() -> Robot:
    """The fake arm with two 320x240 cameras at 60 fps (rows take the nearest frame, so
    a camera twice the dataset's rate keeps every row's frame within 8 ms)."""
    cams = (CameraSpec("front", fps=60.0), CameraSpec("wrist", fps=60.0))
    return robots.make_robot("fake", cameras=cams)


def build_dataset(root: Path, key: StationKey, episodes: int, seconds: float) -> None:
    """Record ``episodes`` scripted episodes of ``seconds`` [s] into ``root``, each closed
    and signed with ``key`` as the server does."""
    with fake_robot() as robot:
        config = RecorderConfig(root=root, reserve_bytes=0, station_id="bench-verify")
        with Recorder(config, robot.spec, robot.cameras) as recorder:
            for seed in range(episodes):
                motion = Motion.random(robot.spec, seed)
                summary = record_scripted(recorder, robot, motion, seconds)
                close_episode(
                    root,
                    summary.episode_index,
                    key=key,
                    ledger=None,
                    contributor="bench",
                    contributor_name="bench",
                    spec=robot.spec,
                )


def cached_dataset(
    episodes: int = EPISODES, seconds: float = EPISODE_S, cache_dir: Path | None = None
) -> tuple[Path, StationKey]:
    """The synthetic dataset, built on first use (about 2 s per episode) and kept in
    ``cache_dir`` (default: the temp directory); returns its root and the key that
    signed it (kept beside it, outside the dataset)."""
    name = f"teleop-bench-verify-v{CACHE_VERSION}-{episodes}x{seconds:g}s"
    base = (cache_dir or Path(tempfile.gettempdir())) / name
    root, done = base / "recordings" / "synthetic", base / "complete.json"
    key = StationKey.load_or_create(base / "keys" / "station_key.pem")
    if not done.is_file():
        shutil.rmtree(base / "recordings", ignore_errors=True)
        log.warning("building the %d-episode verify bench dataset in %s", episodes, root)
        build_dataset(root, key, episodes, seconds)
        done.write_text(json.dumps({"episodes": episodes, "seconds": seconds}))
    return root, key


def _close_ms(root: Path, key: StationKey, n: int = 5) -> float:
    """Median ``close_episode`` time in [ms], re-closing the last ``n`` episodes."""
    with fake_robot() as robot:
        spec = robot.spec
    times = []
    total = json.loads((root / "meta/info.json").read_text())["total_episodes"]
    for index in range(max(0, total - n), total):
        t0 = time.perf_counter()
        close_episode(
            root,
            index,
            key=key,
            ledger=None,
            contributor="bench",
            contributor_name="bench",
            spec=spec,
        )
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def run_verify_bench(
    seconds: float = 10.0,
    episodes: int = EPISODES,
    episode_s: float = EPISODE_S,
    cache_dir: Path | None = None,
) -> list[Figure]:
    """Verify the cached synthetic dataset of ``episodes`` x ``episode_s`` [s] for
    ``seconds`` [s] (at least once); the figures, in report order."""
    root, key = cached_dataset(episodes, episode_s, cache_dir)
    passes: list[float] = []
    t_end = time.perf_counter() + seconds
    while not passes or time.perf_counter() < t_end:
        report = verify_dataset(root)
        passes.append(report.elapsed_s)
    elapsed = float(np.median(passes))
    n, cams = len(report.episodes), len(report.cameras)
    real_eps = n / report.episode_s
    label = f"({n} x {report.episode_s / n:.1f} s episodes, {cams} cameras, {len(passes)} passes)"
    intact = sum(e.intact for e in report.episodes)
    return [
        Figure(
            "verify",
            f"episodes verified per s {label}",
            n / elapsed,
            "episodes/s",
            "recorded per s (real time)",
            real_eps,
        ),
        Figure(
            "verify",
            "video-minutes verified per s",
            report.video_s / 60 / elapsed,
            "video-min/s",
            "real time",
            cams / 60,
        ),
        Figure(
            "verify", "speed-up over real time", report.episode_s / elapsed, "x", "target", 20.0
        ),
        Figure(
            "verify",
            "episodes intact (signatures match)",
            float(intact),
            "episodes",
            "episodes",
            float(n),
        ),
        Figure(
            "verify",
            "close_episode (checks + sign) p50",
            _close_ms(root, key),
            "ms",
            "recorder stop() to durable target",
            1000.0,
        ),
    ]
