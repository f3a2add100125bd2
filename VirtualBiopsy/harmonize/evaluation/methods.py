"""The harmonization methods an evaluation compares, as feature tables.

- ``none``: the first feature table as given;
- ``combat``: the first table harmonized by our ComBat;
- ``NAME``: the feature table given under ``NAME`` (features of images normalized at the image
  level, e.g. ``nyul`` or ``zscore``);
- ``NAME+combat``: that table harmonized by ComBat.

ComBat is fitted with the batch and the covariates the caller names, never with the task
column (:func:`prepareTables` refuses the task as a covariate), so no task label enters the
harmonization and the downstream test batch's labels cannot leak. For the Kruskal–Wallis
tests, the figures and the downstream task it is fitted once per table on every patient
(the test batch's *features* enter the fit, as they do when ComBat is used on a cohort:
ComBat needs cases of every batch it adjusts); for the site predictability it is refitted
inside each cross-validation training fold (:mod:`.sitePredictability`).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.harmonize.combat import fitAndHarmonize
from VirtualBiopsy.harmonize.evaluation.tables import EvaluationData
from VirtualBiopsy.progress import CancelToken

NONE = "none"
COMBAT = "combat"
SUFFIX = "+combat"


def availableMethods(data: EvaluationData) -> list[str]:
    """Every method the data allows: ``none``, ``combat``, then each further table with and without ComBat."""
    names = list(data.tables)
    return [NONE, COMBAT] + [method for name in names[1:] for method in (name, name + SUFFIX)]


def parseMethods(text: str | Sequence[str] | None, data: EvaluationData) -> list[str]:
    """The methods asked for (comma-separated text or a list), in order, without repeats.

    ``None`` or empty: ``none``, ``combat`` and every further table as given.

    :raises InputError: for a method the tables do not provide.
    """
    names = list(data.tables)
    if text is None or (isinstance(text, str) and not text.strip()):
        return [NONE, COMBAT, *names[1:]]
    methods = [m.strip() for m in text.split(",")] if isinstance(text, str) else [str(m).strip() for m in text]
    methods = list(dict.fromkeys(m for m in methods if m))
    known = availableMethods(data)
    unknown = [m for m in methods if m not in known]
    if unknown or not methods:
        raise InputError(
            f"Unknown harmonization method(s) {', '.join(unknown) or '(none given)'}; with these feature "
            f"tables choose from {', '.join(known)} (a method NAME needs --features NAME=PATH)."
        )
    return methods


def methodTables(
    data: EvaluationData,
    methods: Sequence[str],
    combatMethod: str = "parametric",
    cancel: CancelToken | None = None,
) -> dict[str, pd.DataFrame]:
    """``{method: patients × features}`` for each method (ComBat fitted as the module says).

    :raises InputError: for an unknown method or anything ComBat refuses (e.g. a feature
        constant within a batch).
    """
    result = {}
    for method, (table, combat) in methodSources(data, methods).items():
        if cancel:
            cancel.raiseIfCancelled()
        result[method] = combatHarmonized(table, data, combatMethod) if combat else table
    return result


def methodSources(data: EvaluationData, methods: Sequence[str]) -> dict[str, tuple[pd.DataFrame, bool]]:
    """``{method: (the table before ComBat, whether the method applies ComBat)}``."""
    base = next(iter(data.tables))
    sources = {}
    for method in methods:
        name = method[: -len(SUFFIX)] if method.endswith(SUFFIX) else method
        name = base if name in (NONE, COMBAT) else name
        if name not in data.tables:
            raise InputError(
                f"Method '{method}' needs the feature table '{name}'; give it with --features {name}=PATH."
            )
        sources[method] = (data.tables[name], method == COMBAT or method.endswith(SUFFIX))
    return sources


def combatHarmonized(table: pd.DataFrame, data: EvaluationData, method: str = "parametric") -> pd.DataFrame:
    """``table`` harmonized by ComBat fitted on it (every patient; batch and covariates, never the task)."""
    try:
        return fitAndHarmonize(table, data.batch, data.covariates, method)[1]
    except InputError as error:
        raise InputError(f"ComBat could not be fitted for the evaluation: {error}") from error
