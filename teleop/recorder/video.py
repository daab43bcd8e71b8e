"""Video with PyAV: codec profiles, the crash-tolerant fragmented MP4, remux and counts.

While recording, each camera is encoded into a *fragmented* MP4 in the journal
directory (``empty_moov``: the header comes first, then one self-contained fragment per
keyframe, written out packet by packet). After a kill, every fragment written so far
still demuxes. On stop (or recovery) the first ``n`` frames are remuxed, without
re-encoding, into a regular MP4: constant frame rate, frame ``k`` at exactly ``k / fps``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import av
import numpy as np

log = logging.getLogger(__name__)

FRAGMENTED_MP4 = {"movflags": "frag_keyframe+empty_moov+default_base_moof", "flush_packets": "1"}


@dataclasses.dataclass(frozen=True)
class CodecProfile:
    """One encoder and its options.

    Attributes:
        encoder: PyAV/FFmpeg encoder name (``libx264``).
        canonical: The codec's name in ``info.json`` (``h264``, ``av1``).
        options: Encoder options. ``g=2`` as upstream: every other frame is a keyframe,
            so a training loader seeks to any frame by decoding at most two.
    """

    encoder: str
    canonical: str
    options: Mapping[str, str]


CODECS: dict[str, CodecProfile] = {
    # zerolatency: no B-frames and no lookahead, so every frame sent is in the file
    # (and survives a kill) one fragment later.
    "libx264": CodecProfile(
        "libx264", "h264", {"g": "2", "crf": "23", "preset": "veryfast", "tune": "zerolatency"}
    ),
    # LeRobot's default codec; preset 10 is SVT-AV1's fastest non-"automation" preset.
    "libsvtav1": CodecProfile("libsvtav1", "av1", {"g": "2", "crf": "30", "preset": "10"}),
}

AUTO_CODEC = "libx264"
"""What ``codec="auto"`` picks. Measured on this 2-core machine (docs/recording.md):
libx264 costs ~1.8 ms of CPU per 320x240 frame, libsvtav1 (preset 10) ~3.8 ms and holds
about 15 frames inside its lookahead, which a kill loses; alongside the sim, x264 keeps
the control loop's overruns at the no-recording level."""

CANONICAL_TO_ENCODER = {p.canonical: name for name, p in CODECS.items()}


def available(encoder: str) -> bool:
    """Whether this PyAV build can encode with ``encoder``."""
    try:
        av.codec.Codec(encoder, "w")
    except (av.FFmpegError, ValueError):
        return False
    return True


def resolve_codec(choice: str) -> CodecProfile:
    """The profile for ``"auto"``, ``"libx264"`` or ``"libsvtav1"``.

    Raises:
        ValueError: The codec is unknown or missing from this PyAV build.
    """
    if choice == "auto":
        names = [AUTO_CODEC] + [n for n in CODECS if n != AUTO_CODEC]
        for name in names:
            if available(name):
                return CODECS[name]
        raise ValueError(f"none of {', '.join(CODECS)} can encode with this PyAV build")
    if choice not in CODECS:
        raise ValueError(f"codec {choice!r} unknown; use auto, {', '.join(CODECS)}")
    if not available(choice):
        raise ValueError(f"codec {choice!r} is missing from this PyAV build ({av.__version__})")
    return CODECS[choice]


