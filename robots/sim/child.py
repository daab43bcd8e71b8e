"""The sim's helper processes, started as fresh interpreters running :func:`main` here.

``multiprocessing``'s ``spawn`` start method re-imports the caller's ``__main__`` in the
child: a researcher's plain script (no ``if __name__ == "__main__":`` guard) would run
again in every helper, and a script fed on standard input cannot be re-imported at all.
So the physics and render processes are started as a fresh interpreter that runs
this module's :func:`main`, and never see the caller's code. Each gets one duplex
``multiprocessing.connection.Connection`` (a socket pair): its first message names the
entry function and its arguments; after that it belongs to the entry function. When the
parent dies, the child reads end-of-file there and stops.

A helper ignores Ctrl-C: the terminal sends SIGINT to the whole process group, and the
parent stops its helpers in order (a helper that died first would print a traceback and
leave the arm to its watchdog).
"""

from __future__ import annotations

import importlib
import os
import signal
import socket
import subprocess
import sys
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

# The folder that holds the ``robots`` package (found from this file, not by importing
# ``robots``, which would import this module back).
_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])
_CHILD_MAIN = "import sys; from robots.sim.child import main; main(sys.argv)"


class ChildProcess:
    """One helper process running ``entry(*args, conn)``.

    Args:
        entry: ``"module:function"`` to run in the child, e.g.
            ``"robots.sim.physics_process:physics_main"``.
        args: Its arguments, before the connection; they must pickle.
        name: The process's role, for messages.
    """

    def __init__(self, entry: str, args: tuple[Any, ...], name: str) -> None:
        self.entry = entry
        self.args = args
        self.name = name
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Connection:
        """Start the child; returns the parent's end of the connection."""
        ours, theirs = socket.socketpair()
        with ours, theirs:
            env = dict(os.environ)
            # The child imports this very copy of ``robots``, wherever it was found.
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (_PACKAGE_PARENT, env.get("PYTHONPATH", "")) if p
            )
            self._proc = subprocess.Popen(
                # -P: the caller's working directory is not put on the child's path.
                [sys.executable, "-P", "-c", _CHILD_MAIN, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,  # pybullet's C code prints; logs go to stderr
                env=env,
            )
            conn = Connection(ours.detach())
        conn.send((self.entry, self.args))
        return conn

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def is_alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def exitcode(self) -> int | None:
        """The exit status, negative for a signal; None while it runs."""
        return None if self._proc is None else self._proc.poll()

    def join(self, timeout: float) -> None:
        """Wait up to ``timeout`` [s] for the child to exit."""
        if self._proc is not None:
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass

    def kill(self) -> None:
        if self.is_alive():
            assert self._proc is not None
            self._proc.kill()


def main(argv: list[str]) -> None:
    """The child: run the entry function that the first message names.

    Args:
        argv: ``[program, fd]``: the child's end of the connection.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = Connection(int(argv[1]))
    try:
        entry, args = conn.recv()
        module, function = entry.split(":")
        getattr(importlib.import_module(module), function)(*args, conn)
    except (EOFError, BrokenPipeError, ConnectionResetError):
        pass  # the parent has gone, or stopped its helper first: nobody is left to tell
