"""Feature stability tables and the cohort robustness assessment, with pyradiomics on synthetic cases."""

import logging

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from test_robustness_icc import SHROUT_FLEISS

from VirtualBiopsy.errors import CancelledError, InputError
from VirtualBiopsy.extract.robustness import (
    assessRobustness,
    featureStability,
    filterStableFeatures,
    icc11,
    stableFeatures,
)
from VirtualBiopsy.progress import CancelToken


def pyradiomicsExtract(image: sitk.Image, mask: sitk.Image) -> dict:
    """Plain pyradiomics: original firstorder, shape and glcm (bin width 25)."""
    import radiomics
    from radiomics.featureextractor import RadiomicsFeatureExtractor

    radiomics.setVerbosity(logging.ERROR)
    extractor = RadiomicsFeatureExtractor(binWidth=25)
    extractor.disableAllFeatures()
    extractor.enableImageTypes(Original={})
    for featureClass in ("firstorder", "shape", "glcm"):
        extractor.enableFeatureClassByName(featureClass)
    return dict(extractor.execute(image, mask, label=1))


def sphereCase(radius: float, inside: float, size: int = 28, noise: float = 0.0, seed: int = 0):
    """Constant ``inside`` within radius + 4 voxels (so perturbed ROIs stay in it), a sphere ROI of ``radius``."""
    k, j, i = np.mgrid[:size, :size, :size].astype(float)
    distance = np.sqrt((i - 13.3) ** 2 + (j - 14.1) ** 2 + (k - 13.7) ** 2)
    image = np.where(distance <= radius + 4, inside, 10.0) + np.random.default_rng(seed).normal(
        0, noise, distance.shape
    )
    imageItk, maskItk = (
        sitk.GetImageFromArray(image.astype(np.float32)),
        sitk.GetImageFromArray((distance <= radius).astype(np.uint8)),
    )
    for item in (imageItk, maskItk):
        item.SetSpacing((1.2, 1.2, 1.5))
    return imageItk, maskItk


def test_stability_table_reproduces_the_icc_and_reports_undefined_features():
    perCase = {
        f"P{row}": pd.DataFrame({"known": SHROUT_FLEISS[row], "constant": 3.0, "empty": np.nan, "perfect": float(row)})
        for row in range(6)
    }
    table = featureStability(perCase)
    assert list(table.index) == ["known", "constant", "empty", "perfect"]
    assert table.loc["known", "icc"] == pytest.approx(icc11(SHROUT_FLEISS))
    assert table.loc["known", "band"] == "poor" and table.loc["known", "reason"] == ""
    assert table.loc["perfect", "icc"] == pytest.approx(1.0) and table.loc["perfect", "band"] == "excellent"
    for feature, reason in (("constant", "constant"), ("empty", "no value")):
        assert np.isnan(table.loc[feature, "icc"]) and table.loc[feature, "band"] == "undefined"
        assert reason in table.loc[feature, "reason"]
    assert stableFeatures(table) == ["perfect"]
    assert stableFeatures(table, threshold=0.1) == ["known", "perfect"]
    features = pd.DataFrame({"patient": ["a"], "label": [1], "known": [1.0], "perfect": [2.0], "constant": [3.0]})
    assert list(filterStableFeatures(features, table).columns) == ["patient", "label", "perfect"]


def test_stability_refuses_bad_tables():
    with pytest.raises(InputError, match="at least 2 patients"):
        featureStability({"P1": pd.DataFrame({"a": [1.0, 2.0]})})
    with pytest.raises(InputError, match="'a' of patient 'P2' has non-numeric"):
        featureStability({"P1": pd.DataFrame({"a": [1.0, 2.0]}), "P2": pd.DataFrame({"a": ["x", "y"]})})
    with pytest.raises(InputError, match="threshold"):
        stableFeatures(
            featureStability({"P1": pd.DataFrame({"a": [1.0, 2.0]}), "P2": pd.DataFrame({"a": [3.0, 4.0]})}), 2
        )


