"""QA metrics on real tumour masks (pyradiomics' sample cases, anisotropic MR and CT grids) against a
perturbed second segmentation: agreement with MONAI's surface metrics and SimpleITK's overlap measures."""

import numpy as np
import pytest
import SimpleITK as sitk

from VirtualBiopsy.segment.qa.metrics import computeMetrics

pytestmark = pytest.mark.network  # the shared sampleCases fixture fetches the files through pip once


def _secondRater(label: sitk.Image) -> sitk.Image:
    """A plausible second segmentation: dilated by one voxel in-plane, then shifted one voxel along i."""
    mask = sitk.Cast(label != 0, sitk.sitkUInt8)
    grown = sitk.BinaryDilate(mask, (1, 1, 0), sitk.sitkBall)
    voxels = np.roll(sitk.GetArrayFromImage(grown), 1, axis=2)
    voxels[:, :, 0] = 0
    image = sitk.GetImageFromArray(voxels)
    image.CopyInformation(label)
    return image


@pytest.mark.slow
@pytest.mark.parametrize("caseName", ["brain1", "brain2", "breast1", "lung1", "lung2"])
def test_real_masks_agree_with_monai_and_simpleitk(sampleCases, caseName):
    import torch
    from monai.metrics import (
        compute_average_surface_distance,
        compute_hausdorff_distance,
        compute_surface_dice,
    )

    label = sitk.ReadImage(str(sampleCases[caseName].label))
    reference = sitk.Cast(label != 0, sitk.sitkUInt8)
    prediction = _secondRater(label)
    tolerance = 2.0
    metrics = computeMetrics(reference, prediction, toleranceMm=tolerance)
    assert 0.3 < metrics.dsc < 1.0

    def oneHot(image):
        voxels = torch.from_numpy(sitk.GetArrayFromImage(image).astype(np.float32))[None, None]
        return torch.cat([1 - voxels, voxels], dim=1)

    y, yPred, spacing = oneHot(reference), oneHot(prediction), reference.GetSpacing()[::-1]
    assert metrics.hd95Mm == pytest.approx(
        float(compute_hausdorff_distance(yPred, y, percentile=95, spacing=spacing)), rel=1e-5
    )
    assert metrics.hdMm == pytest.approx(float(compute_hausdorff_distance(yPred, y, spacing=spacing)), rel=1e-5)
    assert metrics.msdMm == pytest.approx(
        float(compute_average_surface_distance(yPred, y, symmetric=True, spacing=spacing)), rel=1e-5
    )
    assert metrics.surfaceDsc == pytest.approx(
        float(compute_surface_dice(yPred, y, [tolerance], spacing=spacing)), rel=1e-5
    )
    overlap = sitk.LabelOverlapMeasuresImageFilter()
    overlap.Execute(prediction, reference)
    assert metrics.dsc == pytest.approx(overlap.GetDiceCoefficient(), abs=1e-12)
    assert metrics.jaccard == pytest.approx(overlap.GetJaccardCoefficient(), abs=1e-12)
    assert metrics.fnr == pytest.approx(overlap.GetFalseNegativeError(), abs=1e-12)
