"""What running one case produced: its value or its error, and how long it took.

:func:`callCase` is the function every executor runs for each case, in the
caller's process (serial) or in a worker process (Dask): it turns an exception
into a per-case failure so that one bad case never stops a batch.
"""

from __future__ import annotations

import logging
import time
import traceback as tracebackModule
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from VirtualBiopsy.errors import CancelledError, VirtualBiopsyError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CaseError:
    """Why a case failed.

    :ivar typeName: the exception's class name, e.g. ``"InputError"``.
    :ivar message: the exception's message.
    :ivar traceback: the formatted traceback of an *unexpected* exception (one
        that is not a :class:`~VirtualBiopsy.errors.VirtualBiopsyError`, i.e. a
        bug or an environment problem), kept for the log; ``None`` for expected
        failures, whose message already says what to fix.
    """

    typeName: str
    message: str
    traceback: str | None = None

    @property
    def expected(self) -> bool:
        """Whether the failure is a :class:`~VirtualBiopsy.errors.VirtualBiopsyError` (bad input), not a bug."""
        return self.traceback is None

    def __str__(self) -> str:
        return f"{self.typeName}: {self.message}"


@dataclass(frozen=True)
class CaseOutcome:
    """The result of one case of a batch.

    :ivar key: the case's identifier (e.g. the patient).
    :ivar value: what the function returned; ``None`` when it failed.
    :ivar error: why it failed; ``None`` when it succeeded.
    :ivar seconds: time spent in the function (wall clock, where it ran); for a case lost
        with its Dask worker, the time from the batch's start until the loss was seen.
    """

    key: str
    value: Any = None
    error: CaseError | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the case succeeded."""
        return self.error is None


def callCase(function: Callable[[Any], Any], item: Any, key: str) -> CaseOutcome:
    """Run ``function(item)`` and wrap its return value or exception in a :class:`CaseOutcome`.

    A :class:`~VirtualBiopsy.errors.VirtualBiopsyError` becomes an expected
    failure (type and message); any other :class:`Exception` becomes a failure
    that also keeps the traceback text. :class:`~VirtualBiopsy.errors.CancelledError`
    and non-``Exception`` exits (``KeyboardInterrupt``, ``SystemExit``) propagate:
    they stop the batch, not one case.
    """
    start = time.perf_counter()
    try:
        value = function(item)
    except CancelledError:
        raise
    except VirtualBiopsyError as error:
        return CaseOutcome(key, error=CaseError(type(error).__name__, str(error)), seconds=time.perf_counter() - start)
    except Exception as error:  # noqa: BLE001 - one case's bug must not stop the batch; the traceback is kept
        failure = CaseError(type(error).__name__, str(error), tracebackModule.format_exc())
        return CaseOutcome(key, error=failure, seconds=time.perf_counter() - start)
    return CaseOutcome(key, value=value, seconds=time.perf_counter() - start)


def logOutcome(outcome: CaseOutcome) -> None:
    """Log a failed case: a warning for expected failures, an error with the traceback for unexpected ones."""
    if outcome.error is None:
        logger.debug("Case %s done in %.2f s", outcome.key, outcome.seconds)
    elif outcome.error.expected:
        logger.warning("Case %s failed: %s", outcome.key, outcome.error)
    else:
        logger.error("Case %s failed unexpectedly: %s\n%s", outcome.key, outcome.error, outcome.error.traceback)
