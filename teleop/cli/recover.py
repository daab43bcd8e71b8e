"""``teleop recover PATH [--discard]``: leftover recording journals become episodes.

A server killed in the middle of an episode leaves its journal in ``PATH/journal/``.
This turns each one into an episode marked ``station/complete = false`` (or, with
``--discard``, deletes them). Earlier episodes are never touched.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from teleop.recorder import RecorderError, recover_path


def add_recover_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "recover",
        help="turn interrupted recordings into incomplete episodes (or discard them)",
        description="Find the journals that a killed server left in PATH/journal/ and "
        "publish each as an episode marked incomplete; earlier episodes are untouched.",
    )
    parser.add_argument("path", type=Path, metavar="PATH",
                        help="the dataset directory, e.g. recordings/NAME")  # fmt: skip
    parser.add_argument("--discard", action="store_true",
                        help="delete the leftover journals instead of recovering them")  # fmt: skip
    parser.set_defaults(run=run_recover)


def run_recover(args: argparse.Namespace) -> int:
    path: Path = args.path
    if not path.is_dir():
        sys.stderr.write(f"teleop recover: error: {path} is not a directory (see --help)\n")
        return 2
    try:
        summaries, discarded = recover_path(path, discard=args.discard)
    except RecorderError as exc:
        sys.stderr.write(f"teleop recover: error: {exc}\n")
        return 1
    if args.discard:
        print(f"discarded {len(discarded)} interrupted recording(s) in {path}")
        return 0
    if not summaries:
        print(f"nothing to recover in {path}")
    for s in summaries:
        state = "complete" if s.complete else "incomplete"
        print(f"recovered episode {s.episode_index}: {s.length} rows ({s.duration_s:.1f} s), "
              f"{state}, {s.rows_lost} rows without video dropped, task {s.task!r}")  # fmt: skip
    return 0
