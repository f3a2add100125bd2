"""Progress reporting and cancellation shared by every long-running call."""

from __future__ import annotations

import threading
from collections.abc import Callable

from VirtualBiopsy.errors import CancelledError

#: ``progress(fraction, message)`` with ``fraction`` in [0, 1].
ProgressCallback = Callable[[float, str], None]


def noProgress(fraction: float, message: str) -> None:
    """Progress callback that ignores every report."""


class CancelToken:
    """Thread-safe flag that a GUI or CLI sets to stop a running operation."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the operation to stop at its next check."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._event.is_set()

    def raiseIfCancelled(self) -> None:
        """Raise :class:`CancelledError` if cancellation was requested."""
        if self._event.is_set():
            raise CancelledError("The operation was cancelled by the user.")
