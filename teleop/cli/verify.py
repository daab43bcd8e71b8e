"""``teleop verify PATH``: check every episode again and every signature, read-only.

Prints a table, one row per episode: its score, whether it is accepted, whether it still
matches its signed manifest, and each check's verdict; then every problem, naming the
file or field. ``--json`` prints the full report instead. A progress bar (rich) shows on
a terminal.

Exit status: 0 when every episode is readable and matches its manifest; 1 when not
(or, with ``--strict``, when an episode is rejected); 2 for bad arguments or a path that
holds no dataset.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from teleop.quality.assess import CHECK_NAMES
from teleop.quality.config import Thresholds, load_thresholds
from teleop.quality.errors import DatasetReadError, ThresholdsError
from teleop.quality.signing import SigningError, key_id, load_public_key
from teleop.quality.verdict import Status
from teleop.quality.verify import DatasetReport, EpisodeReport, verify_dataset

SHORT = {
    "rates": "rate",
    "max_gap": "gap",
    "monotonic": "mono",
    "duration": "dur",
    "complete": "cmpl",
    "finite": "nan",
    "camera_repeats": "rep",
    "frame_skew": "skew",
    "video_frames": "mp4",
    "camera_frozen": "frz",
    "camera_blank": "blank",
    "joint_limits": "lim",
    "clamps": "clamp",
    "idle": "idle",
    "tracking": "track",
    "duplicate": "dup",
}
CELL = {Status.PASS: "ok", Status.WARN: "warn", Status.FAIL: "FAIL", Status.SKIP: "-"}


def add_verify_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "verify",
        help="check a dataset's episodes and signatures (read-only)",
        description="Run every quality check on every episode of a dataset again, and "
        "check every signed manifest; name any file or episode that no longer matches. "
        "Nothing is modified. Exit status 1 when a file or signature does not match.",
    )
    parser.add_argument(
        "path", type=Path, metavar="PATH", help="the dataset directory, e.g. recordings/NAME"
    )
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    parser.add_argument(
        "--thresholds",
        type=Path,
        metavar="FILE",
        help="JSON or TOML file overriding quality thresholds (see docs/quality.md)",
    )
    parser.add_argument(
        "--key",
        type=Path,
        metavar="PEM",
        help="trust only this station public key (default: the keys the "
        "dataset publishes in meta/station/keys/)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="also exit 1 when an episode fails a quality check"
    )
    parser.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    parser.set_defaults(run=run_verify)


def _error(message: str, status: int) -> int:
    sys.stderr.write(f"teleop verify: error: {message}\n")
    return status


def _trusted(path: Path | None) -> dict[str, Ed25519PublicKey] | None:
    if path is None:
        return None
    try:
        key = load_public_key(path.read_bytes(), str(path))
    except OSError as exc:
        raise SigningError(f"cannot read --key {path}: {exc.strerror or exc}") from exc
    return {key_id(key): key}


@contextmanager
def _progress(enabled: bool, total: int) -> Iterator[Callable[[EpisodeReport], None]]:
    """A rich progress bar on stderr, advanced once per episode (a no-op when disabled)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield lambda report: None
        return
    columns = ("verifying", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("verify", total=total)
        yield lambda report: bar.advance(task)


def _count_episodes(path: Path) -> int:
    try:
        return int(json.loads((path / "meta/info.json").read_text())["total_episodes"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def run_verify(args: argparse.Namespace) -> int:
    path: Path = args.path
    if not path.is_dir():
        return _error(f"{path} is not a directory: no such dataset (see --help)", 2)
    try:
        thresholds = load_thresholds(args.thresholds) if args.thresholds else Thresholds()
        trusted = _trusted(args.key)
    except (ThresholdsError, SigningError) as exc:
        return _error(str(exc), 2)
    try:
        with _progress(not args.no_progress, _count_episodes(path)) as advance:
            report = verify_dataset(path, thresholds, trusted_keys=trusted, on_episode=advance)
    except DatasetReadError as exc:
        return _error(str(exc), 2 if not (path / "meta/info.json").exists() else 1)
    print(json.dumps(report.to_dict(), indent=2) if args.json else format_report(report))
    rejected = any(e.assessment is None or not e.assessment.accepted for e in report.episodes)
    return 0 if report.intact and not (args.strict and rejected) else 1


def _row(e: EpisodeReport) -> list[str]:
    a = e.assessment
    sig = {"ok": "ok", "mismatch": "BAD", "missing": "none", "unreadable": "BAD"}[e.manifest]
    if a is None:
        return [str(e.index), "?", "?", "unreadable", sig] + ["?"] * len(CHECK_NAMES)
    cells = {c.name: CELL[c.status] for c in a.checks}
    verdict = "yes" if a.accepted else "no"
    head = [str(e.index), f"{a.episode.duration_s:.1f}", f"{a.score:.2f}", verdict, sig]
    return head + [cells.get(n, "?") for n in CHECK_NAMES]


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            c.rjust(w) if i < 3 else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in rows
    ]
    return "\n".join(lines)


def _check_findings(report: DatasetReport) -> list[str]:
    lines = []
    for e in report.episodes:
        for c in e.assessment.checks if e.assessment else ():
            if c.status in (Status.FAIL, Status.WARN):
                lines.append(f"  episode {e.index} {c.name} {c.status.value}: {c.detail}")
    return lines


def format_report(report: DatasetReport) -> str:
    """The human report: the table, the problems, and a summary line."""
    header = ["ep", "dur_s", "score", "accepted", "signed", *(SHORT[n] for n in CHECK_NAMES)]
    out = [
        f"dataset {report.root} ({len(report.episodes)} episodes, {report.fps} fps, "
        f"cameras: {', '.join(report.cameras) or 'none'})",
        "",
        _table([header, *(_row(e) for e in report.episodes)]),
    ]
    problems = [f"  {p}" for p in report.problems]
    problems += [f"  {p}" for e in report.episodes for p in e.problems]
    if problems:
        out += ["", "integrity problems (files or fields that no longer match):", *problems]
    findings = _check_findings(report)
    if findings:
        out += ["", "quality findings:", *findings]
    accepted = sum(1 for e in report.episodes if e.assessment and e.assessment.accepted)
    intact = sum(1 for e in report.episodes if e.intact)
    speed = report.episode_s / report.elapsed_s if report.elapsed_s > 0 else 0.0
    out += [
        "",
        f"{accepted} of {len(report.episodes)} episodes accepted; {intact} match their "
        f"signed manifest; {report.video_s / 60:.1f} video-minutes verified in "
        f"{report.elapsed_s:.1f} s ({speed:.0f}x real time)",
        "legend: ok pass, warn warning, FAIL failure, - not applicable; signed: ok, "
        "BAD (a file or field changed), none (no manifest)",
    ]
    return "\n".join(out)
