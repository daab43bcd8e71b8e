"""``teleop bench [SUITE ...]``: run benchmarks and print one report."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from teleop.bench.report import Figure, format_table, machine, write_json


def _run_sim(args: argparse.Namespace) -> list[Figure]:
    from teleop.bench.sim import run_sim_bench

    return run_sim_bench(seconds=args.seconds)


def _run_relay(args: argparse.Namespace) -> list[Figure]:
    from teleop.bench.relay import run_relay_bench

    return run_relay_bench(seconds=args.seconds)


def _run_record(args: argparse.Namespace) -> list[Figure]:
    from teleop.bench.record import run_record_bench

    return run_record_bench(seconds=args.seconds)


def _run_bus(args: argparse.Namespace) -> list[Figure]:
    from teleop.bench.bus import run_bus_bench

    return run_bus_bench(seconds=args.seconds)


def _run_leader(args: argparse.Namespace) -> list[Figure]:
    from teleop.bench.leader import run_leader_bench

    return run_leader_bench(seconds=args.seconds)


def _run_verify(args: argparse.Namespace) -> list[Figure]:
    from teleop.bench.verify import run_verify_bench

    return run_verify_bench(seconds=args.seconds)


def _run_soak(args: argparse.Namespace) -> list[Figure]:
    from teleop.bench.soak import run_soak_bench

    return run_soak_bench(minutes=args.minutes)


SUITES: dict[str, Callable[[argparse.Namespace], list[Figure]]] = {
    "sim": _run_sim,
    "relay": _run_relay,
    "record": _run_record,
    "bus": _run_bus,
    "leader": _run_leader,
    "verify": _run_verify,
    "soak": _run_soak,
}
DEFAULT_SUITES = ("sim", "relay", "record", "bus", "leader", "verify")
"""What a bare ``teleop bench`` runs; the soak runs only when named."""


def add_bench_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "bench",
        help="run benchmarks and print figures beside same-run references",
        description="Run benchmarks; each figure is printed beside a reference measured "
        "in the same run. With no suite, every suite runs.",
    )
    parser.add_argument(
        "suites",
        nargs="*",
        metavar="SUITE",
        help=f"suites to run: {', '.join(SUITES)} (default: all)",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=10.0,
        help="measurement window per scenario, in s (default 10)",
    )
    parser.add_argument(
        "--minutes", type=float, default=1.0, help="how long the soak runs, in min (default 1)"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write results as JSON")
    parser.set_defaults(run=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    unknown = [name for name in args.suites if name not in SUITES]
    if unknown or args.seconds <= 0 or args.minutes <= 0:
        problem = (
            f"unknown suite {unknown[0]!r}" if unknown else "--seconds and --minutes must be > 0"
        )
        sys.stderr.write(f"teleop bench: error: {problem}; suites: {', '.join(SUITES)}\n")
        return 2
    figures: list[Figure] = []
    for name in args.suites or DEFAULT_SUITES:
        figures.extend(SUITES[name](args))
    info = machine()
    print(
        f"machine: {info['cpus']} CPUs, {info['processor']}, {info['system']}, "
        f"Python {info['python']}, load {info['load_avg_1m']:.2f}"
    )
    print(format_table(figures))
    if args.json:
        write_json(args.json, figures)
        print(f"wrote {args.json}")
    return 0
