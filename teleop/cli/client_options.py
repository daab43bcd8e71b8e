"""What the client commands (``teleop gamepad``, ``teleop leader``) share: the options
that reach a server, their checks, how a refusal reads, and running the client app until
it ends or the user stops it."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
from collections.abc import Coroutine
from typing import Any

from teleop.client import ClientError
from teleop.clients.status_line import StatusLine, logs_clear_status
from teleop.protocol.messages import MAX_NAME_CHARS

TOKEN_ENV = "TELEOP_TOKEN"


def add_server_options(parser: argparse.ArgumentParser, client: str) -> None:
    """``--url``, ``--token`` and ``--name`` (default ``<client>@<hostname>``)."""
    parser.add_argument("--url", required=True, help="the server, e.g. ws://127.0.0.1:8765")
    parser.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV),
        help=f"the server's --token (or set ${TOKEN_ENV})",
    )
    parser.add_argument(
        "--name",
        default=f"{client}@{socket.gethostname()}"[:MAX_NAME_CHARS],
        help="this client's name, shown to others and written into recordings",
    )


def check_server_options(args: argparse.Namespace) -> str | None:
    """What is wrong with ``--url`` or ``--name``, or None."""
    if not args.url.startswith(("ws://", "wss://")):
        return f"--url {args.url!r}: expected ws://HOST:PORT or wss://HOST:PORT"
    if not 0 < len(args.name) <= MAX_NAME_CHARS:
        return f"--name must have 1 to {MAX_NAME_CHARS} characters"
    return None


def refusal(exc: ClientError, url: str) -> str:
    """The server's refusal, with what to do about it where that is known."""
    if exc.code == "unauthorized":
        return (
            f"{url} refused the token (HTTP 401): pass the server's token with --token "
            f"or ${TOKEN_ENV}"
        )
    if exc.code == "forbidden":
        return f"{url} refused this client (HTTP 403): {exc.message}"
    return str(exc)


async def run_until_stopped(app: Coroutine[Any, Any, None], printer: StatusLine[Any]) -> None:
    """Run ``app`` until it returns or SIGINT/SIGTERM arrives; re-raise what it raised.

    The status line is finished either way, and log lines meanwhile do not garble it.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with logs_clear_status(printer):
        task = asyncio.create_task(app)
        stopper = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for each in (task, stopper):
                each.cancel()
            await asyncio.gather(task, stopper, return_exceptions=True)
            printer.finish()
    if not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]
