"""The operator's input device (a gamepad, a leader arm): opened with ``with``.

Both clients read a device attached to the operator's own machine. It is opened when
the ``with`` block starts and closed when it ends, however it ends: a pad stops
rumbling, a leader arm's torque is checked off.
"""

from __future__ import annotations

import abc
from types import TracebackType
from typing import Self


class InputDevice(abc.ABC):
    """A device on the operator's machine that a client reads."""

    @abc.abstractmethod
    def open(self) -> None:
        """Start using the device."""

    @abc.abstractmethod
    def close(self) -> None:
        """Stop using the device; safe to call twice and after a failed ``open``."""

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
