"""Segmentation QA metrics: known answers on hand-built shapes (anisotropic spacing), agreement with
SimpleITK, MONAI and scikit-learn, invariance to the grid's orientation, empty masks and hostile input."""

import math

import numpy as np
import pytest
import SimpleITK as sitk
from qaMasks import SPACING, blob, box, maskImage

from VirtualBiopsy.errors import GeometryError, InputError
from VirtualBiopsy.segment.qa.metrics import COLUMNS, UNDEFINED_COLUMN, computeMetrics

SHAPE = (12, 16, 20)  # k, j, i
BOX_SIZE = (5, 8, 10)


@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("offset", [1, 2, 3])
def test_boxes_offset_by_k_voxels_have_exact_overlap_hausdorff_and_surface_dsc(axis, offset):
    start = np.array((3, 4, 5))
    shifted = start.copy()
    shifted[axis] += offset
    reference = maskImage(box(SHAPE, start, BOX_SIZE))
    prediction = maskImage(box(SHAPE, shifted, BOX_SIZE))
    step = SPACING[::-1][axis]  # spacing of array axis `axis`
    n = BOX_SIZE[axis]
    lateral = [BOX_SIZE[a] for a in range(3) if a != axis]
    area = lateral[0] * lateral[1]
    rim = area - (lateral[0] - 2) * (lateral[1] - 2)
    volume = int(np.prod(BOX_SIZE))

    metrics = computeMetrics(reference, prediction, toleranceMm=0.4)  # below every spacing: only exact hits count

    overlap = (n - offset) * area
    assert metrics.dsc == pytest.approx(2 * overlap / (2 * volume), abs=1e-12)
    assert metrics.jaccard == pytest.approx(overlap / (2 * volume - overlap), abs=1e-12)
    assert metrics.hdMm == pytest.approx(offset * step, abs=1e-12)
    surface = 2 * area + (n - 2) * rim
    assert metrics.surfaceDsc == pytest.approx((n - offset) * rim / surface, abs=1e-12)
    assert computeMetrics(reference, prediction, toleranceMm=offset * step).surfaceDsc == 1.0
    assert metrics.truePositives == overlap and metrics.falsePositives == metrics.falseNegatives == volume - overlap
    assert metrics.volumeDiffMl == 0.0 and metrics.volumeDiffRelative == 0.0
    assert metrics.referenceMl == pytest.approx(volume * 0.5 * 1.0 * 3.0 / 1000)


def test_two_voxel_slabs_give_exact_distance_distribution():
    # Every voxel of a two-voxel-thick slab is on its surface: half the distances are 0, half one step.
    reference = maskImage(box(SHAPE, (4, 2, 2), (2, 10, 12)))
    prediction = maskImage(box(SHAPE, (5, 2, 2), (2, 10, 12)))
    metrics = computeMetrics(reference, prediction, toleranceMm=2.9)
    assert metrics.hdMm == 3.0 and metrics.hd95Mm == 3.0 and metrics.msdMm == pytest.approx(1.5)
    assert metrics.surfaceDsc == pytest.approx(0.5) and metrics.dsc == pytest.approx(0.5)
    assert computeMetrics(reference, prediction, toleranceMm=3.0).surfaceDsc == 1.0


def test_rates_in_standard_and_primage_form():
    reference = maskImage(box(SHAPE, (2, 2, 2), (4, 5, 5)))  # 100 voxels
    prediction = maskImage(box(SHAPE, (2, 2, 4), (4, 5, 5)))  # overlap 4*5*3 = 60
    metrics = computeMetrics(reference, prediction)
    tp, fp, fn = 60, 40, 40
    tn = int(np.prod(SHAPE)) - tp - fp - fn
    assert (metrics.truePositives, metrics.falsePositives, metrics.falseNegatives, metrics.trueNegatives) == (
        tp,
        fp,
        fn,
        tn,
    )
    assert metrics.sensitivity == pytest.approx(tp / (tp + fn)) and metrics.specificity == pytest.approx(tn / (tn + fp))
    assert metrics.fpr == pytest.approx(fp / (fp + tn)) and metrics.fnr == pytest.approx(fn / (fn + tp))
    assert metrics.fprPrimage == pytest.approx(fp / (tp + fn)) and metrics.fnrPrimage == pytest.approx(fn / (tp + fn))
    assert metrics.fpr < 0.02 < metrics.fprPrimage == 0.4  # the two definitions differ by orders of magnitude


