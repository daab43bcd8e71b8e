"""The journal's fragmented MP4, cut anywhere (a kill, a full disk), still gives its frames."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from teleop.recorder.video import CODECS, FragmentWriter, count_frames, remux

FRAMES = 12


@pytest.fixture(scope="module")
def whole_video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("video") / "cam.mp4"
    writer = FragmentWriter(path, 64, 48, 30, CODECS["libx264"])
    rng = np.random.default_rng(0)
    for _ in range(FRAMES):
        writer.encode(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    writer.close()
    return path.read_bytes()


def top_level_boxes(data: bytes) -> list[tuple[int, bytes, int]]:
    """(offset, type, size) of each top-level box."""
    boxes, offset = [], 0
    while offset < len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        boxes.append((offset, data[offset + 4 : offset + 8], size))
        offset += size
    return boxes


def decoded_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_the_whole_file_counts_every_frame(tmp_path: Path, whole_video: bytes) -> None:
    path = tmp_path / "cam.mp4"
    path.write_bytes(whole_video)
    assert count_frames(path) == FRAMES
    assert remux(path, tmp_path / "out.mp4", FRAMES) == FRAMES
    assert decoded_frames(tmp_path / "out.mp4") == FRAMES


def test_a_cut_file_keeps_every_whole_fragment(tmp_path: Path, whole_video: bytes) -> None:
    boxes = top_level_boxes(whole_video)
    fragment_ends = [off + size for off, kind, size in boxes if kind == b"mdat"]
    assert len(fragment_ends) >= FRAMES // 2  # one fragment per keyframe, every other frame
    path, out = tmp_path / "cut.mp4", tmp_path / "out.mp4"

    def frames_if_cut_at(cut: int) -> int:
        path.write_bytes(whole_video[:cut])
        return count_frames(path)

    # A file cut right after a fragment holds every frame up to that fragment.
    at_end = {end: frames_if_cut_at(end) for end in fragment_ends}
    assert list(at_end.values()) == sorted(at_end.values()) and at_end[fragment_ends[-1]] == FRAMES
    assert at_end[fragment_ends[0]] > 0
    # Cut anywhere else (inside a moof header, an mdat, the box headers themselves), a
    # file still gives at least the frames of the fragments that ended before the cut.
    cuts = sorted({off + d for off, _, size in boxes for d in (0, 1, 4, 8, 9, size // 2, size - 1)})
    for cut in cuts:
        n = frames_if_cut_at(cut)
        floor = max((at_end[end] for end in fragment_ends if end <= cut), default=0)
        assert n >= floor, f"cut at byte {cut}: {n} frames, fewer than the {floor} before it"
        if n:  # (with no frame at all, the recorder does not remux)
            assert remux(path, out, FRAMES) == n, f"cut at byte {cut}"
            assert decoded_frames(out) == n
