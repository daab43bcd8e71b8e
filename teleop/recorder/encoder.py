"""The encoder process: video encoding away from the server process and its GIL.

PyAV holds the GIL while it encodes, and SVT-AV1 even while it waits for its pipeline,
so encoding in a thread of the server delays the control loop by milliseconds. Frames
therefore go through a pipe to one child process (niced, so it yields the CPU to the
control loop and the sim), which encodes every camera of the episode. A feeder thread
does the sending so that nothing in the recorder waits on the pipe.

Messages parent -> child (pickled tuples; a frame's pixels follow as raw bytes)::

    ("begin", streams, fps, codec)      -> ("begun",) | ("error", text)
    ("frame", cam, sample_stats) + bytes   (-> ("progress", encoded) now and then,
                                            ("error", text) once on a failure)
    ("finish",)                         -> ("finished", [stream results])
    ("remux", [(src, dst, n)])          -> ("remuxed", [frames]) | ("error", text)
                                        (the parent writes the data file meanwhile)
    ("quit",)                           the child exits (also on EOF: parent died)
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing as mp
import os
import queue
import resource
import signal
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from teleop.recorder.errors import RecorderIOError
from teleop.recorder.video import CodecProfile, FragmentWriter, add_histogram, remux

log = logging.getLogger(__name__)

NICE = 5
"""The encoder process's niceness: it yields the CPU to the control loop and the sim, yet
keeps a large enough share on a busy 2-core machine (nice 10 starved it there)."""
PROGRESS_EVERY = 15
"""The child reports its encoded-frame count after this many frames."""
SYNC_PERIOD_S = 0.25
"""The child fsyncs its fragmented MP4s at least this often while frames arrive."""


@dataclasses.dataclass(frozen=True)
class StreamSpec:
    """One camera's video stream: where it goes and its size in [pixels]."""

    name: str
    path: Path
    width: int
    height: int


@dataclasses.dataclass
class StreamResult:
    """What the child reports for one stream when an episode finishes.

    Attributes:
        frames: Frames encoded.
        histogram: Per-channel value counts of the sampled frames, shape (3, 256).
        sampled: Frames that fed the histogram.
        cpu_s: CPU time in [s] of the whole encoder process (every stream, SVT-AV1's
            threads included) from ``begin`` to ``finish``; the same in each result.
        error: The stream's write/encode error, if any.
    """

    frames: int
    histogram: np.ndarray
    sampled: int
    cpu_s: float
    error: str | None = None


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Child:
    """The child's state: the open streams of the current episode."""

    def __init__(self, res: Connection) -> None:
        self.res = res
        self.writers: list[FragmentWriter] = []
        self.hists: list[np.ndarray] = []
        self.sampled: list[int] = []
        self.cpu_start = 0.0
        self.error: str | None = None
        self.encoded = 0
        self.last_sync = time.monotonic()

    def begin(self, streams: list[StreamSpec], fps: int, codec: CodecProfile) -> None:
        self.finish()
        self.error, self.encoded = None, 0
        try:
            for s in streams:
                self.writers.append(FragmentWriter(s.path, s.width, s.height, fps, codec))
        except Exception as exc:
            self.finish()
            self.res.send(("error", f"cannot start the video encoder: {exc}"))
            return
        self.hists = [np.zeros((3, 256), np.int64) for _ in streams]
        self.sampled = [0] * len(streams)
        self.cpu_start = _cpu_s()
        self.res.send(("begun",))

    def frame(self, cam: int, sample: bool, data: bytes) -> None:
        if self.error is not None or cam >= len(self.writers):
            return
        writer = self.writers[cam]
        image = np.frombuffer(data, dtype=np.uint8)
        try:
            writer.encode(image)
            if time.monotonic() - self.last_sync > SYNC_PERIOD_S:
                for w in self.writers:
                    w.sync()
                self.last_sync = time.monotonic()
        except Exception as exc:
            self.error = f"video '{writer.path.name}': {exc}"
            self.res.send(("error", self.error))
            return
        if sample:
            add_histogram(self.hists[cam], image.reshape(writer.shape))
            self.sampled[cam] += 1
        self.encoded += 1
        if self.encoded % PROGRESS_EVERY == 0:
            self.res.send(("progress", self.encoded))

    def finish(self) -> list[StreamResult]:
        errors = [self._close(w) for w in self.writers]
        cpu_s = _cpu_s() - self.cpu_start
        results = [
            StreamResult(w.frames, self.hists[i], self.sampled[i], cpu_s, errors[i])
            for i, w in enumerate(self.writers)
        ]
        self.writers = []
        return results

    def _close(self, writer: FragmentWriter) -> str | None:
        if self.error is not None:
            writer.abandon()
            return self.error
        try:
            writer.close()
        except Exception as exc:
            writer.abandon()
            return f"video '{writer.path.name}': {exc}"
        return None


def _child_main(cmd: Connection, res: Connection) -> None:
    """The encoder process's loop (runs in the child)."""
    os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its banner at info level
    # Ctrl-C in the terminal reaches the whole process group: the parent decides when
    # this process ends (quit, or EOF when the parent is gone), so streams close cleanly.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.nice(NICE)
    child = _Child(res)
    while True:
        try:
            msg = cmd.recv()
        except (EOFError, OSError):
            child.finish()  # the parent died: close the fragments cleanly
            return
        kind = msg[0]
        if kind == "frame":
            child.frame(msg[1], msg[2], cmd.recv_bytes())
        elif kind == "begin":
            child.begin(msg[1], msg[2], msg[3])
        elif kind == "finish":
            res.send(("finished", child.finish()))
        elif kind == "remux":
            try:
                res.send(("remuxed", [remux(src, dst, n) for src, dst, n in msg[1]]))
            except Exception as exc:
                res.send(("error", f"remux failed: {exc}"))
        elif kind == "quit":
            child.finish()
            return