def test_volume_difference_in_ml_and_relative():
    reference = maskImage(box(SHAPE, (2, 2, 2), (4, 5, 5)))  # 100 voxels of 1.5 mm³
    prediction = maskImage(box(SHAPE, (2, 2, 2), (4, 5, 8)))  # 160 voxels
    metrics = computeMetrics(reference, prediction)
    assert metrics.volumeDiffMl == pytest.approx(60 * 1.5 / 1000) and metrics.volumeDiffRelative == pytest.approx(0.6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_overlap_agrees_with_simpleitk_label_overlap_measures(seed):
    reference, prediction = maskImage(blob(seed=seed)), maskImage(blob(seed=seed + 10))
    measures = sitk.LabelOverlapMeasuresImageFilter()
    measures.Execute(prediction, reference)  # source = prediction, target = reference
    metrics = computeMetrics(reference, prediction)
    assert metrics.dsc == pytest.approx(measures.GetDiceCoefficient(), abs=1e-12)
    assert metrics.jaccard == pytest.approx(measures.GetJaccardCoefficient(), abs=1e-12)
    assert metrics.fnr == pytest.approx(measures.GetFalseNegativeError(), abs=1e-12)
    assert 1 - metrics.sensitivity == pytest.approx(measures.GetFalseNegativeError(), abs=1e-12)
    similarity = 2 * metrics.volumeDiffMl / (metrics.referenceMl + metrics.predictionMl)
    assert similarity == pytest.approx(measures.GetVolumeSimilarity(), abs=1e-12)


def _contour(image: sitk.Image) -> sitk.Image:
    """Surface voxels by SimpleITK (face connectivity; padding makes the image border count as outside)."""
    padded = sitk.ConstantPad(image, (1, 1, 1), (1, 1, 1), 0)
    contour = sitk.BinaryContour(padded, fullyConnected=False, backgroundValue=0, foregroundValue=1)
    return sitk.Crop(contour, (1, 1, 1), (1, 1, 1))


@pytest.mark.parametrize("seed", [0, 3])
def test_hausdorff_agrees_with_simpleitk(seed):
    reference, prediction = maskImage(blob(seed=seed)), maskImage(blob(seed=seed + 10))
    hausdorff = sitk.HausdorffDistanceImageFilter()
    hausdorff.Execute(_contour(reference), _contour(prediction))
    assert computeMetrics(reference, prediction).hdMm == pytest.approx(hausdorff.GetHausdorffDistance(), rel=1e-9)
    # On two offset boxes the surface and the whole-mask Hausdorff distances coincide.
    boxA, boxB = maskImage(box(SHAPE, (2, 3, 4), BOX_SIZE)), maskImage(box(SHAPE, (4, 5, 3), BOX_SIZE))
    hausdorff.Execute(boxA, boxB)
    assert computeMetrics(boxA, boxB).hdMm == pytest.approx(hausdorff.GetHausdorffDistance(), rel=1e-9)


def _oneHot(mask: np.ndarray):
    import torch

    voxels = torch.from_numpy(mask.astype(np.float32))[None, None]
    return torch.cat([1 - voxels, voxels], dim=1)


@pytest.mark.slow  # importing MONAI and torch takes seconds
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_surface_metrics_agree_with_monai(seed):
    monai = pytest.importorskip("monai.metrics")
    truth, predicted = blob(seed=seed), blob(seed=seed + 20)
    tolerance = 1.7
    metrics = computeMetrics(maskImage(truth), maskImage(predicted), toleranceMm=tolerance)
    spacing = SPACING[::-1]  # MONAI takes the spacing in array order
    y, yPred = _oneHot(truth), _oneHot(predicted)
    assert metrics.hd95Mm == pytest.approx(
        float(monai.compute_hausdorff_distance(yPred, y, percentile=95, spacing=spacing)), rel=1e-5
    )
    assert metrics.hdMm == pytest.approx(float(monai.compute_hausdorff_distance(yPred, y, spacing=spacing)), rel=1e-5)
    assert metrics.msdMm == pytest.approx(
        float(monai.compute_average_surface_distance(yPred, y, symmetric=True, spacing=spacing)), rel=1e-5
    )
    assert metrics.surfaceDsc == pytest.approx(
        float(monai.compute_surface_dice(yPred, y, [tolerance], spacing=spacing)), rel=1e-5
    )
    assert metrics.dsc == pytest.approx(float(monai.compute_dice(yPred, y, include_background=False)), rel=1e-6)


def test_auc_agrees_with_scikit_learn_with_ties():
    from sklearn.metrics import roc_auc_score

    truth = blob(seed=4)
    rng = np.random.default_rng(0)
    scores = np.clip(truth * 0.3 + rng.normal(0.35, 0.2, truth.shape), 0, 1)
    scores = np.round(scores, 2).astype(np.float32)  # many ties
    probabilities = sitk.GetImageFromArray(scores)
    probabilities.CopyInformation(maskImage(truth))
    metrics = computeMetrics(maskImage(truth), maskImage(scores > 0.5), probabilities)
    assert metrics.auc == pytest.approx(roc_auc_score(truth.ravel(), scores.ravel()), abs=1e-12)
    assert 0.5 < metrics.auc < 1.0 and "auc" not in metrics.undefined


def test_metrics_do_not_depend_on_orientation_or_voxel_order():
    truth, predicted = blob(seed=5), blob(seed=6)
    plain = computeMetrics(maskImage(truth), maskImage(predicted), toleranceMm=1.0).toDict()
    oblique = sitk.VersorTransform((0.2, -0.4, 0.5), 0.9).GetMatrix()
    rotated = computeMetrics(
        maskImage(truth, direction=oblique), maskImage(predicted, direction=oblique), toleranceMm=1.0
    ).toDict()
    # The same physical masks with the i and k axes stored in reverse order (sitk.Flip keeps world positions).
    flippedTruth, flippedPrediction = (sitk.Flip(maskImage(m), (True, False, True)) for m in (truth, predicted))
    assert flippedTruth.GetDirection()[0] == -1.0
    assert not np.array_equal(sitk.GetArrayFromImage(flippedTruth), truth.astype(np.uint8))
    flipped = computeMetrics(flippedTruth, flippedPrediction, toleranceMm=1.0).toDict()
    for other in (rotated, flipped):
        for column, value in plain.items():
            if isinstance(value, float):
                assert other[column] == pytest.approx(value, rel=1e-12, abs=1e-12), column
            else:
                assert other[column] == value, column


def test_both_masks_empty_agree_perfectly_and_say_what_is_undefined():
    empty = maskImage(np.zeros(SHAPE, bool))
    metrics = computeMetrics(empty, empty)
    assert (metrics.dsc, metrics.jaccard, metrics.surfaceDsc) == (1.0, 1.0, 1.0)
    assert (metrics.hdMm, metrics.hd95Mm, metrics.msdMm, metrics.volumeDiffMl) == (0.0, 0.0, 0.0, 0.0)
    assert metrics.specificity == 1.0 and metrics.fpr == 0.0
    for column in ("sensitivity", "fnr", "fpr_primage", "fnr_primage", "volume_diff_rel", "auc"):
        assert metrics.toDict()[column] is None and column in metrics.undefined
    assert "reference is empty" in metrics.undefined["sensitivity"]
    assert "sensitivity: the reference is empty" in metrics.toDict()[UNDEFINED_COLUMN]


def test_empty_prediction_is_infinitely_far_and_misses_everything():
    reference = maskImage(box(SHAPE, (2, 2, 2), (4, 5, 5)))
    metrics = computeMetrics(reference, maskImage(np.zeros(SHAPE, bool)))
    assert metrics.dsc == 0.0 and metrics.surfaceDsc == 0.0 and metrics.sensitivity == 0.0
    assert math.isinf(metrics.hdMm) and math.isinf(metrics.hd95Mm) and math.isinf(metrics.msdMm)
    assert metrics.fnr == 1.0 and metrics.fnrPrimage == 1.0 and metrics.fprPrimage == 0.0
    assert metrics.volumeDiffRelative == -1.0 and set(metrics.undefined) == {"auc"}


def test_empty_reference_makes_reference_relative_ratios_infinite_or_undefined():
    prediction = maskImage(box(SHAPE, (2, 2, 2), (4, 5, 5)))
    metrics = computeMetrics(maskImage(np.zeros(SHAPE, bool)), prediction)
    assert metrics.dsc == 0.0 and math.isinf(metrics.hd95Mm)
    assert math.isinf(metrics.fprPrimage) and math.isinf(metrics.volumeDiffRelative)
    assert metrics.sensitivity is None and metrics.fnr is None and metrics.fnrPrimage is None
    assert metrics.fpr == pytest.approx(100 / (np.prod(SHAPE)))


def test_auc_of_a_one_class_reference_is_undefined_with_reason():
    empty = maskImage(np.zeros(SHAPE, bool))
    probabilities = sitk.Cast(empty, sitk.sitkFloat32) + 0.3
    metrics = computeMetrics(empty, empty, probabilities)
    assert metrics.auc is None and "one class" in metrics.undefined["auc"]


def test_to_dict_has_every_column_in_order():
    row = computeMetrics(maskImage(blob(seed=1)), maskImage(blob(seed=2))).toDict()
    assert list(row) == [*COLUMNS.values(), UNDEFINED_COLUMN]
    for column in (
        "dsc",
        "jaccard",
        "hd95_mm",
        "msd_mm",
        "surface_dsc",
        "volume_diff_ml",
        "sensitivity",
        "specificity",
        "auc",
        "fpr",
        "fnr",
        "fpr_primage",
        "fnr_primage",
    ):
        assert column in row


def test_masks_on_different_grids_are_refused_naming_both_grids():
    reference = maskImage(box(SHAPE, (2, 2, 2), (4, 5, 5)))
    moved = maskImage(box(SHAPE, (2, 2, 2), (4, 5, 5)), origin=(1.0, -2.0, 4.5))
    with pytest.raises(
        GeometryError,
        match=r"prediction mask: size.*origin \(1, -2, 4\.5\).*reference mask: size.*origin \(1, -2, 3\).*Resample",
    ):
        computeMetrics(reference, moved)
    resized = maskImage(np.zeros((12, 16, 21), bool))
    with pytest.raises(GeometryError, match=r"size \(21, 16, 12\).*size \(20, 16, 12\)"):
        computeMetrics(reference, resized)
    with pytest.raises(GeometryError, match="spacing"):
        computeMetrics(reference, maskImage(box(SHAPE, (2, 2, 2), (4, 5, 5)), spacing=(0.5, 1.0, 2.0)))
    turned = maskImage(box(SHAPE, (2, 2, 2), (4, 5, 5)), direction=(0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0))
    with pytest.raises(GeometryError, match=r"direction \(0, 1, 0, 1, 0, 0, 0, 0, 1\)"):
        computeMetrics(reference, turned)
    with pytest.raises(GeometryError, match="probability map"):
        computeMetrics(reference, reference, sitk.Cast(moved, sitk.sitkFloat32))


def test_hostile_inputs_are_refused_with_the_fix():
    reference = maskImage(box(SHAPE, (2, 2, 2), (4, 5, 5)))
    floating = sitk.Cast(reference, sitk.sitkFloat32)
    voxels = sitk.GetArrayFromImage(floating)
    voxels[0, 0, 0] = np.nan
    withNan = sitk.GetImageFromArray(voxels)
    withNan.CopyInformation(reference)
    with pytest.raises(InputError, match="1 NaN or infinite voxel"):
        computeMetrics(reference, withNan)
    with pytest.raises(InputError, match="probability map has 1 NaN"):
        computeMetrics(reference, reference, withNan)
    for tolerance in (-1.0, math.nan, math.inf):
        with pytest.raises(InputError, match="tolerance"):
            computeMetrics(reference, reference, toleranceMm=tolerance)
    with pytest.raises(GeometryError, match="2D"):
        computeMetrics(reference, sitk.Image(4, 4, sitk.sitkUInt8))
    with pytest.raises(InputError, match="SimpleITK.Image"):
        computeMetrics(sitk.GetArrayFromImage(reference), reference)
