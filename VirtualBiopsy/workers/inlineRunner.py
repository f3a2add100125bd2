"""Run a task in this process: for debugging, and for tasks too small for a worker."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress


def resolveTask(task: str) -> Callable[[dict[str, Any], ProgressCallback], dict[str, Any]]:
    """Import the task function named ``"package.module:function"``.

    :raises InputError: when the name is malformed or does not name a function.
    """
    moduleName, _, functionName = task.partition(":")
    if not moduleName or not functionName:
        raise InputError(f"Task name {task!r} is not of the form 'package.module:function'.")
    function = getattr(importlib.import_module(moduleName), functionName, None)
    if not callable(function):
        raise InputError(f"Task {task!r} names no function in module {moduleName}.")
    return function


class InlineRunner:
    """A :class:`~VirtualBiopsy.workers.runner.WorkerRunner` that calls the task in this process.

    Cancellation is checked at every progress report, so a task stops at its next report.
    """

    def run(
        self,
        task: str,
        arguments: dict[str, Any],
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> dict[str, Any]:
        """Run ``task`` with ``arguments`` and return its result (see :mod:`VirtualBiopsy.workers.runner`)."""
        function = resolveTask(task)
        report = progress or noProgress

        def relay(fraction: float, message: str) -> None:
            if cancel:
                cancel.raiseIfCancelled()
            report(fraction, message)

        if cancel:
            cancel.raiseIfCancelled()
        return function(dict(arguments), relay)
