"""Nyúl standardization: the model file (round trip, versions, damaged files), fitting checks, the
piecewise-linear map with extrapolation, and the site effect it removes on the virtual cohort."""

import json

import numpy as np
import pytest
import SimpleITK as sitk
from normalizationCases import arrays, caseAtSite, cohortCase
from syntheticImages import headWithLesion

from VirtualBiopsy.errors import CancelledError, InputError
from VirtualBiopsy.harmonize.foreground import foregroundMask
from VirtualBiopsy.harmonize.normalization import (
    DEFAULT_PERCENTILES,
    NyulModel,
    applyNyul,
    fitNyulLandmarks,
    zScoreNormalize,
)
from VirtualBiopsy.harmonize.normalization.nyul import piecewiseLinear, voxelHash
from VirtualBiopsy.harmonize.normalization.nyulModel import SCHEMA_VERSION
from VirtualBiopsy.progress import CancelToken


@pytest.fixture
def fitted():
    images, masks = zip(*[headWithLesion(size=24, seed=seed)[::2] for seed in range(3)])
    return fitNyulLandmarks(images, masks, sequence="T1c"), images, masks


def test_model_round_trips_through_json(tmp_path, fitted):
    model, images, _ = fitted
    path = model.save(tmp_path / "landmarks.json")
    loaded = NyulModel.load(path)
    assert loaded == model
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["schemaVersion"] == SCHEMA_VERSION and document["format"] == "VirtualBiopsy.NyulModel"
    assert document["sequence"] == "T1c" and document["fittedOn"]["count"] == 3
    assert document["fittedOn"]["sha256"] == [voxelHash(image) for image in images]
    assert document["percentiles"] == list(DEFAULT_PERCENTILES) and document["standardRange"] == [0.0, 100.0]
    with pytest.raises(InputError, match="exists already"):
        model.save(path)


def _write(tmp_path, document, name="model.json"):
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"schemaVersion": SCHEMA_VERSION + 1}, "newer than this Virtual Biopsy reads"),
        ({"schemaVersion": "1"}, "schemaVersion '1'"),
        ({"format": "something else"}, "is not a Nyúl model"),
        ({"percentiles": [1, 10, 20, 30, 40, 50, 50, 70, 80, 90, 99]}, "not strictly increasing"),
        ({"percentiles": [0] + list(DEFAULT_PERCENTILES[1:])}, "strictly between 0 and 100"),
        ({"standardLandmarks": [0, 5]}, "2 standard landmarks for 11 percentiles"),
        ({"standardLandmarks": list(range(11))[::-1]}, "not finite and strictly increasing"),
        ({"standardRange": [100, 0]}, "low < high"),
        ({"standardLandmarks": "0..100"}, "must be a list of numbers"),
        ({"fittedOn": {"count": -1, "sha256": []}}, "whole number of images"),
        ({"sequence": None}, "'sequence' must be text"),
    ],
)
def test_damaged_or_foreign_model_files_are_refused(tmp_path, fitted, change, message):
    document = {**fitted[0].toDict(), **change}
    with pytest.raises(InputError, match=message):
        NyulModel.load(_write(tmp_path, document))


def test_missing_key_invalid_json_and_nan_are_refused(tmp_path, fitted):
    document = fitted[0].toDict()
    del document["standardLandmarks"]
    with pytest.raises(InputError, match="lacks or mistypes 'standardLandmarks'"):
        NyulModel.load(_write(tmp_path, document))
    with pytest.raises(InputError, match="not valid JSON"):
        NyulModel.load(_write(tmp_path, "{not json", "bad.json"))
    text = json.dumps(fitted[0].toDict()).replace('"standardRange": [0.0, 100.0]', '"standardRange": [NaN, 100.0]')
    with pytest.raises(InputError, match="not valid JSON"):
        NyulModel.load(_write(tmp_path, text, "nan.json"))
    with pytest.raises(InputError, match="not found"):
        NyulModel.load(tmp_path / "absent.json")


def test_fit_checks_its_inputs(fitted):
    _, images, masks = fitted
    with pytest.raises(InputError, match="no images"):
        fitNyulLandmarks([])
    with pytest.raises(InputError, match="3 images but 2 masks"):
        fitNyulLandmarks(images, masks[:2])
    with pytest.raises(InputError, match="strictly increasing"):
        fitNyulLandmarks(images, masks, percentiles=(1, 50, 40, 99))
    with pytest.raises(InputError, match="low < high"):
        fitNyulLandmarks(images, masks, standardRange=(1, 1))
    with pytest.raises(InputError, match="training image 2"):
        fitNyulLandmarks([images[0], images[1] * 0 + 1], masks[:2])
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(CancelledError):
        fitNyulLandmarks(images, masks, cancel=cancel)
    reports = []
    fitNyulLandmarks(images, masks, progress=lambda fraction, message: reports.append(fraction))
    assert reports[0] == 0.0 and reports[-1] == 1.0


