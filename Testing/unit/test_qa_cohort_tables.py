"""Cohort QA tables: one row per case and pair (model vs each rater, rater vs rater), and the
median / quartiles / mean / SD summary, checked against numpy and statistics on known values."""

import math
import statistics

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from qaMasks import blob, box, maskImage

from VirtualBiopsy.errors import GeometryError, InputError
from VirtualBiopsy.segment.qa.cohortTables import (
    POOLED_MODEL,
    POOLED_RATERS,
    SUMMARY_COLUMNS,
    caseMetricRows,
    metricsTable,
    summarizeMetrics,
    summarizeValues,
)
from VirtualBiopsy.segment.qa.metrics import computeMetrics


def _raters(seed: int) -> dict[str, sitk.Image]:
    return {name: maskImage(blob(seed=seed + offset)) for offset, name in enumerate(("alice", "bob", "carol"))}


def test_a_case_gives_model_rows_then_every_rater_pair():
    raters = _raters(0)
    prediction = maskImage(blob(seed=40))
    rows = caseMetricRows("P1", raters, prediction, toleranceMm=2.0)
    assert [(row["pair"], row["reference"], row["prediction"]) for row in rows] == [
        ("model vs alice", "alice", "model"),
        ("model vs bob", "bob", "model"),
        ("model vs carol", "carol", "model"),
        ("bob vs alice", "alice", "bob"),
        ("carol vs alice", "alice", "carol"),
        ("carol vs bob", "bob", "carol"),
    ]
    assert all(row["patient"] == "P1" and row["tolerance_mm"] == 2.0 for row in rows)
    assert rows[5]["dsc"] == computeMetrics(raters["bob"], raters["carol"]).dsc
    assert rows[0]["hd95_mm"] == computeMetrics(raters["alice"], prediction).hd95Mm


def test_probabilities_feed_the_model_rows_only():
    raters = _raters(1)
    probabilities = sitk.Cast(maskImage(blob(seed=50)), sitk.sitkFloat32) * 0.8 + 0.1
    rows = caseMetricRows("P1", raters, maskImage(blob(seed=50)), probabilities)
    assert all(0.0 < row["auc"] < 1.0 for row in rows[:3])
    assert all(row["auc"] is None and "no probability map" in row["undefined"] for row in rows[3:])


def test_summary_statistics_equal_numpy_and_statistics():
    values = [0.91, 0.97, 0.83, 0.95, 0.99, 0.88, 0.93]
    summary = summarizeValues(values)
    assert summary["n"] == 7 and summary["undefined"] == 0 and summary["infinite"] == 0
    assert summary["median"] == pytest.approx(np.median(values))
    assert summary["q1"] == pytest.approx(np.percentile(values, 25)) and summary["q3"] == pytest.approx(
        np.percentile(values, 75)
    )
    assert summary["iqr"] == pytest.approx(np.percentile(values, 75) - np.percentile(values, 25))
    assert summary["mean"] == pytest.approx(statistics.mean(values)) and summary["sd"] == pytest.approx(
        statistics.stdev(values)
    )


def test_undefined_values_are_counted_and_left_out_and_infinite_ones_kept():
    summary = summarizeValues([1.0, None, 2.0, math.inf, float("nan")])
    assert (summary["n"], summary["undefined"], summary["infinite"]) == (3, 2, 1)
    assert summary["median"] == 2.0 and summary["q1"] == 1.5 and summary["q3"] == math.inf
    assert summary["mean"] == math.inf and summary["sd"] == math.inf and summary["iqr"] == math.inf
    assert summarizeValues([math.inf, math.inf])["median"] == math.inf  # never inf - inf = NaN
    single = summarizeValues([0.5])
    assert single["sd"] is None and single["median"] == single["mean"] == 0.5
    nothing = summarizeValues([None, None])
    assert nothing["n"] == 0 and nothing["undefined"] == 2 and nothing["median"] is None


def test_cohort_summary_has_per_pair_and_pooled_rows():
    rows = []
    for case in range(4):
        rows += caseMetricRows(f"P{case}", _raters(10 * case), maskImage(blob(seed=10 * case + 7)))
    metrics = metricsTable(rows)
    assert list(metrics.columns[:4]) == ["patient", "pair", "reference", "prediction"] and len(metrics) == 24
    summary = summarizeMetrics(metrics)
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    dsc = summary[summary["metric"] == "dsc"].set_index("pair")
    assert list(dsc.index) == [
        "model vs alice",
        "model vs bob",
        "model vs carol",
        "bob vs alice",
        "carol vs alice",
        "carol vs bob",
        POOLED_MODEL,
        POOLED_RATERS,
    ]
    assert dsc.loc["model vs bob", "n"] == 4 and dsc.loc[POOLED_MODEL, "n"] == 12 and dsc.loc[POOLED_RATERS, "n"] == 12
    modelBob = metrics.loc[metrics["pair"] == "model vs bob", "dsc"]
    assert dsc.loc["model vs bob", "median"] == pytest.approx(modelBob.median())
    assert dsc.loc["model vs bob", "sd"] == pytest.approx(modelBob.std(ddof=1))
    pooled = metrics.loc[metrics["prediction"] != "model", "hd95_mm"]
    hd95 = summary[(summary["metric"] == "hd95_mm") & (summary["pair"] == POOLED_RATERS)].iloc[0]
    assert hd95["q3"] == pytest.approx(np.percentile(pooled, 75))
    assert "auc" not in set(summary["metric"])  # no probabilities: undefined everywhere, so no row


def test_one_rater_has_no_pooled_groups_and_a_failed_prediction_shows_as_infinite():
    reference = maskImage(box((10, 12, 14), (2, 2, 2), (4, 5, 6)))
    empty = maskImage(np.zeros((10, 12, 14), bool))
    rows = (
        caseMetricRows("P1", {"reference": reference}, reference)
        + caseMetricRows("P2", {"reference": reference}, empty)
        + caseMetricRows("P3", {"reference": reference}, reference)
    )
    summary = summarizeMetrics(metricsTable(rows))
    assert set(summary["pair"]) == {"model vs reference"}
    hd95 = summary[summary["metric"] == "hd95_mm"].iloc[0]
    assert hd95["infinite"] == 1 and hd95["mean"] == math.inf and hd95["n"] == 3
    assert hd95["median"] == 0.0 and hd95["q1"] == 0.0 and hd95["q3"] == math.inf  # linear interpolation towards inf


def test_bad_cases_are_refused():
    mask = maskImage(blob(seed=1))
    with pytest.raises(InputError, match="no reference"):
        caseMetricRows("P1", {}, mask)
    with pytest.raises(InputError, match="named 'model'"):
        caseMetricRows("P1", {"model": mask}, mask)
    other = maskImage(blob(seed=1), spacing=(1.0, 1.0, 1.0))
    with pytest.raises(GeometryError, match="not on one grid"):
        caseMetricRows("P1", {"a": mask, "b": other}, mask)
    with pytest.raises(InputError, match="'pair'"):
        summarizeMetrics(pd.DataFrame({"dsc": [1.0]}))
    with pytest.raises(InputError, match="none of the metric columns"):
        summarizeMetrics(pd.DataFrame({"pair": ["model vs a"], "volume": [1.0]}))
