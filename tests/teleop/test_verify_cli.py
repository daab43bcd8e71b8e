"""``teleop verify``: the table and the JSON report, the signatures, bad input, and that
nothing in the dataset is ever modified."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).parent / "quality"))  # the fixtures' module

from qualitykit import (
    CLEAN,
    REPLAY,
    SLOW,
    data_file,
    dataset,
    flip_byte,
    key,
    recorded,
    replace_byte_in,
    snapshot,
    spec,
    video_file,
)

from robots.base import RobotSpec
from teleop.cli import _Parser
from teleop.cli.verify import SHORT, add_verify_parser
from teleop.quality.assess import CHECK_NAMES
from teleop.quality.signing import StationKey
from teleop.station.episode_close import close_episode

__all__ = ["dataset", "key", "recorded", "spec"]  # fixtures

Captured = pytest.CaptureFixture[str]


def verify(*argv: str) -> int:
    parser = _Parser(prog="teleop")
    add_verify_parser(parser.add_subparsers(dest="command", parser_class=_Parser))
    args = parser.parse_args(["verify", *argv])
    return int(args.run(args))


@pytest.fixture
def closed(dataset: Path, key: StationKey, spec: RobotSpec) -> Path:
    """The dataset with every episode closed and signed."""
    for i in range(3):
        close_episode(
            dataset,
            i,
            key=key,
            ledger=None,
            contributor="token:0123456789ab",
            contributor_name="alice",
            spec=spec,
        )
    return dataset


def table_rows(out: str) -> dict[str, dict[str, str]]:
    """The episode table: episode -> column -> cell."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("ep "))
    header = lines[start].split()
    rows = {}
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        cells = line.split()
        rows[cells[0]] = dict(zip(header, cells, strict=True))
    return rows


def test_table_has_a_row_per_episode_and_a_column_per_check(closed: Path, capsys: Captured) -> None:
    before = snapshot(closed)
    assert verify(str(closed)) == 0
    out = capsys.readouterr().out
    rows = table_rows(out)
    assert set(rows) == {"0", "1", "2"}
    checks = [SHORT[name] for name in CHECK_NAMES]
    assert list(rows["0"]) == ["ep", "dur_s", "score", "accepted", "signed", *checks]
    assert rows["0"]["score"] == "1.00" and rows["0"]["accepted"] == "yes"
    assert {rows["0"][c] for c in checks} == {"ok"} and rows["0"]["signed"] == "ok"
    assert rows["1"]["rate"] == "FAIL" and rows["1"]["accepted"] == "no"
    assert rows["2"]["dup"] == "FAIL"
    assert "episode 2 duplicate fail: near-duplicate of episode 0" in out
    assert "1 of 3 episodes accepted; 3 match their signed manifest" in out
    assert snapshot(closed) == before


