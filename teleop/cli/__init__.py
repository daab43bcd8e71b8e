"""The ``teleop`` command line: one module per subcommand in this package. Only the
command line (this package and the bench report) prints; libraries log.

Each subcommand registers itself in ``SUBCOMMANDS``; bad arguments give a one-line
error and exit status 2.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence
from typing import NoReturn

from teleop.bench.cli import add_bench_parser
from teleop.cli.gamepad import add_gamepad_parser
from teleop.cli.leader import add_leader_parser
from teleop.cli.ledger import add_ledger_parser
from teleop.cli.recover import add_recover_parser
from teleop.cli.serial import add_calibrate_parser, add_emulate_bus_parser
from teleop.cli.serve import add_serve_parser
from teleop.cli.verify import add_verify_parser

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

SUBCOMMANDS: list[Register] = [
    add_serve_parser,
    add_gamepad_parser,
    add_leader_parser,
    add_emulate_bus_parser,
    add_calibrate_parser,
    add_recover_parser,
    add_verify_parser,
    add_ledger_parser,
    add_bench_parser,
]


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors fit on one line."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="teleop", description="Teleoperation data-collection station.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    sub: argparse._SubParsersAction[argparse.ArgumentParser] = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_Parser
    )
    sub.required = True
    for register in SUBCOMMANDS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        return 130