def test_background_heavy_image_gives_a_clear_error(fitted):
    """Without a mask most voxels are background: equal landmarks at several percentiles."""
    model = fitted[0]
    voxels = np.zeros((20, 20, 20), np.float32)
    voxels[8:12, 8:12, 8:12] = np.arange(64).reshape(4, 4, 4)
    with pytest.raises(InputError, match="same intensity at percentiles 1%/10%"):
        applyNyul(sitk.GetImageFromArray(voxels), None, model)
    with pytest.raises(InputError, match="expected a NyulModel"):
        applyNyul(sitk.GetImageFromArray(voxels), None, model.toDict())


def test_piecewise_linear_map_hits_the_landmarks_and_extrapolates_the_end_segments():
    knots = np.array([10.0, 20.0, 40.0])
    targets = np.array([0.0, 50.0, 100.0])
    values = np.array([0.0, 10.0, 15.0, 20.0, 30.0, 40.0, 60.0])
    np.testing.assert_allclose(piecewiseLinear(values, knots, targets), [-50, 0, 25, 50, 75, 100, 150])


def test_applying_to_a_training_image_maps_its_landmarks_near_the_standard_ones(fitted):
    model, images, masks = fitted
    output, inside = arrays(applyNyul(images[0], masks[0], model), masks[0])
    np.testing.assert_allclose(np.percentile(output[inside], model.percentiles), model.standardLandmarks, atol=1e-3)


def _siteDistance(images, masks, sites) -> float:
    """Scale-free distance between the two sites' intensity distributions in the head: the mean absolute
    difference of their average 5th..95th percentile curves, over the pooled interquartile range."""
    levels = np.arange(5, 96, 5)
    curves = {site: [] for site in set(sites)}
    pooled = []
    for image, mask, site in zip(images, masks, sites):
        voxels, inside = arrays(image, mask)
        curves[site].append(np.percentile(voxels[inside], levels))
        pooled.append(voxels[inside])
    first, second = (np.mean(curves[site], axis=0) for site in sorted(curves))
    pooled = np.concatenate(pooled)
    return float(np.mean(np.abs(first - second)) / np.subtract(*np.percentile(pooled, (75, 25))))


@pytest.mark.slow  # generates eight 64³ virtual patients
def test_nyul_brings_two_sites_closer_on_held_out_patients():
    """Fitted on patients 1–4 (sites C, C, A, B), applied to patients 5–8 (sites A, C, A, C): the
    distance between the two sites' head histograms shrinks at least fourfold."""
    training = [cohortCase(index) for index in range(4)]
    model = fitNyulLandmarks([case.images["T1c"] for case, _ in training], [head for _, head in training])
    heldOut = [cohortCase(index) for index in range(4, 8)]
    sites = [case.site for case, _ in heldOut]
    assert sorted(set(sites)) == ["SiteA", "SiteC"]
    images = [case.images["T1c"] for case, _ in heldOut]
    masks = [head for _, head in heldOut]
    before = _siteDistance(images, masks, sites)
    after = _siteDistance([applyNyul(image, mask, model) for image, mask in zip(images, masks)], masks, sites)
    print(f"site distance before {before:.3f}, after Nyúl {after:.3f}")
    assert after < before / 4, (before, after)


@pytest.mark.slow  # generates six 64³ virtual patients
def test_nyul_brings_one_anatomy_scanned_at_two_sites_together():
    """Patient 5's anatomy and tumour scanned at its own site A (1.5 T) and at site B (3 T), normalized with
    a scale fitted on patients 1–4: the histogram distance (as above) falls at least 20-fold and below
    z-score's; the voxel-wise mean absolute difference inside both heads (over the pooled IQR) halves."""
    training = [cohortCase(index) for index in range(4)]
    model = fitNyulLandmarks([case.images["T1c"] for case, _ in training], [head for _, head in training])
    case, _ = cohortCase(4)
    assert case.site == "SiteA"
    np.testing.assert_array_equal(
        sitk.GetArrayFromImage(caseAtSite(4, "SiteA")), sitk.GetArrayFromImage(case.images["T1c"])
    )  # the helper repeats generateCase
    images = [case.images["T1c"], caseAtSite(4, "SiteB")]
    masks = [foregroundMask(image) for image in images]
    sites = ["SiteA", "SiteB"]

    def voxelDistance(pair) -> float:
        (first, inFirst), (second, inSecond) = (arrays(image, mask) for image, mask in zip(pair, masks))
        both = inFirst & inSecond
        pooled = np.concatenate([first[inFirst], second[inSecond]])
        return float(np.mean(np.abs(first[both] - second[both])) / np.subtract(*np.percentile(pooled, (75, 25))))

    standardized = [applyNyul(image, mask, model) for image, mask in zip(images, masks)]
    zScored = [zScoreNormalize(image, mask) for image, mask in zip(images, masks)]
    before, after = _siteDistance(images, masks, sites), _siteDistance(standardized, masks, sites)
    print(
        f"one anatomy, sites A and B: histogram distance {before:.3f} → Nyúl {after:.3f} "
        f"(z-score {_siteDistance(zScored, masks, sites):.3f}); voxel-wise {voxelDistance(images):.3f} → "
        f"{voxelDistance(standardized):.3f}"
    )
    assert after < before / 20 and after < _siteDistance(zScored, masks, sites)
    assert voxelDistance(standardized) < voxelDistance(images) / 2