class EncoderProcess:
    """The parent's handle on the encoder process. Started once, used episode by episode.

    :meth:`put` never blocks; every other method is for the recorder's capture thread
    (one episode at a time) or ``close()``.
    """

    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        cmd_recv, self._cmd = ctx.Pipe(duplex=False)
        self._res, res_send = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(
            target=_child_main, args=(cmd_recv, res_send), name="recorder-encoder", daemon=True
        )
        self._proc.start()
        cmd_recv.close()
        res_send.close()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._feeder = threading.Thread(target=self._feed, name="recorder-feeder", daemon=True)
        self._feeder.start()
        self.sent = 0
        self.encoded = 0
        self.error: str | None = None

    @property
    def alive(self) -> bool:
        """Whether the child process is running."""
        return self._proc.is_alive()

    @property
    def pid(self) -> int | None:
        """The child's process id."""
        return self._proc.pid

    @property
    def backlog(self) -> int:
        """Frames handed to :meth:`put` but not yet encoded (as last reported)."""
        return self.sent - self.encoded

    def begin(
        self, streams: list[StreamSpec], fps: int, codec: CodecProfile, timeout_s: float = 20.0
    ) -> None:
        """Open the streams of a new episode.

        Raises:
            RecorderIOError: The child could not open them or did not answer.
        """
        self.sent = self.encoded = 0
        self.error = None
        self._drain_results()
        self._queue.put(("begin", streams, fps, codec))
        self._expect("begun", timeout_s)

    def put(self, cam: int, image: np.ndarray, sample_stats: bool) -> None:
        """Queue one frame of camera ``cam`` (an index into the streams); never blocks."""
        self.sent += 1
        self._queue.put(("frame", cam, sample_stats, image))

    def poll(self) -> str | None:
        """Read progress reports without waiting; returns the child's error, if any."""
        try:
            while self.error is None and self._res.poll():
                self._handle(self._res.recv())
        except (EOFError, OSError):
            pass  # the child is gone: reported below
        if self.error is None and not self.alive:
            self.error = f"the video encoder process died (exit code {self._proc.exitcode})"
        return self.error

    def finish(self, timeout_s: float = 30.0) -> list[StreamResult]:
        """Encode everything queued, close the streams and return their results.

        Raises:
            RecorderIOError: The child did not answer within ``timeout_s``.
        """
        self._queue.put(("finish",))
        return list(self._expect("finished", timeout_s)[1])

    def start_remux(self, jobs: list[tuple[Path, Path, int]]) -> None:
        """Ask the child to remux ``(src, dst, n_frames)`` jobs; see :meth:`wait_remux`."""
        self._queue.put(("remux", jobs))

    def wait_remux(self, timeout_s: float = 30.0) -> list[int]:
        """Frames written by each job of the last :meth:`start_remux`.

        Raises:
            RecorderIOError: A remux failed or the child did not answer.
        """
        return list(self._expect("remuxed", timeout_s)[1])

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the feeder and the child."""
        self._queue.put(("quit",))
        self._feeder.join(timeout_s)
        self._proc.join(timeout_s)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(timeout_s)
        self._cmd.close()
        self._res.close()

    def _feed(self) -> None:
        warned = False
        while True:
            item = self._queue.get()
            try:
                if item[0] == "frame":
                    self._cmd.send(item[:3])
                    self._cmd.send_bytes(np.ascontiguousarray(item[3]).reshape(-1).data)
                else:
                    self._cmd.send(item)
            except (OSError, ValueError):
                if not warned:  # the capture thread notices the dead child and fails
                    log.warning("the video encoder process is gone; dropping what was queued")
                    warned = True
            if item[0] == "quit":
                return

    def _handle(self, msg: tuple[Any, ...]) -> None:
        if msg[0] == "progress":
            self.encoded = msg[1]
        elif msg[0] == "error":
            self.error = msg[1]
            log.error("video encoder: %s", msg[1])

    def _drain_results(self) -> None:
        try:
            while self._res.poll():
                self._res.recv()
        except (EOFError, OSError):
            pass  # a dead child: begin() reports it

    def _expect(self, kind: str, timeout_s: float) -> tuple[Any, ...]:
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._res.poll(min(remaining, 0.5)):
                if remaining <= 0 or not self.alive:
                    raise RecorderIOError(
                        f"the video encoder process did not answer '{kind}' "
                        f"(alive: {self.alive}); the partial video stays in the journal"
                    )
                continue
            try:
                msg = self._res.recv()
            except (EOFError, OSError) as exc:
                raise RecorderIOError(
                    f"the video encoder process died before it answered '{kind}'"
                ) from exc
            if msg[0] == kind:
                if kind == "finished":
                    self.encoded = sum(r.frames for r in msg[1])
                return tuple(msg)
            self._handle(msg)
            if msg[0] == "error" and kind in ("begun", "remuxed"):
                raise RecorderIOError(msg[1])
