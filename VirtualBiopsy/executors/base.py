"""The interface every case executor offers, and how cases get their keys."""

from __future__ import annotations

import collections
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.executors.outcome import CaseOutcome
from VirtualBiopsy.progress import CancelToken, ProgressCallback


@runtime_checkable
class CaseExecutor(Protocol):
    """Runs one function over many cases.

    ``map`` returns one :class:`CaseOutcome` per item, **in input order** whatever
    the order of completion, so results do not depend on the executor or the
    number of workers. A case that raises becomes a failed outcome and the batch
    goes on. ``progress(done / total, "<key> done")`` is called once per finished
    case; ``cancel`` is checked between cases and raises
    :class:`~VirtualBiopsy.errors.CancelledError`.

    ``function`` must be picklable for executors that run it in other processes:
    a top-level function of an importable module (sent by reference) or of the
    script being run (``__main__``, sent by value with cloudpickle); no lambdas
    or closures over unpicklable state.
    """

    def __enter__(self) -> CaseExecutor:
        """Start what the executor needs (a cluster, a connection); ``map`` also works without."""
        ...

    def __exit__(self, *exc: object) -> None:
        """Release it (a cluster the executor started is closed)."""
        ...

    def map(
        self,
        function: Callable[[Any], Any],
        items: Sequence[Any],
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        keys: Sequence[str] | None = None,
    ) -> list[CaseOutcome]:
        """Run ``function(item)`` for every item; see the class docstring."""
        ...


def caseKeys(items: Sequence[Any], keys: Sequence[str] | None = None) -> list[str]:
    """The identifier of each case: ``keys`` when given, else each item's ``patient``
    or ``key`` attribute, else the item itself when it is a string, else its index.

    :raises InputError: when ``keys`` has another length than ``items`` or keys repeat.
    """
    if keys is not None:
        result = [str(key) for key in keys]
        if len(result) != len(items):
            raise InputError(f"Got {len(result)} keys for {len(items)} cases; pass one key per case (or none).")
    else:
        result = [_defaultKey(item, index) for index, item in enumerate(items)]
    repeated = sorted(key for key, count in collections.Counter(result).items() if count > 1)
    if repeated:
        raise InputError(f"Case keys must be unique; repeated: {repeated[:10]}. Give each case its own identifier.")
    return result


def _defaultKey(item: Any, index: int) -> str:
    for attribute in ("patient", "key"):
        value = getattr(item, attribute, None)
        if isinstance(value, str) and value:
            return value
    return item if isinstance(item, str) else str(index)
