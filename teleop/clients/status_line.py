"""A one-line status for terminal clients (``teleop gamepad``, ``teleop leader``).

On a terminal the line is rewritten in place; elsewhere (a log file, a test's pipe) a
line is written only when the status's *change key* changes, not for every reading.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TextIO, TypeVar

S = TypeVar("S")


class StatusLine(Generic[S]):
    """Writes a status to ``stream``.

    Args:
        stream: Where to write (the CLI's stdout).
        render: Turns a status into its one-line text.
        change_key: What must change, off a terminal, for a new line to be written.
    """

    def __init__(
        self, stream: TextIO, render: Callable[[S], str], change_key: Callable[[S], Hashable]
    ) -> None:
        self._stream = stream
        self._render = render
        self._change_key = change_key
        self._tty = stream.isatty()
        self._width = 0
        self._last_key: Hashable | None = None

    def __call__(self, status: S) -> None:
        line = self._render(status)
        if self._tty:
            self._stream.write("\r" + line.ljust(self._width))
            self._width = len(line)
        else:
            key = self._change_key(status)
            if key == self._last_key:
                return
            self._last_key = key
            self._stream.write(line + "\n")
        self._stream.flush()

    def say(self, text: str) -> None:
        """A message on a line of its own."""
        self.clear()
        self._stream.write(text + "\n")
        self._stream.flush()

    def clear(self) -> None:
        """Erase the status line from a terminal (it comes back with the next status)."""
        if self._tty and self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()
            self._width = 0

    def finish(self) -> None:
        """End the in-place line, so the shell prompt starts on a fresh one."""
        if self._tty and self._width:
            self._stream.write("\n")
            self._stream.flush()


@contextlib.contextmanager
def logs_clear_status(line: StatusLine[S]) -> Iterator[None]:
    """Erase the status line before each log line, so the two never share a line."""

    def clear(record: logging.LogRecord) -> bool:
        line.clear()
        return True

    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(clear)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(clear)