class FragmentWriter:
    """Encodes RGB frames of one camera into a fragmented MP4, frame ``k`` at ``k / fps``.

    Args:
        path: The file to create.
        width: Frame width in [pixels].
        height: Frame height in [pixels].
        fps: Frame rate in [frames/s].
        codec: The encoder profile.
    """

    def __init__(self, path: Path, width: int, height: int, fps: int, codec: CodecProfile) -> None:
        self.path = path
        self.frames = 0
        self.packets = 0
        self._shape = (height, width, 3)
        self._container = av.open(str(path), "w", format="mp4", options=dict(FRAGMENTED_MP4))
        try:
            stream = self._container.add_stream(
                codec.encoder, rate=fps, options=dict(codec.options)
            )
            assert isinstance(stream, av.VideoStream)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            self._stream = stream
        except BaseException:
            self._container.close()
            raise
        # FFmpeg creates the file at the first write; create it now to hold an fd for fsync.
        self._fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)

    @property
    def shape(self) -> tuple[int, int, int]:
        """The frame shape this writer takes: (height, width, 3)."""
        return self._shape

    def encode(self, image: np.ndarray) -> None:
        """Encode the next frame (HxWx3 uint8 RGB)."""
        frame = av.VideoFrame.from_ndarray(image.reshape(self._shape), format="rgb24")
        frame.pts = self.frames
        self.frames += 1
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
            self.packets += 1

    def sync(self) -> None:
        """fsync what FFmpeg has written so far."""
        os.fsync(self._fd)

    def close(self) -> None:
        """Flush the encoder, write the last fragment, fsync and close."""
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
                self.packets += 1
            self._container.close()
            self.sync()
        finally:
            self._release_fd()

    def abandon(self) -> None:
        """Close without flushing more (after a write error); never raises."""
        try:
            self._container.close()
        except Exception:
            log.debug("closing %s after an error failed too", self.path, exc_info=True)
        self._release_fd()

    def _release_fd(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def readable_length(path: Path) -> int:
    """Bytes of a possibly cut fragmented MP4 that the demuxer can open.

    A kill or a full disk can cut the file anywhere. A cut inside an ``mdat`` is harmless:
    its whole packets still demux. A cut inside any other top-level box (a fragment's
    ``moof`` header) makes the demuxer refuse the whole file, so that box is left out.
    """
    size = path.stat().st_size
    offset = 0
    with path.open("rb") as f:
        while offset < size:
            f.seek(offset)
            header = f.read(16)
            if len(header) < 8:
                return offset
            box_size, kind = int.from_bytes(header[:4], "big"), header[4:8]
            if box_size == 1:  # a 64-bit size follows the type
                if len(header) < 16:
                    return offset
                box_size = int.from_bytes(header[8:16], "big")
            if box_size == 0:  # the box runs to the end of the file
                return size
            if box_size < 8:
                return offset  # not a box: garbage from here on
            if offset + box_size > size:
                return size if kind == b"mdat" else offset
            offset += box_size
    return size


class _Prefix(io.RawIOBase):
    """The first ``length`` bytes of a file, as a seekable read-only stream for PyAV."""

    def __init__(self, path: Path, length: int) -> None:
        self._f = path.open("rb")
        self._length = length

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        room = max(0, self._length - self._f.tell())
        return self._f.readinto(view[: min(len(view), room)])

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_END:
            return self._f.seek(self._length + offset)
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def close(self) -> None:
        self._f.close()
        super().close()


@contextlib.contextmanager
def open_cut(path: Path) -> Iterator[tuple[av.container.InputContainer, int]]:
    """Open a possibly cut fragmented MP4 for reading.

    Yields:
        ``(container, length)``: the container over the readable part of the file and
        that part's length in [bytes], for :func:`_whole_packets`.
    """
    size = path.stat().st_size
    length = readable_length(path)
    if length == size:
        with av.open(str(path)) as container:
            yield container, size
        return
    with _Prefix(path, length) as prefix, av.open(prefix, "r", format="mp4") as container:
        yield container, length


def _whole_packets(container: av.container.InputContainer, size: int) -> Iterator[av.Packet]:
    """The video packets of a possibly cut file, up to the first one not wholly on disk.

    A kill or a full disk can leave the last fragment's sample data short: its packets
    come back flagged corrupt, or reaching past the end of the file (``size``).
    """
    try:
        for packet in container.demux(video=0):
            if packet.dts is None:
                continue
            pos = packet.pos if packet.pos is not None else -1
            if packet.is_corrupt or (pos >= 0 and pos + packet.size > size):
                return
            yield packet
    except (av.FFmpegError, OSError):
        log.debug("demuxing %s stopped early", container.name, exc_info=True)


def count_frames(path: Path) -> int:
    """Video frames (= packets: no codec here reorders) wholly readable from ``path``.

    A file cut by a kill or a full disk counts up to its last complete fragment; an
    unreadable or missing file counts 0.
    """
    try:
        with open_cut(path) as (container, length):
            return sum(1 for _ in _whole_packets(container, length))
    except (av.FFmpegError, OSError, IndexError):
        log.debug("cannot count the frames of %s", path, exc_info=True)
        return 0


def remux(src: Path, dst: Path, n_frames: int) -> int:
    """Copy the first ``n_frames`` frames of ``src`` into a regular MP4 at ``dst``.

    No re-encoding: packets are copied with their timestamps, so frame ``k`` stays at
    ``k / fps``. ``dst`` is fsynced.

    Returns:
        Frames written (fewer than ``n_frames`` if ``src`` holds fewer whole frames).
    """
    n = 0
    with open_cut(src) as (inp, length), av.open(str(dst), "w", format="mp4") as out:
        ost = out.add_stream_from_template(inp.streams.video[0], opaque=True)  # stream copy
        for packet in _whole_packets(inp, length):
            if n >= n_frames:
                break
            packet.stream = ost
            out.mux(packet)
            n += 1
    fd = os.open(dst, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return n


def add_histogram(hist: np.ndarray, image: np.ndarray, stride: int = 4) -> None:
    """Add a subsampled image's per-channel value counts to ``hist`` (3x256, in place)."""
    small = image[::stride, ::stride].reshape(-1, 3)
    for c in range(3):
        hist[c] += np.bincount(small[:, c], minlength=256)


def histogram_from_video(
    path: Path, every: int, max_frames: int | None = None
) -> tuple[np.ndarray, int]:
    """Per-channel value counts of every ``every``-th frame of a video (for recovery).

    Returns:
        ``(hist, frames_sampled)``, hist of shape (3, 256).
    """
    hist = np.zeros((3, 256), dtype=np.int64)
    sampled = 0
    with av.open(str(path)) as container:
        for k, frame in enumerate(container.decode(video=0)):
            if max_frames is not None and k >= max_frames:
                break
            if k % every == 0:
                add_histogram(hist, frame.to_ndarray(format="rgb24"))
                sampled += 1
    return hist, sampled
