"""Intraclass correlation ICC(1,1): one-way random effects, single measurement.

Subjects (rows) are measured several times (columns, e.g. image perturbations);
the repeats of a subject are exchangeable, so the one-way model applies
(Shrout & Fleiss 1979, case 1; McGraw & Wong 1996, ICC(1)). With ``n``
subjects and ``k`` repeats, from the one-way ANOVA mean squares::

    ICC(1,1) = (MSB - MSW) / (MSB + (k - 1) MSW)

Missing cells (NaN) make the design unbalanced; ``k`` is then replaced by
``k0 = (N - sum(k_i**2) / N) / (n - 1)`` (the usual unbalanced one-way estimator,
Donner 1986), which equals ``k`` when nothing is missing.
Reliability bands follow Koo & Li (2016).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from VirtualBiopsy.errors import InputError

#: Koo & Li (2016): ICC > 0.9 excellent, 0.75–0.9 good, 0.5–0.75 moderate, < 0.5 poor.
EXCELLENT_ABOVE, GOOD_FROM, MODERATE_FROM = 0.9, 0.75, 0.5
UNDEFINED = "undefined"


class IccUndefinedError(InputError):
    """The ICC of a table is undefined (e.g. every value is the same); the message says why."""


@dataclass(frozen=True)
class IccResult:
    """ICC(1,1) with its 95 % confidence interval (F-distribution, Shrout & Fleiss 1979;
    with missing cells ``k0`` stands in for ``k``, an approximation).

    :ivar icc: the point estimate.
    :ivar lower: lower bound of the confidence interval (NaN when the within-subject variance is zero).
    :ivar upper: upper bound of the confidence interval.
    :ivar subjects: subjects with at least one value.
    :ivar repeats: the (mean) number of repeats per subject, ``k0``.
    """

    icc: float
    lower: float
    upper: float
    subjects: int
    repeats: float


def iccBand(icc: float) -> str:
    """Koo & Li (2016) band of an ICC: ``poor``, ``moderate``, ``good``, ``excellent``, or ``undefined`` for NaN."""
    if icc is None or not np.isfinite(icc):
        return UNDEFINED
    if icc > EXCELLENT_ABOVE:
        return "excellent"
    if icc >= GOOD_FROM:
        return "good"
    return "moderate" if icc >= MODERATE_FROM else "poor"


def icc11(matrix: np.ndarray) -> float:
    """ICC(1,1) of a subjects × repeats table.

    :param matrix: 2-D array, one row per subject, one column per repeat; NaN cells are missing.
    :raises InputError: when the table is not 2-D or has fewer than 2 subjects with a value.
    :raises IccUndefinedError: when every value is equal (no variance) or no subject has 2 values.
    """
    return icc11Interval(matrix).icc


def icc11Interval(matrix: np.ndarray, confidence: float = 0.95) -> IccResult:
    """ICC(1,1) with its confidence interval; see :func:`icc11` for the arguments and errors."""
    values = _checkedMatrix(matrix)
    present = ~np.isnan(values)
    counts = present.sum(axis=1)
    values, present, counts = values[counts > 0], present[counts > 0], counts[counts > 0]
    subjects, total = len(counts), int(counts.sum())
    if subjects < 2:
        raise InputError(
            f"ICC needs at least 2 subjects with a value; this table has {subjects}. Give more subjects (rows)."
        )
    if total - subjects < 1:
        raise IccUndefinedError("no subject has two or more values, so the within-subject variance is unknown")
    filled = np.where(present, values, 0.0)
    means = filled.sum(axis=1) / counts
    grandMean = filled.sum() / total
    ssBetween = float(np.sum(counts * (means - grandMean) ** 2))
    ssWithin = float(np.sum(np.where(present, (values - means[:, None]) ** 2, 0.0)))
    scale = max(1.0, float(np.max(np.abs(filled))) ** 2 * total)
    if ssBetween + ssWithin <= 1e-24 * scale:
        raise IccUndefinedError(f"all {total} values are equal ({grandMean:.6g}): the feature is constant")
    dfBetween, dfWithin = subjects - 1, total - subjects
    msBetween, msWithin = ssBetween / dfBetween, ssWithin / dfWithin
    k0 = (total - float(np.sum(counts**2)) / total) / dfBetween
    icc = (msBetween - msWithin) / (msBetween + (k0 - 1.0) * msWithin)
    lower = upper = float("nan")
    if msWithin > 0:
        from scipy import stats

        f = msBetween / msWithin
        alpha = 1.0 - confidence
        fLower = f / stats.f.ppf(1 - alpha / 2, dfBetween, dfWithin)
        fUpper = f * stats.f.ppf(1 - alpha / 2, dfWithin, dfBetween)
        lower = (fLower - 1) / (fLower + k0 - 1)
        upper = (fUpper - 1) / (fUpper + k0 - 1)
    return IccResult(icc=float(icc), lower=float(lower), upper=float(upper), subjects=subjects, repeats=float(k0))


def _checkedMatrix(matrix: np.ndarray) -> np.ndarray:
    try:
        values = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError) as error:
        raise InputError(
            f"ICC needs a numeric subjects × repeats table; got values that are not numbers ({error})."
        ) from error
    if values.ndim != 2:
        raise InputError(f"ICC needs a 2-D subjects × repeats table; got an array of shape {values.shape}.")
    if np.isinf(values).any():
        raise InputError("ICC table contains infinite values; replace them by NaN (missing) or finite numbers.")
    return values
