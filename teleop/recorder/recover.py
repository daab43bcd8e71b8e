"""Recovery: leftover journals (a killed server) become incomplete episodes, or go away.

For each journal directory, oldest first: the rows that reached the journal and the
video fragments that reached the disk are cut to the same length ``n`` (the shorter of
them), the videos are remuxed to regular MP4s, and the episode is published with
``station/complete = false``. A journal whose episode was already published (a crash
after the metadata commit) is only removed. Earlier episodes are never touched.
"""

from __future__ import annotations

import logging
from pathlib import Path

from teleop.recorder.columns import StationColumns
from teleop.recorder.dataset import JOURNAL_DIR, Dataset, DatasetLock, EpisodeOutput
from teleop.recorder.episode import remove_journal
from teleop.recorder.errors import DatasetError, JournalError
from teleop.recorder.journal import JOURNAL_NAME, JournalContents, read_journal
from teleop.recorder.meta import INFO
from teleop.recorder.model import EpisodeCounts, EpisodeSummary
from teleop.recorder.schema import features_mismatch
from teleop.recorder.stats import image_stats
from teleop.recorder.video import count_frames, histogram_from_video, remux

log = logging.getLogger(__name__)


def _read(journal_dir: Path) -> JournalContents | None:
    try:
        return read_journal(journal_dir / JOURNAL_NAME)
    except JournalError as exc:
        log.warning("%s; removing %s", exc, journal_dir)
        remove_journal(journal_dir)
        return None


def recover_journal(dataset: Dataset, journal_dir: Path) -> EpisodeSummary | None:
    """Publish one leftover journal as an episode; None if it held nothing to keep.

    Raises:
        JournalError: The journal was recorded with other features than the dataset.
        RecorderIOError: Writing the episode failed (the journal is kept).
    """
    contents = _read(journal_dir)
    if contents is None:
        return None
    header = contents.header
    if header.get("uuid") in dataset.meta.uuids():
        log.info("%s was already published; removing its journal", journal_dir.name)
        remove_journal(journal_dir)
        return None
    problems = features_mismatch(dataset.features, header.get("features", {}))
    if problems:
        raise JournalError(
            f"journal {journal_dir} does not fit the dataset ({'; '.join(problems[:4])}); "
            "`teleop recover --discard` drops it"
        )
    cameras = list(header.get("cameras", []))
    rows = contents.rows
    n = min([len(rows)] + [count_frames(journal_dir / f"{c}.mp4") for c in cameras])
    if n == 0:
        log.warning("journal %s holds no complete row with its frames; removing it", journal_dir)
        remove_journal(journal_dir)
        return None
    videos = {c: dataset.video_temp(c) for c in cameras}
    n = min([n] + [remux(journal_dir / f"{c}.mp4", videos[c], n) for c in cameras])
    every = int(header.get("stats_every", 5))
    stats = {}
    for c in cameras:
        hist, sampled = histogram_from_video(videos[c], every, max_frames=n)
        stats[c] = image_stats(hist, sampled)
    counts = EpisodeCounts.from_dict(contents.counts)
    end = contents.end
    complete = end is not None and n == len(rows)
    station = StationColumns.build(
        header, counts, rows[:n], rows_lost=len(rows) - n, complete=complete,
        success=None if end is None else end.get("success"), stop_reason="recovered",
    )  # fmt: skip
    output = EpisodeOutput(str(header["uuid"]), str(header["task"]), rows[:n], cameras, videos,
                           stats, station)  # fmt: skip
    index = dataset.publish(output)
    remove_journal(journal_dir)
    fps = int(header["fps"])
    log.info(
        "recovered %s as episode %d: %d rows (%d lost, %d bytes of journal cut)",
        journal_dir.name,
        index,
        n,
        len(rows) - n,
        contents.bytes_ignored,
    )
    return EpisodeSummary(
        episode_index=index, length=n, duration_s=n / fps, complete=complete,
        success=station.success, task=str(header["task"]), stop_reason="recovered",
        counts=counts, control_hz=counts.control_hz(), record_hz=station.record_hz,
        rows_lost=len(rows) - n,
    )  # fmt: skip


def recover_journals(dataset: Dataset) -> list[EpisodeSummary]:
    """Recover every leftover journal of an open dataset, oldest first."""
    summaries = []
    for journal_dir in dataset.leftover_journals():
        summary = recover_journal(dataset, journal_dir)
        if summary is not None:
            summaries.append(summary)
    return summaries


def _journal_dirs(root: Path) -> list[Path]:
    top = root / JOURNAL_DIR
    return sorted(p for p in top.iterdir() if p.is_dir()) if top.is_dir() else []


def open_for_recovery(root: Path) -> Dataset:
    """Open (lock) a dataset for recovery; a dataset whose first episode was never
    published is created from its journal's header.

    Raises:
        DatasetError: ``root`` holds neither a dataset nor a journal, or is in use.
    """
    if (root / INFO).exists():
        return Dataset(root, None, None)
    for journal_dir in _journal_dirs(root):
        try:
            header = read_journal(journal_dir / JOURNAL_NAME).header
        except JournalError:
            continue
        return Dataset(
            root, header["features"], int(header["fps"]), str(header.get("robot_type", ""))
        )
    raise DatasetError(f"{root} holds no dataset (meta/info.json) and no recording journal")


def recover_path(root: Path, discard: bool = False) -> tuple[list[EpisodeSummary], list[Path]]:
    """``teleop recover``: recover (or with ``discard``, delete) every leftover journal.

    Returns:
        The recovered episodes, and the journal directories that were discarded.

    Raises:
        DatasetError: No dataset or journal at ``root``, or it is in use.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(
            f"{root} is not a directory; give the dataset path, e.g. recordings/NAME"
        )
    if discard:
        # Opening the dataset also repairs it (files of a half-published episode).
        lock = Dataset(root, None, None) if (root / INFO).exists() else DatasetLock(root)
        with lock:
            dirs = _journal_dirs(root)
            for d in dirs:
                remove_journal(d)
                log.info("discarded %s", d.name)
            return [], dirs
    with open_for_recovery(root) as dataset:
        return recover_journals(dataset), []
