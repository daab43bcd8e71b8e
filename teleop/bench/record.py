"""``teleop bench record``: recording a sim episode while a 100 Hz control loop runs.

Figures, each beside a reference from the same run:

- control-tick overrun fraction while recording, beside the same loop not recording;
- time from ``stop()`` to a durable, loadable episode, beside the 1 s target;
- encode throughput of the recorder's encoder process, beside PyAV encoding the same
  frames in a plain loop;
- frames lost between rows and MP4s (must be 0), and camera frames left unused.

Each codec (libx264, libsvtav1) is measured, which is how ``codec="auto"`` was chosen.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import tempfile
import threading
import time
from pathlib import Path

import av
import numpy as np

import robots
from robots.base import Robot
from teleop.bench.report import Figure
from teleop.recorder import EpisodeSummary, Recorder, RecorderConfig, TickSample
from teleop.recorder.video import CODECS, CodecProfile, available

log = logging.getLogger(__name__)

CONTROL_HZ = 100.0


class DriveLoop:
    """A stand-in control loop: read, command a slow sine, hand the tick to a recorder.

    Runs on its own thread on absolute deadlines, like the server's loop. The target
    swings 1.2x past each joint's half range, so the robot clamps at the peaks. A tick
    *overruns* when it ends after the next tick's deadline.

    Args:
        robot: A connected robot.
        recorder: Receives every tick (None: a loop that records nothing).
        rate_hz: Tick rate in [Hz].
    """

    def __init__(self, robot: Robot, recorder: Recorder | None, rate_hz: float = CONTROL_HZ) -> None:
        self.robot, self.recorder = robot, recorder
        self.period_ns = int(1e9 / rate_hz)
        self.ticks = 0
        self.overruns = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-control-loop", daemon=True)

    def __enter__(self) -> DriveLoop:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5.0)

    def reset_counts(self) -> None:
        """Start counting ticks and overruns afresh."""
        self.ticks = self.overruns = 0

    @property
    def overrun_fraction(self) -> float:
        """Overrun ticks / ticks since the last reset."""
        return self.overruns / self.ticks if self.ticks else 0.0

    def _target(self, t_s: float) -> np.ndarray:
        spec = self.robot.spec
        mid, half = (spec.lower + spec.upper) / 2.0, (spec.upper - spec.lower) / 2.0
        return mid + 1.2 * half * np.sin(2 * np.pi * 0.25 * t_s + np.arange(spec.dof))

    def _run(self) -> None:
        t0 = deadline = time.monotonic_ns()
        t_command: int | None = None
        while not self._stop.is_set():
            tick_ns = time.monotonic_ns()
            state = self.robot.read()
            requested = self._target((tick_ns - t0) / 1e9)
            if self.ticks % 3 == 0:  # a new command every 30 ms, as from a client
                t_command = tick_ns
            sent = self.robot.command(requested)
            late = tick_ns - deadline > self.period_ns // 2
            if self.recorder is not None:
                self.recorder.on_tick(TickSample(
                    t_ns=tick_ns, state=state, action=sent, requested=requested,
                    t_command_ns=t_command, clamped=not np.allclose(sent, requested), late=late,
                ))  # fmt: skip
            self.ticks += 1
            deadline += self.period_ns
            now = time.monotonic_ns()
            self.overruns += now > deadline
            if now < deadline:
                time.sleep((deadline - now) / 1e9)
            elif now - deadline > 10 * self.period_ns:
                deadline = now  # far behind: restart the schedule rather than burst


@dataclasses.dataclass
class _Run:
    summary: EpisodeSummary
    overruns: float
    stop_s: float
    mp4_frames: list[int]
    root: Path


def _mp4_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for p in container.demux(video=0) if p.dts is not None)


def _record(robot: Robot, workdir: Path, codec: str, seconds: float) -> _Run:
    root = workdir / codec
    config = RecorderConfig(root=root, fps=30, control_hz=CONTROL_HZ, codec=codec,
                            robot_type=robot.spec.name, station_id="bench")  # fmt: skip
    with Recorder(config, robot.spec, robot.cameras) as recorder, DriveLoop(robot, recorder) as loop:
        time.sleep(1.0)  # the encoder process is up and the loop settled
        recorder.start("bench: follow the sine", "bench")
        loop.reset_counts()
        time.sleep(seconds)
        overruns = loop.overrun_fraction
        t0 = time.perf_counter()
        summary = recorder.stop(success=True)
        stop_s = time.perf_counter() - t0
    videos = sorted((root / "videos").rglob("*.mp4"))
    return _Run(summary, overruns, stop_s, [_mp4_frames(v) for v in videos], root)


def _reference_overruns(robot: Robot, seconds: float) -> float:
    with DriveLoop(robot, None) as loop:
        time.sleep(0.5)
        loop.reset_counts()
        time.sleep(seconds)
        return loop.overrun_fraction


def _raw_encode_fps(root: Path, profile: CodecProfile, limit: int = 600) -> float:
    """PyAV encoding the recorded frames of one camera in a plain loop, in [frames/s]."""
    video = sorted((root / "videos").rglob("*.mp4"))[0]
    with av.open(str(video)) as container:
        frames = [f.to_ndarray(format="rgb24") for _, f in zip(range(limit), container.decode(video=0))]
    h, w, _ = frames[0].shape
    with av.open(str(root / "raw.mp4"), "w", format="mp4") as out:
        stream = out.add_stream(profile.encoder, rate=30, options=dict(profile.options))
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        t0 = time.perf_counter()
        for k, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = k
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
        return len(frames) / (time.perf_counter() - t0)


def _figures(codec: str, run: _Run, reference: float) -> list[Figure]:
    s, c = run.summary, run.summary.counts
    lost = sum(abs(s.length - n) for n in run.mp4_frames)
    unused = sum(c.frame_drops.values())
    repeats = sum(c.frame_repeats.values())
    raw = _raw_encode_fps(run.root, CODECS[codec])
    tag = f"[{codec}]"
    return [
        Figure("record", f"tick overruns while recording {tag}", 100 * run.overruns, "%",
               "same loop, not recording", 100 * reference),
        Figure("record", f"stop() to durable episode {tag}", run.stop_s, "s", "target", 1.0),
        Figure("record", f"encode throughput, encoder process {tag}", s.encode_fps, "frames/s",
               "raw PyAV loop, same frames", raw),
        Figure("record", f"frames lost, rows vs MP4 {tag}", float(lost), "frames", "target", 0.0),
        Figure("record", f"rows / achieved record rate {tag}", f"{s.length} / {s.record_hz:.2f}",
               "rows / Hz", "target rate", 30.0),
        Figure("record", f"achieved control rate {tag}", s.control_hz, "Hz", "target", CONTROL_HZ),
        Figure("record", f"camera frames unused / repeated {tag}", f"{unused} / {repeats}",
               "frames", "of rows x cameras", float(2 * s.length)),
    ]  # fmt: skip


def run_record_bench(seconds: float = 60.0) -> list[Figure]:
    """Record a ``seconds``-long sim episode (two 320x240 cameras at 30 fps, 100 Hz
    control) with each available codec; every figure in report order."""
    workdir = Path(tempfile.mkdtemp(prefix="teleop-bench-record-"))
    figures: list[Figure] = []
    try:
        with robots.make_robot("sim") as robot:
            for cam in robot.cameras.values():
                cam.wait_newer(-1, timeout_s=30.0)
            reference = _reference_overruns(robot, min(seconds, 30.0))
            for codec in (c for c in CODECS if available(c)):
                run = _record(robot, workdir, codec, seconds)
                figures += _figures(codec, run, reference)
            figures.append(Figure("record", "renderer", getattr(robot, "renderer", "?")))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return figures
