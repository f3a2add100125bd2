"""Runs cases one after the other in the calling process: for tests, debugging and small runs."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from VirtualBiopsy.errors import CancelledError
from VirtualBiopsy.executors.base import caseKeys
from VirtualBiopsy.executors.outcome import CaseOutcome, callCase, logOutcome
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

logger = logging.getLogger(__name__)


class SerialExecutor:
    """A :class:`~VirtualBiopsy.executors.base.CaseExecutor` that runs each case in this process.

    Usable as a context manager for symmetry with :class:`DaskExecutor` (nothing to start or stop).
    """

    def __enter__(self) -> SerialExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def map(
        self,
        function: Callable[[Any], Any],
        items: Sequence[Any],
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        keys: Sequence[str] | None = None,
    ) -> list[CaseOutcome]:
        """Run ``function(item)`` for each item in order.

        :returns: one outcome per item, in input order.
        :raises CancelledError: when ``cancel`` is set before a case starts.
        """
        keyList = caseKeys(items, keys)
        report = progress or noProgress
        outcomes: list[CaseOutcome] = []
        for index, (item, key) in enumerate(zip(items, keyList)):
            if cancel is not None and cancel.cancelled:
                raise CancelledError(f"The batch was cancelled after {index} of {len(items)} cases.")
            outcome = callCase(function, item, key)
            logOutcome(outcome)
            outcomes.append(outcome)
            report((index + 1) / len(items), f"{key} {'done' if outcome.ok else 'failed'}")
        return outcomes
