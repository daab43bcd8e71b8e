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
import os
import shutil
import tempfile
import threading
import time
from itertools import islice
from pathlib import Path

import av
import numpy as np

import robots
from robots.base import Robot
from teleop.bench.report import Figure, percentiles_us
from teleop.recorder import EpisodeSummary, Recorder, RecorderConfig, TickSample
from teleop.recorder.video import CODECS, CodecProfile, available

log = logging.getLogger(__name__)

CONTROL_HZ = 100.0


class DriveLoop:
    """A stand-in control loop: read, command a slow sine, hand the tick to a recorder.

    Runs on its own thread on absolute deadlines, like the server's loop. The target
    swings the first joint 1.2x past its half range, so the robot clamps at the peaks. A tick
    *overruns* when it ends after the next tick's deadline.

    Args:
        robot: A connected robot.
        recorder: Receives every tick (None: a loop that records nothing).
        rate_hz: Tick rate in [Hz].
    """

    def __init__(
        self, robot: Robot, recorder: Recorder | None, rate_hz: float = CONTROL_HZ
    ) -> None:
        self.robot, self.recorder = robot, recorder
        self.period_ns = int(1e9 / rate_hz)
        self.ticks = 0
        self.overruns = 0
        self.on_tick_ns: list[int] = []
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
        self.on_tick_ns = []

    @property
    def overrun_fraction(self) -> float:
        """Overrun ticks / ticks since the last reset."""
        return self.overruns / self.ticks if self.ticks else 0.0

    def _target(self, t_s: float) -> np.ndarray:
        spec = self.robot.spec
        mid, half = (spec.lower + spec.upper) / 2.0, (spec.upper - spec.lower) / 2.0
        gain = np.full(spec.dof, 0.8)
        gain[0] = 1.2  # only the first joint overshoots its limits (clamped at the peaks)
        phase = np.arange(spec.dof, dtype=np.float64)
        phase[0] = np.pi / 2  # ... and starts at its peak: clamped in the first 0.37 s
        return mid + gain * half * np.sin(2 * np.pi * 0.25 * t_s + phase)

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
                sample = TickSample(
                    t_ns=tick_ns, state=state, action=sent, requested=requested,
                    t_command_ns=t_command, clamped=not np.allclose(sent, requested), late=late,
                )  # fmt: skip
                t_call = time.perf_counter_ns()
                self.recorder.on_tick(sample)
                self.on_tick_ns.append(time.perf_counter_ns() - t_call)
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
    on_tick_us: tuple[float, float, float]
    reference: float
    stop_s: float
    mp4_frames: list[int]
    camera_fps: float
    root: Path


def _mp4_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for p in container.demux(video=0) if p.dts is not None)


def _camera_seqs(robot: Robot) -> list[int]:
    frames = [cam.latest() for cam in robot.cameras.values()]
    return [f.seq if f is not None else 0 for f in frames]


def _reference_overruns(robot: Robot, seconds: float) -> float:
    with DriveLoop(robot, None) as loop:
        time.sleep(0.5)
        loop.reset_counts()
        time.sleep(seconds)
        return loop.overrun_fraction


def _record(robot: Robot, workdir: Path, codec: str, seconds: float) -> _Run:
    reference = _reference_overruns(robot, min(seconds, 20.0))
    root = workdir / codec
    config = RecorderConfig(root=root, fps=30, control_hz=CONTROL_HZ, codec=codec,
                            robot_type=robot.spec.name, station_id="bench")  # fmt: skip
    with (
        Recorder(config, robot.spec, robot.cameras) as recorder,
        DriveLoop(robot, recorder) as loop,
    ):
        time.sleep(1.0)  # the encoder process is up and the loop settled
        recorder.start("bench: follow the sine", "bench")
        loop.reset_counts()
        seq0, t0 = _camera_seqs(robot), time.perf_counter()
        time.sleep(seconds)
        overruns, on_tick_us = loop.overrun_fraction, percentiles_us(loop.on_tick_ns)
        seq1, t1 = _camera_seqs(robot), time.perf_counter()
        summary = recorder.stop(success=True)
        stop_s = time.perf_counter() - t1
    camera_fps = float(np.mean(np.subtract(seq1, seq0))) / (t1 - t0)
    videos = sorted((root / "videos").rglob("*.mp4"))
    frames = [_mp4_frames(v) for v in videos]
    return _Run(summary, overruns, on_tick_us, reference, stop_s, frames, camera_fps, root)


