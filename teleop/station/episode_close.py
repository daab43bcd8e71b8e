"""What the station does with an episode once the recorder has saved it.

:func:`close_episode` is called by the server in a worker thread after each
``Recorder.stop()``. In order, it:

1. publishes the robot's joint limits (``meta/station/robot.json``), once;
2. runs every quality check and looks for an earlier episode this one duplicates;
3. writes the verdicts and score (``meta/station/quality/``) and the fingerprint
   (``meta/station/fingerprints/``) beside the dataset, never touching the recorder's
   files;
4. publishes the station's public key and writes the signed manifest
   (``meta/station/manifests/``);
5. records the episode in the ledger. A ledger that cannot be reached does not undo
   the rest: the verdict says so in ``ledger_error``, and closing the episode again
   later records it (the ledger is keyed by the episode's uuid).

See ``docs/quality.md`` for the files' formats.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

from robots.base import RobotSpec
from teleop.ledger import EpisodeEntry, Ledger, LedgerError, utc_now
from teleop.quality import manifest
from teleop.quality.assess import Assessment, assess
from teleop.quality.config import Thresholds
from teleop.quality.duplicates import Fingerprint
from teleop.quality.episode_data import INFO, ROBOT_FILE, DatasetView, JointLimits
from teleop.quality.signing import SigningError, StationKey
from teleop.quality.store import (
    FINGERPRINTS_DIR,
    KEYS_DIR,
    MANIFESTS_DIR,
    QUALITY_DIR,
    episode_file,
    write_bytes,
    write_json,
)
from teleop.quality.verdict import EpisodeVerdict

log = logging.getLogger(__name__)

QUALITY_FORMAT = "teleop.quality/1"


class _FingerprintCache:
    """Fingerprints of a dataset's closed episodes, read from disk once per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_root: dict[Path, dict[int, Fingerprint]] = {}

    def earlier(self, root: Path, index: int) -> list[Fingerprint]:
        """Fingerprints of the episodes before ``index`` that have one."""
        with self._lock:
            known = self._by_root.setdefault(root.resolve(), {})
            for path in sorted((root / FINGERPRINTS_DIR).glob("episode_*.json")):
                i = int(path.stem.removeprefix("episode_"))
                if i < index and i not in known:
                    try:
                        known[i] = Fingerprint.from_dict(json.loads(path.read_text()))
                    except (OSError, ValueError, KeyError) as exc:
                        log.warning("ignoring unreadable fingerprint %s: %s", path, exc)
            return [fp for i, fp in sorted(known.items()) if i < index]

    def add(self, root: Path, fp: Fingerprint) -> None:
        with self._lock:
            self._by_root.setdefault(root.resolve(), {})[fp.episode_index] = fp


_FINGERPRINTS = _FingerprintCache()


def _check_key_location(key: StationKey, dataset_root: Path) -> None:
    root = dataset_root.resolve()
    if key.path.resolve().is_relative_to(root):
        raise SigningError(
            f"the station key {key.path} is inside the dataset {root}, where it would be "
            "published with the data; keep it elsewhere (set $TELEOP_KEY_DIR)"
        )


def _publish_limits(root: Path, spec: RobotSpec) -> None:
    """Write ``meta/station/robot.json`` once. It is never rewritten: every manifest
    signs it, so changing it would break the earlier episodes' signatures."""
    doc = JointLimits(spec.joint_names, spec.lower.copy(), spec.upper.copy()).to_dict()
    path = root / ROBOT_FILE
    try:
        published = json.loads(path.read_text())
    except FileNotFoundError:
        write_json(path, doc)
        return
    except (OSError, ValueError) as exc:
        log.warning("cannot read %s (%s); keeping it as it is", path, exc)
        return
    if published != doc:
        log.warning("%s holds other joint limits than this robot's; the published ones apply",
                    path)  # fmt: skip


def _quality_doc(a: Assessment, t: Thresholds, contributor: str, name: str) -> dict[str, Any]:
    return {
        "format": QUALITY_FORMAT,
        "episode_index": a.episode.index,
        "episode_uuid": a.episode.uuid,
        "duration_s": a.episode.duration_s,
        "score": a.score,
        "accepted": a.accepted,
        "duplicate_of": a.duplicate.of_episode if a.duplicate else None,
        "checks": [c.to_dict() for c in a.checks],
        "thresholds": t.to_dict(),
        "contributor": {"principal": contributor, "name": name},
        "checked_at": utc_now(),
    }


