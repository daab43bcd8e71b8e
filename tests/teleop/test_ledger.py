"""The contribution ledger: the same arithmetic on SQLite and on a real PostgreSQL server,
the ``teleop ledger`` command, and a ledger that cannot be reached.

The PostgreSQL server is started by this module (``initdb`` and ``pg_ctl`` from Debian's
``postgresql`` package, in a temp directory, on a free port) and stopped at the end. If
PostgreSQL is not installed, the tests fail and say how to install it.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import io
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from teleop.cli import _Parser
from teleop.cli.ledger import add_ledger_parser
from teleop.ledger import EpisodeEntry, Ledger, LedgerError, redact
from teleop.quality.activity import ActivityMeter

INSTALL = "apt-get update && apt-get install -y postgresql"


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name) or ""]
    if not found[-1]:
        pytest.fail(f"PostgreSQL is not installed (no {name}); install it with: {INSTALL}")
    return found[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL server on 127.0.0.1; yields the URL of its admin database."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    base = Path(tempfile.mkdtemp(prefix="teleop-pg-"))
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_postgres:  # initdb refuses to run as root
        shutil.chown(base, "postgres", "postgres")
    data, port = base / "data", _free_port()
    run = [*as_postgres]
    subprocess.run(
        [*run, initdb, "-D", str(data), "-U", "teleop", "--auth=trust", "--no-sync", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -F"
    subprocess.run(
        [
            *run,
            pg_ctl,
            "-D",
            str(data),
            "-l",
            str(base / "log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://teleop@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*run, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty database on the test server."""
    import psycopg

    name = f"ledger_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return postgres_server.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "ledger.sqlite3")
    return str(request.getfixturevalue("postgres_url"))


def _episode(
    n: int,
    who: tuple[str, str],
    duration_s: float,
    score: float,
    accepted: bool,
    session: int | None = None,
) -> EpisodeEntry:
    return EpisodeEntry(
        principal=who[0],
        name=who[1],
        dataset="ds",
        episode_index=n,
        episode_uuid=f"uuid-{n}",
        duration_s=duration_s,
        score=score,
        accepted=accepted,
        session_id=session,
    )


ALICE = ("token:aaaaaaaaaaaa", "alice")
BOB = ("anonymous", "bob")
ALICE_AS_CAROL = ("token:aaaaaaaaaaaa", "carol")  # same token, another name at hello


def _fill(ledger: Ledger) -> None:
    s1 = ledger.open_session(*ALICE, station_id="cell-1")
    ledger.record_episode(_episode(0, ALICE, 60.0, 0.9, True, s1))
    ledger.record_episode(_episode(1, ALICE, 30.0, 0.5, True, s1))
    ledger.record_episode(_episode(2, ALICE, 45.0, 0.2, False, s1))
    ledger.close_session(s1, lease_held_s=3600.0, active_s=1200.0)
    ledger.record_session(*ALICE, lease_held_s=1800.0, active_s=600.0)
    ledger.record_session(*BOB, lease_held_s=100.0, active_s=10.0)
    ledger.record_episode(_episode(3, BOB, 20.0, 0.0, False))
    ledger.record_session(*ALICE_AS_CAROL, lease_held_s=60.0, active_s=0.0)
    # Checked again (e.g. after a restart): updates episode 1, counts it once.
    ledger.record_episode(_episode(1, ALICE, 30.0, 0.6, True, s1))


def test_ledger_arithmetic(ledger_url: str) -> None:
    with Ledger.open(ledger_url) as ledger:
        _fill(ledger)
        totals = {(t.principal, t.name): t for t in ledger.totals()}
    assert set(totals) == {ALICE, BOB, ALICE_AS_CAROL}
    alice = totals[ALICE]
    assert (alice.sessions, alice.episodes_accepted, alice.episodes_rejected) == (2, 2, 1)
    assert alice.lease_held_s == pytest.approx(5400.0)
    assert alice.active_s == pytest.approx(1800.0)
    assert alice.accepted_s == pytest.approx(90.0)
    assert alice.credited_s == pytest.approx(60 * 0.9 + 30 * 0.6)
    assert alice.to_dict()["credited_h"] == pytest.approx(72.0 / 3600)
    bob = totals[BOB]
    assert (bob.sessions, bob.episodes_accepted, bob.episodes_rejected) == (1, 0, 1)
    assert bob.credited_s == 0.0 and bob.lease_held_s == pytest.approx(100.0)
    carol = totals[ALICE_AS_CAROL]
    assert (carol.episodes_accepted, carol.episodes_rejected, carol.sessions) == (0, 0, 1)


def test_reopening_keeps_the_data_and_the_schema(ledger_url: str) -> None:
    with Ledger.open(ledger_url) as ledger:
        _fill(ledger)
    with Ledger.open(ledger_url) as ledger:  # CREATE ... IF NOT EXISTS again
        ledger.record_session(*BOB, lease_held_s=50.0, active_s=5.0)
        bob = {(t.principal, t.name): t for t in ledger.totals()}[BOB]
    assert bob.sessions == 2 and bob.lease_held_s == pytest.approx(150.0)


