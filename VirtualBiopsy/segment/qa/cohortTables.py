"""Per-case metric rows and the cohort summary (median, quartiles, mean, SD per metric), as in the PRIMAGE tables.

A case has one prediction and one or more reference segmentations (an
inter-observer study has several raters). Each case gives one row per *pair*:
the prediction against each reference (``"model vs <rater>"``) and each rater
against every later rater (``"<rater 1> vs <rater 2>"``, the first being the
reference of the pair). Rows carry ``patient``, ``pair``, ``reference``,
``prediction``, then the columns of :meth:`SegmentationMetrics.toDict`.

The summary has one row per (pair, metric): ``n`` (defined values), ``undefined``
(``None`` values, left out), ``infinite``, ``median``, ``q1``, ``q3``, ``iqr``, ``mean``
and ``sd`` (sample SD). Quartiles use linear interpolation (as ``numpy.percentile``);
infinite values (a distance to an empty mask) take part in them as +inf, and make
``mean`` and ``sd`` infinite. ``sd`` of a single value is left empty. With several
raters, two pooled groups follow the per-pair rows: every model-vs-rater row, and
every rater-vs-rater row (the inter-observer agreement).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.segment.qa.metrics import DEFAULT_TOLERANCE_MM, computeMetrics

#: Columns that identify a row of the metrics table.
KEY_COLUMNS = ("patient", "pair", "reference", "prediction")

#: Metrics summarised over the cohort, in order.
SUMMARY_METRICS = (
    "dsc",
    "jaccard",
    "hd95_mm",
    "hd_mm",
    "msd_mm",
    "surface_dsc",
    "volume_diff_ml",
    "volume_diff_rel",
    "sensitivity",
    "specificity",
    "auc",
    "fpr",
    "fnr",
    "fpr_primage",
    "fnr_primage",
)

#: Columns of the summary table.
SUMMARY_COLUMNS = ("pair", "metric", "n", "undefined", "infinite", "median", "q1", "q3", "iqr", "mean", "sd")

#: Name of the prediction in pair labels.
MODEL = "model"
#: Pooled groups of the summary (several raters only).
POOLED_MODEL, POOLED_RATERS = "model vs references (pooled)", "references vs references (pooled)"


def pairName(reference: str, prediction: str) -> str:
    """The ``pair`` label of a comparison: ``"<prediction> vs <reference>"``."""
    return f"{prediction} vs {reference}"


def caseMetricRows(
    patient: str,
    references: Mapping[str, sitk.Image],
    prediction: sitk.Image,
    probabilities: sitk.Image | None = None,
    toleranceMm: float = DEFAULT_TOLERANCE_MM,
) -> list[dict]:
    """Rows of one case: the prediction against each reference, then each pair of references.

    :param references: reference masks by rater name (e.g. ``{"reference": mask}``), in rater order.
    :param probabilities: the prediction's probability map (used for the model rows only).
    :raises InputError: for no reference or a rater named like the model.
    :raises GeometryError: if masks of the case are not on one grid.
    """
    if not references:
        raise InputError(f"Case '{patient}' has no reference segmentation; give at least one.")
    if MODEL in references:
        raise InputError(f"A reference is named '{MODEL}', which names the prediction; rename that rater.")
    rows = []
    for rater, mask in references.items():
        metrics = computeMetrics(mask, prediction, probabilities, toleranceMm)
        rows.append(
            {
                "patient": patient,
                "pair": pairName(rater, MODEL),
                "reference": rater,
                "prediction": MODEL,
                **metrics.toDict(),
            }
        )
    raters = list(references)
    for index, first in enumerate(raters):
        for second in raters[index + 1 :]:
            metrics = computeMetrics(references[first], references[second], None, toleranceMm)
            rows.append(
                {
                    "patient": patient,
                    "pair": pairName(first, second),
                    "reference": first,
                    "prediction": second,
                    **metrics.toDict(),
                }
            )
    return rows


def metricsTable(rows: Sequence[Mapping]) -> pd.DataFrame:
    """The per-case metrics table from rows of :func:`caseMetricRows` (key columns first)."""
    frame = pd.DataFrame(list(rows))
    if frame.empty:
        return pd.DataFrame(columns=list(KEY_COLUMNS))
    keys = [column for column in KEY_COLUMNS if column in frame.columns]
    return frame[keys + [column for column in frame.columns if column not in keys]]


def summarizeMetrics(metrics: pd.DataFrame, metricColumns: Sequence[str] = SUMMARY_METRICS) -> pd.DataFrame:
    """The cohort summary of a metrics table (see the module): one row per (pair, metric) with ``n`` ≥ 1.

    :raises InputError: if the table has no ``pair`` column or none of ``metricColumns``.
    """
    if "pair" not in metrics.columns:
        raise InputError("The metrics table has no 'pair' column; build it with caseMetricRows.")
    present = [column for column in metricColumns if column in metrics.columns]
    if not present:
        raise InputError(f"The metrics table has none of the metric columns {list(metricColumns)}.")
    groups: list[tuple[str, pd.DataFrame]] = [(pair, frame) for pair, frame in metrics.groupby("pair", sort=False)]
    if "prediction" in metrics.columns and metrics["reference"].nunique() > 1:
        model = metrics["prediction"] == MODEL
        groups.append((POOLED_MODEL, metrics[model]))
        if (~model).any() and metrics.loc[~model, "pair"].nunique() > 1:
            groups.append((POOLED_RATERS, metrics[~model]))
    rows = []
    for pair, frame in groups:
        for column in present:
            summary = summarizeValues(frame[column])
            if summary["n"]:
                rows.append({"pair": pair, "metric": column, **summary})
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def summarizeValues(values: pd.Series | Sequence) -> dict:
    """``n``, ``undefined``, ``infinite``, ``median``, ``q1``, ``q3``, ``iqr``, ``mean``, ``sd`` of one metric's values.

    ``None``/NaN cells are undefined values and are left out; with ``n`` = 0 every statistic is ``None``.
    """
    numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=float)
    defined = np.sort(numbers[~np.isnan(numbers)])
    infinite = int(np.count_nonzero(np.isinf(defined)))
    summary = {"n": int(defined.size), "undefined": int(numbers.size - defined.size), "infinite": infinite}
    if defined.size == 0:
        return {**summary, **dict.fromkeys(("median", "q1", "q3", "iqr", "mean", "sd"))}
    q1, median, q3 = (_quantile(defined, p) for p in (0.25, 0.5, 0.75))
    if infinite:
        signs = set(np.sign(defined[np.isinf(defined)]))
        mean = math.copysign(math.inf, signs.pop()) if len(signs) == 1 else None  # inf - inf has no mean
        sd: float | None = math.inf
    else:
        mean = float(defined.mean())
        sd = float(defined.std(ddof=1)) if defined.size > 1 else None
    return {**summary, "median": median, "q1": q1, "q3": q3, "iqr": _difference(q3, q1), "mean": mean, "sd": sd}


def _quantile(ordered: np.ndarray, fraction: float) -> float:
    """Linear-interpolation quantile of sorted values that may hold ±inf (never inf − inf)."""
    position = fraction * (ordered.size - 1)
    low, high = int(math.floor(position)), int(math.ceil(position))
    weight = position - low
    if low == high or weight == 0.0 or ordered[low] == ordered[high]:
        return float(ordered[low])
    if math.isinf(ordered[low]) or math.isinf(ordered[high]):
        return float(ordered[high] if math.isinf(ordered[high]) else ordered[low])
    return float(ordered[low] + weight * (ordered[high] - ordered[low]))


def _difference(high: float, low: float) -> float:
    """``high - low``; two equal infinite quartiles leave the spread unbounded (inf)."""
    if math.isinf(high) and high == low:
        return math.inf
    return high - low
