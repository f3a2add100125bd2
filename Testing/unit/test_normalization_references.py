"""Each normalization against its reference implementation on the same virtual-cohort images:
intensity-normalization 3.0.1, TorchIO 1.2.1, SimpleITK and scikit-image."""

import numpy as np
import pytest
import SimpleITK as sitk
from normalizationCases import arrays, cohortCase, writeImage

from VirtualBiopsy.harmonize.normalization import (
    applyNyul,
    clahe,
    fitNyulLandmarks,
    histogramEqualization,
    histogramMatching,
    percentileRescale,
    whiteStripeNormalize,
    zScoreNormalize,
)
from VirtualBiopsy.harmonize.normalization.whiteStripe import (
    findWhiteStripe,
    smoothedHistogram,
    stripeAroundMode,
)

intensityNormalization = pytest.importorskip("intensity_normalization")
from intensity_normalization.adapters.images import NumpyImageAdapter  # noqa: E402
from intensity_normalization.domain.models import Modality  # noqa: E402


def _adapter(array):
    return NumpyImageAdapter(array)


@pytest.mark.slow  # imports torch (TorchIO)
def test_zscore_equals_intensity_normalization_and_torchio():
    """intensity-normalization divides by the population SD (ddof 0), as we do: equal to float32 precision.
    TorchIO's ZNormalization uses torch's unbiased SD (ddof 1): it equals ours times sqrt((n - 1) / n)."""
    from intensity_normalization.normalizers.individual.zscore import ZScoreNormalizer

    torchio = pytest.importorskip("torchio")
    case, head = cohortCase(0)
    image = case.images["T2"]
    voxels, inside = arrays(image, head)
    ours = sitk.GetArrayFromImage(zScoreNormalize(image, head, backgroundValue=None))
    reference = ZScoreNormalizer().fit_transform(_adapter(voxels), _adapter(inside.astype(np.uint8))).get_data()
    np.testing.assert_allclose(ours, reference, rtol=0, atol=2e-5 * np.abs(reference).max())
    subject = torchio.Subject(
        image=torchio.ScalarImage(tensor=voxels[None].astype(np.float32)),
        head=torchio.LabelMap(tensor=inside[None].astype(np.uint8)),
    )
    viaTorchio = torchio.ZNormalization(masking_method="head")(subject)["image"].data.numpy()[0]
    count = int(inside.sum())
    np.testing.assert_allclose(ours * np.sqrt((count - 1) / count), viaTorchio, rtol=0, atol=1e-4)


@pytest.mark.parametrize(
    ("sequence", "contrast", "modality"),
    [("T1c", "T1", Modality.T1), ("T2", "T2", Modality.T2), ("FLAIR", "FLAIR", Modality.FLAIR)],
)
def test_whitestripe_agrees_with_intensity_normalization(sequence, contrast, modality):
    """The stripe around a given mode, and so the output, are intensity-normalization's (it works in float32). The modes
    differ by less than one step of its density grid: it evaluates the KDE at 80 points from the minimum to
    the maximum; we evaluate the same KDE (Scott's bandwidth) binned on 2048 points, so our mode is the
    finer one. The difference is bounded here by that step."""
    from intensity_normalization.normalizers.individual.whitestripe import (
        WhiteStripeNormalizer,
    )

    case, head = cohortCase(1)
    voxels, inside = arrays(case.images[sequence], head)
    values = voxels[inside]
    reference = WhiteStripeNormalizer(width=0.05, modality=modality)
    theirMode = reference._get_tissue_mode(values)
    reference.fit(_adapter(voxels), _adapter(inside.astype(np.uint8)))
    atTheirMode = stripeAroundMode(values, theirMode, 0.05)
    assert atTheirMode.mean == pytest.approx(reference.mean, rel=1e-6)
    assert atTheirMode.standardDeviation == pytest.approx(reference.std, rel=1e-5)
    ours = findWhiteStripe(values, contrast, 0.05)
    kept = values if contrast != "T1" else values[values <= np.percentile(values, 96)]
    theirStep = (kept.max() - kept.min()) / 79
    assert abs(ours.mode - theirMode) <= theirStep
    normalized = sitk.GetArrayFromImage(
        whiteStripeNormalize(case.images[sequence], head, contrast, backgroundValue=None)
    )
    np.testing.assert_allclose(normalized, (voxels - ours.mean) / ours.standardDeviation, rtol=1e-5, atol=1e-4)