def test_json_is_the_full_report(closed: Path, capsys: Captured) -> None:
    assert verify(str(closed), "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["intact"] is True and report["accepted"] == 1
    assert report["cameras"] == ["front", "wrist"] and report["fps"] == 30
    episodes = report["episodes"]
    assert [e["episode_index"] for e in episodes] == [CLEAN, SLOW, REPLAY]
    assert [c["name"] for c in episodes[SLOW]["checks"]] == list(CHECK_NAMES)
    rates = episodes[SLOW]["checks"][0]
    assert rates["status"] == "fail" and 0.4 < rates["value"] < 0.6
    assert episodes[REPLAY]["duplicate_of"] == CLEAN
    assert episodes[CLEAN]["stored"]["score"] == episodes[CLEAN]["score"] == 1.0


@pytest.mark.parametrize(
    ("target", "needle"),
    [("video", b"Lavf"), ("parquet", b"parquet-cpp-arrow")],
)
def test_one_byte_changed_is_caught_by_the_signature_alone(
    closed: Path, capsys: Captured, target: str, needle: bytes
) -> None:
    # A byte that no decoder reads (the muxer or writer name): only the signature can tell.
    path = video_file(closed, "front", CLEAN) if target == "video" else data_file(closed, CLEAN)
    replace_byte_in(path, needle, needle[:1].swapcase())
    before = snapshot(closed)
    assert verify(str(closed)) == 1
    out = capsys.readouterr().out
    row = table_rows(out)["0"]
    assert row["signed"] == "BAD"
    assert {row[SHORT[c]] for c in CHECK_NAMES} == {"ok"}  # the content checks see nothing
    rel = path.relative_to(closed).as_posix()
    assert f"episode 0: {rel} does not match its manifest" in out
    assert table_rows(out)["1"]["signed"] == "ok"
    assert snapshot(closed) == before


@pytest.mark.parametrize("target", ["video", "parquet"])
def test_flipped_byte_anywhere_names_the_file(closed: Path, capsys: Captured, target: str) -> None:
    path = video_file(closed, "wrist", SLOW) if target == "video" else data_file(closed, SLOW)
    flip_byte(path, path.stat().st_size // 2)
    assert verify(str(closed)) == 1
    out = capsys.readouterr().out
    assert f"episode 1: {path.relative_to(closed).as_posix()}" in out
    assert table_rows(out)["1"]["signed"] == "BAD"


def test_edited_metadata_and_verdicts_are_named(closed: Path, capsys: Captured) -> None:
    episodes = closed / "meta/episodes/chunk-000/file-000.parquet"
    table = pq.read_table(episodes)
    i = table.schema.get_field_index("station/operator")
    names = pa.array(["alice", "mallory", "alice"], pa.string())
    pq.write_table(table.set_column(i, table.schema.field(i), names), episodes)
    quality = closed / "meta/station/quality/episode_000002.json"
    doc = json.loads(quality.read_text())
    doc["score"], doc["accepted"] = 1.0, True
    quality.write_text(json.dumps(doc))
    assert verify(str(closed)) == 1
    out = capsys.readouterr().out
    assert "episode 1: metadata station/operator changed since signing: 'alice' -> 'mallory'" in out
    assert "episode 2: meta/station/quality/episode_000002.json does not match its manifest" in out
    assert table_rows(out)["0"]["signed"] == "ok"


def test_altered_manifest_fails_its_signature(closed: Path, capsys: Captured) -> None:
    path = closed / "meta/station/manifests/episode_000000.json"
    doc = json.loads(path.read_text())
    doc["manifest"]["metadata"]["episode"]["station/success"] = False
    path.write_text(json.dumps(doc))
    assert verify(str(closed)) == 1
    assert "episode 0: the manifest's signature does not verify" in capsys.readouterr().out


def test_episode_without_manifest_is_named(
    dataset: Path, key: StationKey, spec: RobotSpec, capsys: Captured
) -> None:
    close_episode(dataset, CLEAN, key=key, ledger=None, contributor="token:x", spec=spec)
    assert verify(str(dataset)) == 1
    out = capsys.readouterr().out
    assert "episode 1 has no manifest (meta/station/manifests/episode_000001.json)" in out
    assert table_rows(out)["2"]["signed"] == "none" and table_rows(out)["0"]["signed"] == "ok"


def test_truncated_files_are_named(closed: Path, capsys: Captured) -> None:
    video = video_file(closed, "front", REPLAY)
    video.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    data_file(closed, SLOW).unlink()
    assert verify(str(closed)) == 1
    out = capsys.readouterr().out
    assert "episode 1: data/chunk-000/file-001.parquet is missing" in out
    assert table_rows(out)["1"]["accepted"] == "unreadable"
    rel = video.relative_to(closed).as_posix()
    assert f"episode 2: {rel} does not match its manifest" in out
    assert table_rows(out)["2"]["mp4"] == "FAIL"


def test_dataset_cut_short_is_named(closed: Path, capsys: Captured) -> None:
    info_path = closed / "meta/info.json"
    info = json.loads(info_path.read_text())
    info["total_episodes"] = 5
    info_path.write_text(json.dumps(info))
    assert verify(str(closed)) == 1
    err = capsys.readouterr().err
    assert "is truncated: meta/info.json counts 5 episodes but meta/episodes/" in err
    assert "episodes 3..4 are missing" in err and err.count("\n") == 1


def test_removed_episode_leaves_its_manifest_behind(closed: Path, capsys: Captured) -> None:
    info_path = closed / "meta/info.json"
    info = json.loads(info_path.read_text())
    info["total_episodes"] = 2  # as if the last episode had been cut off
    info_path.write_text(json.dumps(info))
    assert verify(str(closed)) == 1
    out = capsys.readouterr().out
    assert "meta/station/manifests/episode_000002.json signs episode 2, which the dataset " in out
    assert "data/chunk-000/file-002.parquet belongs to no episode" in out


def test_unknown_path_and_non_dataset_exit_2(tmp_path: Path, capsys: Captured) -> None:
    assert verify(str(tmp_path / "nowhere")) == 2
    err = capsys.readouterr().err
    nowhere = tmp_path / "nowhere"
    assert (
        err == f"teleop verify: error: {nowhere} is not a directory: no such dataset (see --help)\n"
    )
    assert verify(str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert "is not a LeRobot dataset: it has no meta/info.json" in err and err.count("\n") == 1


def test_thresholds_file(closed: Path, tmp_path: Path, capsys: Captured) -> None:
    strict = tmp_path / "strict.toml"
    strict.write_text("duration_warn_min_s = 3.0\nduration_min_s = 3.0\n")
    assert verify(str(closed), "--thresholds", str(strict)) == 0  # still intact
    rows = table_rows(capsys.readouterr().out)
    assert {rows[i]["dur"] for i in rows} == {"FAIL"}
    lenient = tmp_path / "lenient.json"
    lenient.write_text(json.dumps({"rate_fail": 0.4, "rate_warn": 0.4}))
    assert verify(str(closed), "--thresholds", str(lenient)) == 0
    assert table_rows(capsys.readouterr().out)["1"]["rate"] == "ok"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rate_fial": 0.4}))
    assert verify(str(closed), "--thresholds", str(bad)) == 2
    err = capsys.readouterr().err
    assert f"{bad}: unknown threshold 'rate_fial'" in err and err.count("\n") == 1
    bad.write_text(json.dumps({"rate_fail": 0.99}))
    assert verify(str(closed), "--thresholds", str(bad)) == 2
    assert "rate_fail (0.99) must not exceed rate_warn (0.95)" in capsys.readouterr().err


def test_strict_fails_on_rejected_episodes(closed: Path, capsys: Captured) -> None:
    assert verify(str(closed), "--strict") == 1
    capsys.readouterr()


def test_trusted_key(closed: Path, key: StationKey, tmp_path: Path, capsys: Captured) -> None:
    mine = tmp_path / "mine.pem"
    mine.write_bytes(key.public_pem)
    assert verify(str(closed), "--key", str(mine)) == 0
    other = StationKey.load_or_create(tmp_path / "other" / "key.pem")
    theirs = tmp_path / "theirs.pem"
    theirs.write_bytes(other.public_pem)
    capsys.readouterr()
    assert verify(str(closed), "--key", str(theirs)) == 1
    out = capsys.readouterr().out
    assert (
        f"signed by key '{key.key_id}', which is not a trusted key (known: {other.key_id})" in out
    )


def test_progress_bar_on_a_terminal(
    closed: Path, capsys: Captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich: treat the captured stderr as a terminal
    assert verify(str(closed)) == 0
    assert "verifying" in capsys.readouterr().err
    assert verify(str(closed), "--no-progress") == 0
    assert capsys.readouterr().err == ""
