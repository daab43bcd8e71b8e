"""Verify a whole dataset: every episode's checks again, and every signature.

Read-only: nothing in the dataset is written, locked or repaired. Each episode is
checked again from its files (with the given thresholds), compared for duplicates with
the episodes before it, and matched against its signed manifest. Problems name the
file or the metadata field that no longer matches.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from teleop.quality import manifest
from teleop.quality.assess import Assessment, assess
from teleop.quality.config import Thresholds
from teleop.quality.duplicates import Fingerprint
from teleop.quality.episode_data import DatasetView
from teleop.quality.errors import DatasetReadError
from teleop.quality.signing import SigningError, key_id, load_public_key
from teleop.quality.store import (
    FINGERPRINTS_DIR,
    KEYS_DIR,
    MANIFESTS_DIR,
    QUALITY_DIR,
    episode_file,
)


@dataclasses.dataclass
class EpisodeReport:
    """One episode's verification.

    Attributes:
        index: The episode.
        assessment: Its checks, or None when its data could not be read.
        manifest: ``ok``, ``mismatch``, ``missing`` (never signed) or ``unreadable``.
        problems: What no longer matches, or why it could not be read; each names a file
            or a metadata field.
        stored: The score and verdict the station stored when it closed the episode.
    """

    index: int
    assessment: Assessment | None
    manifest: str
    problems: list[str]
    stored: dict[str, Any] | None = None

    @property
    def intact(self) -> bool:
        """Readable, and every file and field matches its signed manifest."""
        return self.assessment is not None and self.manifest == "ok" and not self.problems

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        a = self.assessment
        out: dict[str, Any] = {
            "episode_index": self.index,
            "manifest": self.manifest,
            "intact": self.intact,
            "problems": self.problems,
        }
        if a is not None:
            out.update(
                episode_uuid=a.episode.uuid,
                length=a.episode.length,
                duration_s=a.episode.duration_s,
                score=a.score,
                accepted=a.accepted,
                duplicate_of=a.duplicate.of_episode if a.duplicate else None,
                checks=[c.to_dict() for c in a.checks],
            )
        if self.stored is not None:
            out["stored"] = {k: self.stored.get(k) for k in ("score", "accepted", "checked_at")}
        return out


@dataclasses.dataclass
class DatasetReport:
    """A dataset's verification.

    Attributes:
        root: The dataset.
        fps: Its frame rate.
        cameras: Its camera names.
        episodes: One report per episode, in order.
        problems: Dataset-wide problems (unknown files, untrusted keys, ...).
        elapsed_s: Wall-clock time the verification took, [s].
    """

    root: Path
    fps: int
    cameras: tuple[str, ...]
    episodes: list[EpisodeReport]
    problems: list[str]
    elapsed_s: float = 0.0

    @property
    def intact(self) -> bool:
        """Every episode readable and matching its manifest, and no dataset problem."""
        return not self.problems and all(e.intact for e in self.episodes)

    @property
    def episode_s(self) -> float:
        """Recorded time over the readable episodes, [s]."""
        return sum(e.assessment.episode.duration_s for e in self.episodes if e.assessment)

    @property
    def video_s(self) -> float:
        """Video verified: recorded time x cameras, [s]."""
        return self.episode_s * len(self.cameras)

    def to_dict(self) -> dict[str, Any]:
        """The full report, JSON-ready."""
        return {
            "dataset": str(self.root),
            "fps": self.fps,
            "cameras": list(self.cameras),
            "intact": self.intact,
            "problems": self.problems,
            "episodes": [e.to_dict() for e in self.episodes],
            "accepted": sum(1 for e in self.episodes if e.assessment and e.assessment.accepted),
            "episode_s": self.episode_s,
            "video_s": self.video_s,
            "elapsed_s": self.elapsed_s,
        }


def published_keys(view: DatasetView) -> tuple[dict[str, Ed25519PublicKey], list[str]]:
    """The public keys in ``meta/station/keys/``, by key id, and problems with them."""
    keys, problems = {}, []
    for path in sorted((view.root / KEYS_DIR).glob("*.pem")):
        rel = path.relative_to(view.root)
        try:
            key = load_public_key(path.read_bytes(), str(rel))
        except (OSError, SigningError) as exc:
            problems.append(f"{rel}: {exc}")
            continue
        if key_id(key) != path.stem:
            problems.append(f"{rel} holds key {key_id(key)}, not {path.stem}")
            continue
        keys[path.stem] = key
    return keys, problems


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise DatasetReadError(f"{path} is unreadable: {exc}") from exc
    return doc if isinstance(doc, dict) else None


def _integrity(
    view: DatasetView, a: Assessment, keys: Mapping[str, Ed25519PublicKey]
) -> tuple[str, list[str]]:
    index = a.episode.index
    rel = episode_file(MANIFESTS_DIR, index)
    try:
        doc = _read_json(view.root / rel)
    except DatasetReadError as exc:
        return "unreadable", [str(exc)]
    if doc is None:
        return "missing", [
            f"episode {index} has no manifest ({rel}): the station never "
            "signed it, or its manifest was deleted"
        ]
    expected = [
        *view.episode_files(index),
        episode_file(QUALITY_DIR, index),
        episode_file(FINGERPRINTS_DIR, index),
    ]
    problems = manifest.check(view, index, doc, keys, expected, a.file_hashes)
    return ("mismatch" if problems else "ok"), [f"episode {index}: {p}" for p in problems]


def _stray_files(view: DatasetView) -> list[str]:
    """Data and video files that belong to no episode, and manifests of missing episodes."""
    known = {p.as_posix() for i in range(view.n_episodes) for p in view.episode_files(i)}
    found = [*view.root.glob("data/*/*.parquet"), *view.root.glob("videos/*/*/*.mp4")]
    problems = [
        f"{p.relative_to(view.root).as_posix()} belongs to no episode (info.json "
        f"counts {view.n_episodes})"
        for p in sorted(found)
        if p.relative_to(view.root).as_posix() not in known
    ]
    for path in sorted((view.root / MANIFESTS_DIR).glob("episode_*.json")):
        index = int(path.stem.removeprefix("episode_"))
        if index >= view.n_episodes:
            problems.append(
                f"{path.relative_to(view.root)} signs episode {index}, which the "
                f"dataset no longer has: it was truncated"
            )
    return problems


def verify_episode(
    view: DatasetView,
    index: int,
    t: Thresholds,
    earlier: list[Fingerprint],
    keys: Mapping[str, Ed25519PublicKey],
) -> EpisodeReport:
    """Check one episode again and match it against its manifest."""
    try:
        a = assess(view, index, t, earlier)
    except DatasetReadError as exc:
        return EpisodeReport(index, None, "unreadable", [str(exc)])
    state, problems = _integrity(view, a, keys)
    problems += [
        f"episode {index}: {c.detail}"
        for c in a.checks
        if c.name == "video_frames" and "undecodable" in c.detail
    ]
    try:
        stored = _read_json(view.root / episode_file(QUALITY_DIR, index))
    except DatasetReadError:
        stored = None
    return EpisodeReport(index, a, state, problems, stored)


def verify_dataset(
    root: Path,
    thresholds: Thresholds | None = None,
    *,
    trusted_keys: Mapping[str, Ed25519PublicKey] | None = None,
    on_episode: Callable[[EpisodeReport], None] | None = None,
) -> DatasetReport:
    """Verify every episode of the dataset at ``root``.

    Args:
        root: The dataset directory.
        thresholds: Quality thresholds (default: :class:`Thresholds()`).
        trusted_keys: Accept only signatures by these keys (default: the keys the
            dataset publishes in ``meta/station/keys/``).
        on_episode: Called after each episode (e.g. to advance a progress bar).

    Raises:
        DatasetReadError: ``root`` is not a dataset, or its metadata is unreadable.
    """
    t0 = time.perf_counter()
    view = DatasetView(Path(root))
    keys, problems = published_keys(view)
    if trusted_keys is not None:
        keys = dict(trusted_keys)
    problems += _stray_files(view)
    t = thresholds or Thresholds()
    reports: list[EpisodeReport] = []
    earlier: list[Fingerprint] = []
    for index in range(view.n_episodes):
        report = verify_episode(view, index, t, earlier, keys)
        if report.assessment is not None:
            earlier.append(report.assessment.fingerprint)
        reports.append(report)
        if on_episode is not None:
            on_episode(report)
    return DatasetReport(
        view.root, view.fps, view.cameras, reports, problems, time.perf_counter() - t0
    )
