"""``close_episode``: what the server calls after each saved episode."""

from __future__ import annotations

import dataclasses
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from qualitykit import CLEAN, REPLAY, SLOW, snapshot

from robots.base import RobotSpec
from teleop.ledger import Ledger
from teleop.quality.errors import DatasetReadError
from teleop.quality.signing import SigningError, StationKey
from teleop.station.episode_close import close_episode, unclosed_episodes

ALICE = ("token:0123456789ab", "alice")


def _close(
    root: Path,
    index: int,
    key: StationKey,
    spec: RobotSpec,
    ledger: Ledger | None = None,
    session: int | None = None,
):
    return close_episode(
        root,
        index,
        key=key,
        ledger=ledger,
        contributor=ALICE[0],
        contributor_name=ALICE[1],
        session_id=session,
        spec=spec,
    )


def test_episodes_go_into_the_ledger_with_their_score(
    dataset: Path, key: StationKey, spec: RobotSpec
) -> None:
    record_dir = dataset.parent
    with Ledger.open(None, record_dir=record_dir) as ledger:
        session = ledger.open_session(*ALICE)
        verdicts = [_close(dataset, i, key, spec, ledger, session) for i in range(3)]
        ledger.close_session(session, lease_held_s=42.0, active_s=12.5)
        (alice,) = ledger.totals()
    assert (record_dir / "ledger.sqlite3").is_file()
    assert [v.accepted for v in verdicts] == [True, False, False]
    assert all(v.ledger_error is None for v in verdicts)
    assert (alice.principal, alice.name, alice.sessions) == ALICE + (1,)
    assert (alice.episodes_accepted, alice.episodes_rejected) == (1, 2)
    assert alice.credited_s == pytest.approx(verdicts[CLEAN].duration_s * verdicts[CLEAN].score)
    assert alice.credited_s == pytest.approx(2.5, abs=0.1)
    assert (alice.lease_held_s, alice.active_s) == (42.0, 12.5)


def test_unreachable_ledger_keeps_the_verdict_and_says_why(
    dataset: Path, key: StationKey, spec: RobotSpec
) -> None:
    sqlite = dataset.parent / "elsewhere.sqlite3"
    ledger = Ledger.open(str(sqlite))
    sqlite.unlink()  # the database vanishes under the open ledger: writes fail
    sqlite.mkdir()
    try:
        verdict = _close(dataset, CLEAN, key, spec, ledger)
    finally:
        ledger.close()
    assert verdict.accepted and verdict.ledger_error is not None
    assert verdict.ledger_error.startswith(f"cannot write the ledger at {sqlite}")
    assert "not in the ledger" in verdict.summary()
    assert verdict.manifest_path is not None and verdict.manifest_path.is_file()


def test_recorder_files_are_never_touched(dataset: Path, key: StationKey, spec: RobotSpec) -> None:
    before = {k: v for k, v in snapshot(dataset).items() if not k.startswith("meta/station")}
    for i in range(3):
        _close(dataset, i, key, spec)
    after = {k: v for k, v in snapshot(dataset).items() if not k.startswith("meta/station")}
    assert after == before
    station = sorted(
        p.relative_to(dataset).as_posix() for p in (dataset / "meta/station").rglob("*.*")
    )
    assert station == [
        "meta/station/fingerprints/episode_000000.json",
        "meta/station/fingerprints/episode_000001.json",
        "meta/station/fingerprints/episode_000002.json",
        f"meta/station/keys/{key.key_id}.pem",
        "meta/station/manifests/episode_000000.json",
        "meta/station/manifests/episode_000001.json",
        "meta/station/manifests/episode_000002.json",
        "meta/station/quality/episode_000000.json",
        "meta/station/quality/episode_000001.json",
        "meta/station/quality/episode_000002.json",
        "meta/station/robot.json",
    ]
    assert (dataset / f"meta/station/keys/{key.key_id}.pem").read_bytes() == key.public_pem


def test_manifest_names_every_file_and_the_metadata(
    dataset: Path, key: StationKey, spec: RobotSpec
) -> None:
    verdict = _close(dataset, SLOW, key, spec)
    assert verdict.manifest_path == dataset / "meta/station/manifests/episode_000001.json"
    doc = json.loads(verdict.manifest_path.read_text())
    assert doc["key_id"] == key.key_id and isinstance(doc["signature"], str)
    body = doc["manifest"]
    assert body["format"] == "teleop.manifest/1" and body["episode_index"] == SLOW
    assert sorted(body["files"]) == [
        "data/chunk-000/file-001.parquet",
        "meta/station/fingerprints/episode_000001.json",
        "meta/station/quality/episode_000001.json",
        "meta/station/robot.json",
        "videos/observation.images.front/chunk-000/file-001.mp4",
        "videos/observation.images.wrist/chunk-000/file-001.mp4",
    ]
    episode = body["metadata"]["episode"]
    assert episode["station/operator"] == "alice" and episode["length"] > 70
    assert body["metadata"]["dataset"]["fps"] == 30


def test_unclosed_episodes_and_reclosing(dataset: Path, key: StationKey, spec: RobotSpec) -> None:
    assert unclosed_episodes(dataset) == [CLEAN, SLOW, REPLAY]
    _close(dataset, SLOW, key, spec)
    assert unclosed_episodes(dataset) == [CLEAN, REPLAY]
    # Closed out of order, the replay still finds the clean episode once it is closed.
    assert _close(dataset, REPLAY, key, spec).duplicate_of is None
    _close(dataset, CLEAN, key, spec)
    assert _close(dataset, REPLAY, key, spec).duplicate_of == CLEAN
    assert unclosed_episodes(dataset) == []


def test_parallel_closing(dataset: Path, key: StationKey, spec: RobotSpec) -> None:
    with ThreadPoolExecutor(3) as pool:
        verdicts = list(pool.map(lambda i: _close(dataset, i, key, spec), range(3)))
    assert [v.episode_index for v in verdicts] == [0, 1, 2]
    assert unclosed_episodes(dataset) == []


def test_key_inside_the_dataset_is_refused(dataset: Path, spec: RobotSpec) -> None:
    key = StationKey.load_or_create(dataset / "meta" / "station_key.pem")
    with pytest.raises(SigningError, match="inside the dataset"):
        _close(dataset, CLEAN, key, spec)
    assert not (dataset / "meta/station").exists()


def test_unknown_episode_is_a_clear_error(dataset: Path, key: StationKey, spec: RobotSpec) -> None:
    with pytest.raises(DatasetReadError, match=r"has no episode 9 \(it has 3\)"):
        _close(dataset, 9, key, spec)


def test_summary_for_the_operator(dataset: Path, key: StationKey, spec: RobotSpec) -> None:
    verdict = _close(dataset, SLOW, key, spec)
    assert verdict.summary().startswith("episode 1: score 0.94, rejected; fail: rates (control ")
    assert "of 100 Hz, record " in verdict.summary()
    doc = verdict.to_dict()
    assert doc["accepted"] is False and doc["checks"][0]["name"] == "rates"


def test_published_joint_limits_are_never_rewritten(
    dataset: Path, key: StationKey, spec: RobotSpec
) -> None:
    _close(dataset, CLEAN, key, spec)
    published = (dataset / "meta/station/robot.json").read_bytes()
    first = dataclasses.replace(spec.joints[0], lower=-0.5)
    recalibrated = dataclasses.replace(spec, joints=(first, *spec.joints[1:]))
    _close(dataset, SLOW, key, recalibrated)
    assert (dataset / "meta/station/robot.json").read_bytes() == published
    assert json.loads(published)["lower"][0] == spec.joints[0].lower