def _sign(view: DatasetView, a: Assessment, key: StationKey, station_files: list[Path]) -> Path:
    """Publish the public key, then write the signed manifest; returns its path."""
    root, index = view.root, a.episode.index
    key_file = root / KEYS_DIR / f"{key.key_id}.pem"
    if not key_file.is_file():
        write_bytes(key_file, key.public_pem)
    files = {
        rel: {"sha256": digest, "bytes": size} for rel, (digest, size) in a.file_hashes.items()
    }
    files.update(manifest.file_entries(root, station_files))
    body = {
        "format": manifest.FORMAT,
        "episode_index": index,
        "episode_uuid": a.episode.uuid,
        "signed_at": utc_now(),
        "files": files,
        "metadata": manifest.episode_metadata(view, index),
    }
    path = root / episode_file(MANIFESTS_DIR, index)
    write_json(path, manifest.sign(body, key))
    return path


def _record(
    ledger: Ledger,
    view: DatasetView,
    a: Assessment,
    contributor: str,
    name: str,
    session_id: int | None,
) -> str | None:
    ep = a.episode
    entry = EpisodeEntry(
        principal=contributor,
        name=name,
        dataset=view.root.name,
        episode_index=ep.index,
        episode_uuid=ep.uuid or f"{view.root.name}#{ep.index}",
        duration_s=ep.duration_s,
        score=a.score,
        accepted=a.accepted,
        recorded_at=str(ep.station("started_at", "")),
        session_id=session_id,
    )
    try:
        ledger.record_episode(entry)
    except LedgerError as exc:
        log.error("episode %d is checked and signed but not in the ledger: %s", ep.index, exc)
        return str(exc)
    return None


def close_episode(
    dataset_root: Path,
    episode_index: int,
    *,
    key: StationKey,
    ledger: Ledger | None,
    contributor: str,
    contributor_name: str = "",
    session_id: int | None = None,
    thresholds: Thresholds | None = None,
    spec: RobotSpec | None = None,
) -> EpisodeVerdict:
    """Check, score, sign and account for one saved episode.

    Args:
        dataset_root: The dataset directory, ``<record-dir>/<dataset>``.
        episode_index: The episode ``Recorder.stop()`` just saved.
        key: The station key (:meth:`StationKey.load_or_create`).
        ledger: Where to record the episode; None to skip the ledger.
        contributor: The operator's token principal (``Identity.principal``).
        contributor_name: The name the operator gave at ``hello``.
        session_id: The operator's ledger session (:meth:`Ledger.open_session`).
        thresholds: The quality thresholds (default: :class:`Thresholds()`).
        spec: The robot's spec; publishes its joint limits for the ``joint_limits``
            check (without it, and none published before, that check is skipped).

    Returns:
        The verdict: score, accepted, every check, the duplicate, the manifest path.

    Raises:
        DatasetReadError: The episode's files cannot be read.
        SigningError: The key lies inside the dataset.
        OSError: The station's files cannot be written.
    """
    t = thresholds or Thresholds()
    root = Path(dataset_root)
    _check_key_location(key, root)
    if spec is not None:
        _publish_limits(root, spec)
    view = DatasetView(root)
    a = assess(view, episode_index, t, _FINGERPRINTS.earlier(root, episode_index))
    fp_rel = episode_file(FINGERPRINTS_DIR, episode_index)
    quality_rel = episode_file(QUALITY_DIR, episode_index)
    write_json(root / fp_rel, a.fingerprint.to_dict(), indent=None)
    write_json(root / quality_rel, _quality_doc(a, t, contributor, contributor_name))
    station_files = [quality_rel, fp_rel] + ([ROBOT_FILE] if (root / ROBOT_FILE).is_file() else [])
    manifest_path = _sign(view, a, key, station_files)
    _FINGERPRINTS.add(root, a.fingerprint)
    ledger_error = None
    if ledger is not None:
        ledger_error = _record(ledger, view, a, contributor, contributor_name, session_id)
    verdict = _verdict(a, manifest_path, ledger_error)
    log.info("%s", verdict.summary())
    return verdict


def _verdict(a: Assessment, manifest_path: Path, ledger_error: str | None) -> EpisodeVerdict:
    return EpisodeVerdict(
        episode_index=a.episode.index,
        episode_uuid=a.episode.uuid,
        duration_s=a.episode.duration_s,
        score=a.score,
        accepted=a.accepted,
        checks=a.checks,
        duplicate_of=a.duplicate.of_episode if a.duplicate else None,
        manifest_path=manifest_path,
        ledger_error=ledger_error,
    )


def unclosed_episodes(dataset_root: Path) -> list[int]:
    """Episodes of a dataset with no signed manifest yet (e.g. the server died after
    saving them); close them with :func:`close_episode` at startup.

    A dataset that has no episode yet (no ``meta/info.json``) has none to close.

    Raises:
        DatasetReadError: The dataset's metadata cannot be read.
    """
    if not (Path(dataset_root) / INFO).is_file():
        return []
    view = DatasetView(Path(dataset_root))
    return [
        i
        for i in range(view.n_episodes)
        if not (view.root / episode_file(MANIFESTS_DIR, i)).is_file()
    ]