def test_smoothed_histogram_equals_scipy_kernel_density():
    from scipy.stats import gaussian_kde

    case, head = cohortCase(1)
    voxels, inside = arrays(case.images["T2"], head)
    values = voxels[inside][::7]
    grid, density = smoothedHistogram(values)
    reference = gaussian_kde(values)(grid[::16])
    np.testing.assert_allclose(density[::16], reference, rtol=0, atol=5e-3 * reference.max())


def _nyulCohort():
    cases = [cohortCase(index) for index in range(4)]
    return [case.images["T1c"] for case, _ in cases], [head for _, head in cases]


@pytest.mark.slow  # imports torch (TorchIO)
def test_nyul_equals_torchio_histogram_standardization(tmp_path):
    """TorchIO trains on the deciles, quartiles and 1st/99th percentiles and applies the deciles and the
    1st/99th only: with our default percentiles its applied map is ours. It reads the images as float32."""
    torchio = pytest.importorskip("torchio")
    images, masks = _nyulCohort()
    model = fitNyulLandmarks(images[:3], masks[:3])
    paths = [writeImage(image, tmp_path / f"image{i}.nrrd") for i, image in enumerate(images[:3])]
    maskPaths = [writeImage(mask, tmp_path / f"mask{i}.nrrd") for i, mask in enumerate(masks[:3])]
    landmarks = torchio.HistogramStandardization.train(paths, mask_path=maskPaths, progress=False)
    applied = [0, 1, 2, 4, 5, 6, 7, 8, 10, 11, 12]
    np.testing.assert_allclose(model.standardLandmarks, landmarks[applied], rtol=1e-6, atol=1e-6)
    voxels, inside = arrays(images[3], masks[3])
    subject = torchio.Subject(
        image=torchio.ScalarImage(tensor=voxels[None].astype(np.float32)),
        head=torchio.LabelMap(tensor=inside[None].astype(np.uint8)),
    )
    transform = torchio.HistogramStandardization({"image": landmarks}, masking_method="head")
    viaTorchio = transform(subject)["image"].data.numpy()[0]
    ours = sitk.GetArrayFromImage(applyNyul(images[3], masks[3], model, backgroundValue=None))
    np.testing.assert_allclose(ours, viaTorchio, rtol=1e-5, atol=1e-3)


def test_nyul_equals_intensity_normalization():
    """intensity-normalization's NyulNormalizer maps the 1st/99th percentiles to its output range and
    extrapolates linearly, like us: with the same range the landmarks and the output agree."""
    from intensity_normalization.normalizers.population.nyul import NyulNormalizer

    images, masks = _nyulCohort()
    model = fitNyulLandmarks(images[:3], masks[:3], standardRange=(1.0, 100.0))
    reference = NyulNormalizer(output_min_value=1.0, output_max_value=100.0)
    pairs = [arrays(image, mask) for image, mask in zip(images, masks)]
    reference.fit_population([_adapter(v) for v, _ in pairs[:3]], [_adapter(m.astype(np.uint8)) for _, m in pairs[:3]])
    np.testing.assert_allclose(model.percentiles, reference.percentiles)
    np.testing.assert_allclose(model.standardLandmarks, reference.standard_scale, rtol=1e-6)  # it works in float32
    voxels, inside = pairs[3]
    expected = reference.transform(_adapter(voxels), _adapter(inside.astype(np.uint8))).get_data()
    ours = sitk.GetArrayFromImage(applyNyul(images[3], masks[3], model, backgroundValue=None))
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-3)


