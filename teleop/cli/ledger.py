"""``teleop ledger``: each contributor's teleoperation hours, episodes and credited time.

Reads the ledger (SQLite in the record directory by default, or ``--ledger URL``) and
prints one row per contributor: sessions, teleoperation hours (lease held), active hours
(arm moving), episodes accepted and rejected, and credited hours (accepted duration x
quality score). ``--json`` and ``--csv`` give the same numbers, with seconds too.
Nothing is written.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from teleop.ledger import ContributorTotals, Ledger, LedgerError

COLUMNS = (
    "principal",
    "name",
    "sessions",
    "lease_held_h",
    "active_h",
    "episodes_accepted",
    "episodes_rejected",
    "accepted_h",
    "credited_h",
)


def add_ledger_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "ledger",
        help="print each contributor's hours, episodes and credited time",
        description="Print the contribution ledger, one row per contributor (token "
        "principal and name): teleoperation hours (lease held), active hours (arm "
        "moving), episodes accepted and rejected, and credited hours (accepted "
        "duration x quality score). Read-only.",
    )
    parser.add_argument(
        "--record-dir",
        type=Path,
        default=Path("recordings"),
        metavar="DIR",
        help="record directory holding ledger.sqlite3 (default recordings)",
    )
    parser.add_argument(
        "--ledger",
        metavar="URL",
        help="postgresql://user@host/db, sqlite:///PATH or a file path "
        "(default: DIR/ledger.sqlite3)",
    )
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="print JSON")
    form.add_argument("--csv", action="store_true", help="print CSV")
    parser.set_defaults(run=run_ledger)


def run_ledger(args: argparse.Namespace) -> int:
    try:
        with Ledger.open(args.ledger, record_dir=args.record_dir, readonly=True) as ledger:
            totals = ledger.totals()
    except LedgerError as exc:
        sys.stderr.write(f"teleop ledger: error: {exc}\n")
        return 1
    if args.json:
        print(json.dumps([t.to_dict() for t in totals], indent=2))
    elif args.csv:
        sys.stdout.write(to_csv(totals))
    else:
        print(format_table(totals))
    return 0


def to_csv(totals: Sequence[ContributorTotals]) -> str:
    """The totals as CSV with a header row; hours as plain decimals."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for t in totals:
        row = t.to_dict()
        writer.writerow([f"{row[c]:.6f}" if isinstance(row[c], float) else row[c] for c in COLUMNS])
    return out.getvalue()


def format_table(totals: Sequence[ContributorTotals]) -> str:
    """The totals as an aligned text table, with a total row."""
    if not totals:
        return "the ledger has no contributors yet"
    header = [
        "contributor",
        "name",
        "sessions",
        "teleop_h",
        "active_h",
        "accepted",
        "rejected",
        "credited_h",
    ]
    rows = [header] + [
        [
            t.principal,
            t.name or "-",
            str(t.sessions),
            f"{t.lease_held_s / 3600:.2f}",
            f"{t.active_s / 3600:.2f}",
            str(t.episodes_accepted),
            str(t.episodes_rejected),
            f"{t.credited_s / 3600:.2f}",
        ]
        for t in totals
    ]
    rows.append(
        [
            "total",
            "",
            str(sum(t.sessions for t in totals)),
            f"{sum(t.lease_held_s for t in totals) / 3600:.2f}",
            f"{sum(t.active_s for t in totals) / 3600:.2f}",
            str(sum(t.episodes_accepted for t in totals)),
            str(sum(t.episodes_rejected for t in totals)),
            f"{sum(t.credited_s for t in totals) / 3600:.2f}",
        ]
    )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(len(lines) - 1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