def _raw_encode_fps(root: Path, profile: CodecProfile, limit: int = 900) -> float:
    """PyAV encoding the recorded frames of one camera in a plain loop, frames per
    CPU-second of this process (run with the sim stopped)."""
    os.environ.setdefault("SVT_LOG", "1")  # keep SVT-AV1's banner off the report
    video = sorted((root / "videos").rglob("*.mp4"))[0]
    with av.open(str(video)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in islice(container.decode(video=0), limit)]
    h, w, _ = frames[0].shape
    with av.open(str(root / "raw.mp4"), "w", format="mp4") as out:
        stream = out.add_stream(profile.encoder, rate=30, options=dict(profile.options))
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        cpu0 = time.process_time()
        for k, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = k
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
        return len(frames) / (time.process_time() - cpu0)


def _figures(codec: str, run: _Run) -> list[Figure]:
    s, c = run.summary, run.summary.counts
    lost = sum(abs(s.length - n) for n in run.mp4_frames)
    unused, repeats = sum(c.frame_drops.values()), sum(c.frame_repeats.values())
    raw = _raw_encode_fps(run.root, CODECS[codec])
    tag = f"[{codec}]"
    return [
        Figure("record", f"tick overruns while recording {tag}", 100 * run.overruns, "%",
               "same loop, not recording", 100 * run.reference),
        Figure("record", f"on_tick() p50 / p99 / max {tag}",
               "{:.1f} / {:.1f} / {:.1f}".format(*run.on_tick_us), "µs", "target", 20.0),
        Figure("record", f"stop() to durable episode {tag}", run.stop_s, "s", "target", 1.0),
        Figure("record", f"encode throughput, encoder process {tag}", s.encode_fps,
               "frames/CPU-s", "raw PyAV loop, same frames", raw),
        Figure("record", f"frames lost, rows vs MP4 {tag}", float(lost), "frames", "target", 0.0),
        Figure("record", f"rows / achieved record rate {tag}", f"{s.length} / {s.record_hz:.2f}",
               "rows / Hz", "target rate", 30.0),
        Figure("record", f"achieved control rate {tag}", s.control_hz, "Hz", "target", CONTROL_HZ),
        Figure("record", f"sim camera fps delivered {tag}", run.camera_fps, "fps", "target", 30.0),
        Figure("record", f"frame repeats / unused camera frames {tag}", f"{repeats} / {unused}",
               "frames", "rows x cameras", float(len(run.mp4_frames) * s.length)),
    ]  # fmt: skip


def run_record_bench(seconds: float = 60.0) -> list[Figure]:
    """Record a ``seconds``-long sim episode (two 320x240 cameras at 30 fps, 100 Hz
    control) with each available codec; every figure in report order."""
    workdir = Path(tempfile.mkdtemp(prefix="teleop-bench-record-"))
    figures: list[Figure] = []
    try:
        runs = {}
        with robots.make_robot("sim") as robot:
            for cam in robot.cameras.values():
                cam.wait_newer(-1, timeout_s=30.0)
            for codec in (c for c in CODECS if available(c)):
                runs[codec] = _record(robot, workdir, codec, seconds)
            renderer = str(getattr(robot, "renderer", "?"))
        for codec, run in runs.items():  # the sim is stopped: the raw reference runs alone
            figures += _figures(codec, run)
        figures.append(Figure("record", "sim renderer", renderer))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return figures