def test_histogram_matching_without_masks_is_simpleitk():
    case, _ = cohortCase(0)
    reference, _ = cohortCase(2)
    image, target = case.images["FLAIR"], reference.images["FLAIR"]
    ours = histogramMatching(image, None, target, histogramLevels=512, matchPoints=5)
    direct = sitk.HistogramMatching(
        sitk.Cast(image, sitk.sitkFloat64),
        sitk.Cast(target, sitk.sitkFloat64),
        numberOfHistogramLevels=512,
        numberOfMatchPoints=5,
        thresholdAtMeanIntensity=True,
    )
    np.testing.assert_allclose(sitk.GetArrayFromImage(ours), sitk.GetArrayFromImage(direct), rtol=1e-6, atol=1e-3)


def test_histogram_matching_with_masks_is_simpleitk_on_the_masked_voxels():
    case, head = cohortCase(0)
    reference, referenceHead = cohortCase(2)
    image, target = case.images["FLAIR"], reference.images["FLAIR"]
    voxels, inside = arrays(image, head)
    targetValues = arrays(target, referenceHead)[0][arrays(target, referenceHead)[1]]
    ours = sitk.GetArrayFromImage(histogramMatching(image, head, target, referenceHead, backgroundValue=-1.0))
    direct = sitk.HistogramMatching(
        sitk.GetImageFromArray(voxels[inside].reshape(1, 1, -1)),
        sitk.GetImageFromArray(targetValues.reshape(1, 1, -1)),
        numberOfHistogramLevels=1024,
        numberOfMatchPoints=7,
        thresholdAtMeanIntensity=False,
    )
    np.testing.assert_allclose(ours[inside], sitk.GetArrayFromImage(direct).ravel(), rtol=1e-6, atol=1e-3)
    assert np.all(ours[~inside] == -1.0)
    # the masked histogram now has the reference's quantiles at the match points
    quantiles = [100 * j / 8 for j in range(1, 8)]  # the 7 match points
    np.testing.assert_allclose(
        np.percentile(ours[inside], quantiles), np.percentile(targetValues, quantiles), rtol=0.02
    )


@pytest.mark.slow  # imports torch (TorchIO)
def test_percentile_rescale_equals_torchio_rescale_intensity():
    torchio = pytest.importorskip("torchio")
    case, head = cohortCase(3)
    voxels, inside = arrays(case.images["T2"], head)
    ours = sitk.GetArrayFromImage(percentileRescale(case.images["T2"], head, 1.0, 99.0, backgroundValue=None))
    subject = torchio.Subject(
        image=torchio.ScalarImage(tensor=voxels[None].astype(np.float32)),
        head=torchio.LabelMap(tensor=inside[None].astype(np.uint8)),
    )
    transform = torchio.RescaleIntensity(out_min_max=(0, 1), percentiles=(1, 99), masking_method="head")
    np.testing.assert_allclose(ours, transform(subject)["image"].data.numpy()[0], rtol=0, atol=1e-5)


def test_histogram_equalization_equals_scikit_image():
    exposure = pytest.importorskip("skimage.exposure")
    case, head = cohortCase(3)
    voxels, inside = arrays(case.images["FLAIR"], head)
    ours = sitk.GetArrayFromImage(histogramEqualization(case.images["FLAIR"], head, bins=128, backgroundValue=None))
    np.testing.assert_allclose(ours, exposure.equalize_hist(voxels, nbins=128, mask=inside), rtol=0, atol=1e-6)


def test_clahe_equals_scikit_image_on_the_rescaled_image():
    exposure = pytest.importorskip("skimage.exposure")
    case, head = cohortCase(3)
    image = case.images["T1c"]
    voxels, inside = arrays(image, head)
    low, high = voxels[inside].min(), voxels[inside].max()
    expected = exposure.equalize_adapthist(
        np.clip((voxels - low) / (high - low), 0, 1), kernel_size=(8, 8, 8), clip_limit=0.02, nbins=128
    )
    spacing = image.GetSpacing()[0]
    ours = sitk.GetArrayFromImage(
        clahe(image, head, clipLimit=0.02, kernelSizeMm=8 * spacing, bins=128, backgroundValue=None)
    )
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-6)
    masked = sitk.GetArrayFromImage(clahe(image, head, clipLimit=0.02, kernelSizeMm=8 * spacing, bins=128))
    np.testing.assert_array_equal(masked[inside], ours[inside])
    assert np.all(masked[~inside] == 0)