def _columns(url: str) -> dict[str, list[str]]:
    tables = ("contributors", "sessions", "episodes")
    if url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(url) as conn:
            return {
                t: [
                    r[0]
                    for r in conn.execute(
                        "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                        "ORDER BY ordinal_position",
                        (t,),
                    )
                ]
                for t in tables
            }
    import sqlite3

    with contextlib.closing(sqlite3.connect(url)) as conn:
        return {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")] for t in tables}


def test_sqlite_and_postgresql_have_the_same_schema(tmp_path: Path, postgres_url: str) -> None:
    sqlite_url = str(tmp_path / "ledger.sqlite3")
    for url in (sqlite_url, postgres_url):
        Ledger.open(url).close()
    assert _columns(sqlite_url) == _columns(postgres_url)
    assert _columns(sqlite_url)["episodes"][:4] == [
        "id",
        "episode_uuid",
        "dataset",
        "episode_index",
    ]


def test_unreachable_postgresql_is_a_clear_error() -> None:
    url = f"postgresql://teleop:secret@127.0.0.1:{_free_port()}/ledger"
    t0 = time.monotonic()
    with pytest.raises(LedgerError) as err:
        Ledger.open(url)
    message = str(err.value)
    assert time.monotonic() - t0 < 10
    assert "cannot reach the ledger at postgresql://teleop:***@127.0.0.1" in message
    assert "refused" in message.lower() and "secret" not in message
    assert "\n" not in message


def test_redact_hides_only_the_password() -> None:
    assert redact("postgresql://u:pw@h:5/db") == "postgresql://u:***@h:5/db"
    assert redact("postgresql://u@h/db") == "postgresql://u@h/db"


def _ledger_cli(*argv: str) -> int:
    parser = _Parser(prog="teleop")
    add_ledger_parser(parser.add_subparsers(dest="command", parser_class=_Parser))
    args = parser.parse_args(["ledger", *argv])
    return int(args.run(args))


def test_ledger_command_table_json_csv(ledger_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with Ledger.open(ledger_url) as ledger:
        _fill(ledger)
    assert _ledger_cli("--ledger", ledger_url) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:4] == ["contributor", "name", "sessions", "teleop_h"]
    alice = next(line for line in table if "alice" in line).split()
    assert alice == ["token:aaaaaaaaaaaa", "alice", "2", "1.50", "0.50", "2", "1", "0.02"]
    assert table[-1].split()[:3] == ["total", "4", "1.54"]  # (5400 + 100 + 60) s
    assert _ledger_cli("--ledger", ledger_url, "--json") == 0
    rows = {(r["principal"], r["name"]): r for r in json.loads(capsys.readouterr().out)}
    assert rows[ALICE]["credited_s"] == pytest.approx(72.0)
    assert rows[ALICE]["lease_held_h"] == pytest.approx(1.5)
    assert _ledger_cli("--ledger", ledger_url, "--csv") == 0
    records = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    bob = next(r for r in records if r["name"] == "bob")
    assert bob["episodes_rejected"] == "1"
    assert float(bob["lease_held_h"]) == pytest.approx(100 / 3600, abs=1e-6)


def test_ledger_command_defaults_to_the_record_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Ledger.open(None, record_dir=tmp_path) as ledger:
        ledger.record_session(*BOB, lease_held_s=7200.0, active_s=3600.0)
    assert _ledger_cli("--record-dir", str(tmp_path)) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ["anonymous", "bob", "1", "2.00", "1.00", "0", "0", "0.00"] in rows


def test_ledger_command_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _ledger_cli("--record-dir", str(tmp_path / "none")) == 1
    err = capsys.readouterr().err
    assert err.startswith("teleop ledger: error: no ledger at ") and err.count("\n") == 1
    assert not (tmp_path / "none").exists()  # reading creates nothing
    assert _ledger_cli("--ledger", f"postgresql://127.0.0.1:{_free_port()}/x") == 1
    err = capsys.readouterr().err
    assert "cannot reach the ledger at postgresql://127.0.0.1" in err and err.count("\n") == 1
    with pytest.raises(SystemExit) as exit_:
        _ledger_cli("--json", "--csv")
    assert exit_.value.code == 2


def test_activity_meter_counts_only_moving_time() -> None:
    meter = ActivityMeter(idle_speed=0.05)
    q = [0.0, 0.0]
    for k in range(101):  # 1 s still at 100 Hz
        meter.update(k * 10_000_000, q)
    for k in range(101, 201):  # 1 s moving at 0.5 rad/s
        q = [0.005 * (k - 100), 0.0]
        meter.update(k * 10_000_000, q)
    meter.update(201 * 10_000_000 + 2_000_000_000, [1.0, 0.0])  # a 2 s stall: not counted
    assert meter.active_s == pytest.approx(1.0)