def test_invariant_feature_gets_icc_one_and_volume_separates_patients():
    cases = {f"P{n}": sphereCase(radius=3 + n, inside=50.0 * (n + 1)) for n in range(4)}
    result = assessRobustness(
        cases, pyradiomicsExtract, perturbations=("rotation", "translation", "volume"), count=3, seed=1
    )
    stability = result.stability
    # The ROI stays inside the constant region whatever the rotation, shift or growth: the mean is exact.
    assert stability.loc["original_firstorder_Mean", "icc"] == pytest.approx(1.0, abs=1e-9)
    assert stability.loc["original_shape_VoxelVolume", "icc"] > 0.9
    assert stability.loc["original_firstorder_Mean", "band"] == "excellent"
    # Inside a constant ROI the variance is 0 in every case and every copy: undefined, not a number.
    assert np.isnan(stability.loc["original_firstorder_Variance", "icc"])
    assert "constant" in stability.loc["original_firstorder_Variance", "reason"]
    table = result.perturbedFeatures
    assert len(table) == 4 * 4 and list(table["perturbation"][:4]) == [0, 1, 2, 3]
    assert table.columns[0] == "patient" and "original_glcm_Contrast" in table.columns
    assert result.failures.empty


def test_pure_noise_feature_gets_icc_near_zero_and_runs_are_reproducible():
    rng = np.random.default_rng(0)

    def noiseExtract(image, mask):
        return {"noise": rng.normal(), "meanValue": float(sitk.GetArrayViewFromImage(image).mean())}

    cases = {f"P{n}": sphereCase(3, 100.0, size=16, noise=5.0, seed=n) for n in range(40)}
    result = assessRobustness(cases, noiseExtract, perturbations=("noise",), count=4, seed=3)
    assert abs(result.stability.loc["noise", "icc"]) < 0.1
    again = assessRobustness(
        dict(reversed(cases.items())),
        lambda i, m: {"meanValue": float(sitk.GetArrayViewFromImage(i).mean())},
        perturbations=("noise",),
        count=4,
        seed=3,
    )
    first = result.perturbedFeatures.set_index(["patient", "perturbation"])["meanValue"]
    second = again.perturbedFeatures.set_index(["patient", "perturbation"])["meanValue"]
    pd.testing.assert_series_equal(first.sort_index(), second.sort_index())


def test_failed_extractions_are_recorded_and_cancel_stops():
    cases = {f"P{n}": sphereCase(3 + n, 100.0, size=20) for n in range(3)}
    calls = []

    def flaky(image, mask):
        calls.append(1)
        if len(calls) == 2:
            raise ValueError("pyradiomics says no")
        return {"volume": float(np.count_nonzero(sitk.GetArrayViewFromImage(mask)))}

    reports = []
    result = assessRobustness(cases, flaky, count=2, progress=lambda f, m: reports.append(f))
    assert result.failures.to_dict("records") == [
        {"patient": "P0", "stage": "extraction", "perturbation": 1, "error": "pyradiomics says no"}
    ]
    assert len(result.perturbedFeatures) == 8 and reports[-1] == 1.0 and reports == sorted(reports)
    token = CancelToken()
    token.cancel()
    with pytest.raises(CancelledError):
        assessRobustness(cases, flaky, count=1, cancel=token)
    with pytest.raises(InputError, match="at least 2 cases"):
        assessRobustness({"P0": cases["P0"]}, flaky)
    with pytest.raises(InputError, match="Only 0 of 3 patients.*P0: division by zero"):
        assessRobustness(cases, lambda i, m: 1 / 0, count=1)


def test_an_unusable_case_is_recorded_and_the_others_go_on():
    cases = {f"P{n}": sphereCase(3 + n, 100.0, size=20) for n in range(3)}
    image, mask = cases["P1"]
    cases["P1"] = (image, mask * 0)

    def volume(image, mask):
        return {"volume": float(np.count_nonzero(sitk.GetArrayViewFromImage(mask)))}

    result = assessRobustness(cases, volume, count=2)
    (failure,) = result.failures.to_dict("records")
    assert failure["patient"] == "P1" and failure["stage"] == "case" and "no voxel with label 1" in failure["error"]
    assert list(result.perturbedFeatures["patient"].unique()) == ["P0", "P2"]
    assert result.stability.loc["volume", "patients"] == 2
