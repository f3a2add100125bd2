"""Executors that run one function over the cases of a cohort: serially or on Dask.

Every executor returns one :class:`CaseOutcome` per case in input order, so results
do not depend on the executor or the number of workers; a failing case becomes a
failed outcome and the others go on.

Sending the function to Dask workers (spawned processes): Dask pickles it by
reference when its module is importable, and by value (cloudpickle) when it is
defined in ``__main__`` (a script) or is a lambda. So a function of
``VirtualBiopsy`` or of any installed package works everywhere; a function of a
script works everywhere; a function of a module found only through ``sys.path``
(e.g. a test helper) works on a cluster this executor starts, because spawned
workers inherit this process's ``sys.path``, but on an external cluster its module
must be importable on the workers too. Cases (items) and return values must be
picklable: pass paths and plain data rather than images or MRML nodes.

Typical use with :class:`~VirtualBiopsy.executors.resultCache.ResultCache`::

    todo = [case for case in cases if cacheKey(case) not in cache]
    with makeExecutor(workers, scheduler) as executor:
        outcomes = executor.map(extractCase, todo, progress, cancel)
    for case, outcome in zip(todo, outcomes):
        if outcome.ok:
            cache.put(cacheKey(case), outcome.value)
"""

from VirtualBiopsy.executors.base import CaseExecutor, caseKeys
from VirtualBiopsy.executors.daskExecutor import DaskExecutor
from VirtualBiopsy.executors.factory import makeExecutor
from VirtualBiopsy.executors.outcome import CaseError, CaseOutcome, callCase
from VirtualBiopsy.executors.serial import SerialExecutor

__all__ = [
    "CaseError",
    "CaseExecutor",
    "CaseOutcome",
    "DaskExecutor",
    "SerialExecutor",
    "callCase",
    "caseKeys",
    "makeExecutor",
]
