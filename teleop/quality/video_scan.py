"""One pass over an episode's MP4 with PyAV: frame count, brightness, changes, thumbnails.

Only the luma plane of each decoded frame is looked at, straight from PyAV's buffer
(no colour conversion, no rescaling), which keeps a 320x240 frame near 0.2 ms. Per frame
the scan keeps three things:

- its mean gray level (0-255, full range), for the black/white camera check;
- whether it differs from the frame that began the current run of like frames: more
  than ``CHANGED_PIXELS`` of its pixels moved by more than ``PIXEL_DELTA`` gray levels.
  Encoding an unchanging image still leaves codec noise (up to ~32 levels on a few
  pixels, flickering from frame to frame), so a plain equality test would miss a frozen
  camera; comparing with the run's first frame rather than the previous one lets a slow
  motion add up until it shows;
- for ``THUMBNAILS`` evenly spaced frames, a 12x16 block-averaged thumbnail, the frames'
  share of a near-duplicate fingerprint.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import av
import cv2
import numpy as np

PIXEL_DELTA = 40
"""Gray levels (0-255) a pixel must move by to count as changed, above codec noise."""
CHANGED_PIXELS = 5e-4
"""Fraction of the pixels (at least 8) that must change for a frame to differ."""
THUMBNAILS = 8
"""Frames per camera in a near-duplicate fingerprint."""
THUMB_SHAPE = (12, 16)


@dataclasses.dataclass(frozen=True)
class VideoScan:
    """What one pass over a camera's MP4 found.

    Attributes:
        camera: The camera's name.
        frames: Frames decoded.
        means: Mean gray level (0-255) of each frame.
        changed: For each frame, whether it differs from the first frame of the run of
            like frames before it (frame 0: True).
        thumbs: ``(THUMBNAILS, 12, 16)`` float32 thumbnails of evenly spaced frames (fewer
            when the video is shorter than expected).
        error: Why decoding stopped early (a truncated or damaged file), or None.
    """

    camera: str
    frames: int
    means: np.ndarray
    changed: np.ndarray
    thumbs: np.ndarray
    error: str | None = None


def _luma(frame: av.VideoFrame) -> tuple[np.ndarray, bool]:
    """The luma plane as an (H, W) uint8 view, and whether it is limited range (16-235)."""
    plane = frame.planes[0]
    rows = np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)
    limited = frame.format.name not in ("yuvj420p", "yuvj422p", "yuvj444p", "gray")
    return rows[:, : plane.width], limited


def thumbnail(luma: np.ndarray) -> np.ndarray:
    """A 12x16 block average of a gray image, float32 (edge pixels beyond whole blocks
    are left out)."""
    h, w = THUMB_SHAPE
    bh, bw = max(1, luma.shape[0] // h), max(1, luma.shape[1] // w)
    if luma.shape[0] < h or luma.shape[1] < w:
        luma = np.repeat(np.repeat(luma, h, axis=0), w, axis=1)
        bh, bw = luma.shape[0] // h, luma.shape[1] // w
    blocks = luma[: h * bh, : w * bw].reshape(h, bh, w, bw)
    return blocks.mean(axis=(1, 3), dtype=np.float32)


def _differs(luma: np.ndarray, ref: np.ndarray) -> bool:
    moved = np.count_nonzero(np.abs(luma.astype(np.int16) - ref) > PIXEL_DELTA)
    return bool(moved > max(8, CHANGED_PIXELS * luma.size))


def thumb_indices(expected_frames: int) -> set[int]:
    """Which frame indices give the thumbnails, for a video of ``expected_frames``."""
    if expected_frames <= 0:
        return set()
    return {int(i) for i in np.linspace(0, expected_frames - 1, THUMBNAILS).round()}


def scan_video(path: Path, camera: str, expected_frames: int) -> VideoScan:
    """Decode ``path`` once and measure it.

    Args:
        path: The MP4.
        camera: Camera name, for the result.
        expected_frames: Rows of the episode; chooses the thumbnail frames.

    Returns:
        The scan; ``error`` is set (and the counts cover what decoded) when the file is
        missing, truncated or damaged.
    """
    means: list[float] = []
    changed: list[bool] = []
    thumbs: list[np.ndarray] = []
    wanted = thumb_indices(expected_frames)
    ref: np.ndarray | None = None  # the first frame of the current run of like frames
    error = None
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                luma, limited = _luma(frame)
                mean = float(cv2.mean(luma)[0])  # numpy's mean is 15x slower here
                means.append((mean - 16.0) * 255.0 / 219.0 if limited else mean)
                differs = ref is None or _differs(luma, ref)
                changed.append(differs)
                if len(means) - 1 in wanted:
                    thumbs.append(thumbnail(luma))
                if differs:
                    ref = luma.astype(np.int16)
    except FileNotFoundError:
        error = "missing"
    except (av.FFmpegError, OSError, ValueError) as exc:
        error = f"undecodable after {len(means)} frames: {exc}"
    shape = (len(thumbs), *THUMB_SHAPE)
    return VideoScan(
        camera=camera,
        frames=len(means),
        means=np.clip(np.asarray(means, np.float64), 0.0, 255.0),
        changed=np.asarray(changed, np.bool_),
        thumbs=np.stack(thumbs) if thumbs else np.zeros(shape, np.float32),
        error=error,
    )
