"""A radiomic signature the PRIMAGE DIPG way: variance filter, correlation pruning, varimax factors."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.outcome.signatures.factors import FactorResult, varimaxFactors
from VirtualBiopsy.outcome.signatures.filters import correlationPruning, varianceFilter
from VirtualBiopsy.outcome.signatures.selection import (
    lassoSelection,
    recursiveElimination,
)

#: Supervised selection steps of :func:`buildSignature`.
SELECTIONS = ("none", "lasso", "rfe")


@dataclass
class Signature:
    """The features a signature keeps and its factors.

    :ivar selection: per input feature (input order): ``variance``, ``step`` (where it was dropped:
        ``variance``, ``correlation``, ``lasso``, ``rfe`` or ``kept``), ``correlated_with``, ``r`` and
        ``supervised`` (the LASSO coefficient per standard deviation, or the RFE rank).
    :ivar factors: the varimax factor model of the kept features, or None when not asked for.
    """

    selection: pd.DataFrame
    factors: FactorResult | None

    @property
    def kept(self) -> list[str]:
        """Names of the kept features, in input order."""
        return list(self.selection.index[self.selection["step"] == "kept"])


def buildSignature(
    features: pd.DataFrame,
    varianceThreshold: float = 0.01,
    varianceScaling: str = "minmax",
    correlationThreshold: float = 0.9,
    factors: int | None = 0,
    seed: int = 0,
    *,
    selection: str = "none",
    time: pd.Series | None = None,
    event: pd.Series | None = None,
    target: pd.Series | None = None,
    penalizer: float = 0.1,
    keep: int | None = None,
) -> Signature:
    """Filter low-variance features, prune correlated ones, optionally select against an outcome
    (LASSO or recursive elimination), then fit varimax factors on the rest.

    :param varianceThreshold: see :func:`~VirtualBiopsy.outcome.signatures.filters.varianceFilter`.
    :param correlationThreshold: |r| above which one feature of a pair is dropped (1 = no pruning).
    :param factors: number of varimax factors; None = Kaiser's rule; 0 = no factor analysis.
    :param selection: ``"none"``, ``"lasso"`` or ``"rfe"`` (to ``keep`` features) against survival
        (``time``, ``event``) or a binary ``target``, with ``penalizer`` (see
        :mod:`~VirtualBiopsy.outcome.signatures.selection`).
    :raises InputError: when no feature survives a step, or for invalid settings or values.
    """
    selectionMethod = selection
    if selectionMethod not in SELECTIONS:
        raise InputError(f"Selection {selectionMethod!r} is unknown; choose one of {', '.join(SELECTIONS)}.")
    variance = varianceFilter(features, varianceThreshold, varianceScaling)
    table = pd.DataFrame(
        {"variance": variance["variance"], "step": "variance", "correlated_with": "", "r": float("nan")},
        index=features.columns,
    )
    passed = list(variance.index[variance["kept"]])
    if not passed:
        raise InputError(
            f"No feature has a ({varianceScaling}) variance above {varianceThreshold} (largest: "
            f"{variance['variance'].max():.3g}); lower the variance threshold."
        )
    pruning = correlationPruning(features[passed], correlationThreshold)
    table.loc[passed, "step"] = ["kept" if k else "correlation" for k in pruning["kept"]]
    table.loc[passed, "correlated_with"] = pruning["correlated_with"].to_numpy()
    table.loc[passed, "r"] = pruning["r"].to_numpy()
    kept = list(table.index[table["step"] == "kept"])
    table["supervised"] = float("nan")
    supervised = _supervised(features[kept], selectionMethod, time, event, target, penalizer, keep)
    if supervised is not None:
        column, report = supervised
        table.loc[kept, "supervised"] = report[column].to_numpy(float)
        dropped = [f for f, k in zip(kept, report["kept"]) if not k]
        table.loc[dropped, "step"] = selectionMethod
        kept = [f for f in kept if f not in dropped]
        if not kept:
            raise InputError(
                f"{selectionMethod.upper()} kept no feature; lower the penalizer (e.g. {penalizer / 10:g})."
            )
    model = None
    if factors is None or factors > 0:
        if factors is not None and factors > len(kept):
            raise InputError(
                f"{factors} factors asked for but only {len(kept)} feature(s) remain after filtering; "
                f"ask for at most {len(kept)} factors or relax the thresholds."
            )
        model = varimaxFactors(features[kept], factors, seed)
    return Signature(selection=table, factors=model)


def _supervised(features: pd.DataFrame, method: str, time, event, target, penalizer: float, keep: int | None):
    if method == "none":
        return None
    if method == "lasso":
        return "coef", lassoSelection(features, time, event, target, penalizer)
    if keep is None:
        raise InputError("Recursive feature elimination needs the number of features to keep (keep / --keep).")
    return "rank", recursiveElimination(features, keep, time, event, target, penalizer)
