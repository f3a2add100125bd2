"""Multimodal registration: recovers a known rigid transform across contrasts, is deterministic,
retries with a mask when QC fails, refuses bad input."""

import math

import numpy as np
import pytest
import SimpleITK as sitk
from harmonizePhantoms import knownRigidTransform, twoContrastHead

from VirtualBiopsy.errors import CancelledError, GeometryError, InputError
from VirtualBiopsy.harmonize.registration import (
    RegistrationSettings,
    dilateMm,
    registerImages,
)
from VirtualBiopsy.harmonize.registrationQuality import (
    normalizedMutualInformation,
    passesQc,
)
from VirtualBiopsy.progress import CancelToken

#: Points spread over the head (LPS, mm) where the recovered transform is compared with the true one.
HEAD_POINTS = [(x, y, z) for x in (-40.0, 0.0, 40.0) for y in (-45.0, 0.0, 45.0) for z in (-35.0, 0.0, 35.0)]


@pytest.fixture(scope="module")
def pair():
    """(fixed T1-like, moving T2-like moved by the known rigid transform, lesion mask on the fixed grid)."""
    t1Like, t2Like, lesion = twoContrastHead()
    moving = sitk.Resample(t2Like, t2Like, knownRigidTransform().GetInverse(), sitk.sitkLinear, 0.0)
    return t1Like, moving, lesion


def transformErrors(transform, truth=None):
    """Largest point error (mm) over HEAD_POINTS and the angle (degrees) of the rotation between the two."""
    truth = truth or knownRigidTransform()
    error = max(np.linalg.norm(np.subtract(transform.TransformPoint(p), truth.TransformPoint(p))) for p in HEAD_POINTS)
    u, _, vt = np.linalg.svd(np.array(transform.GetMatrix()).reshape(3, 3))  # rotation part of an affine
    relative = (u @ vt) @ np.array(truth.GetMatrix()).reshape(3, 3).T
    return error, math.degrees(math.acos(min(1.0, (np.trace(relative) - 1) / 2)))


@pytest.mark.slow
def test_registration_recovers_a_known_rigid_transform_across_contrasts(pair):
    fixed, moving, _ = pair
    before = sitk.GetArrayFromImage(moving)
    progress = []
    result = registerImages(fixed, moving, stages=("rigid", "affine"), progress=lambda f, m: progress.append(f))
    error, angle = transformErrors(result.transform)
    assert error < 1.0 and angle < 1.0  # mm, degrees (the moving image moved 5.6 mm and 7°)
    assert result.qcPassed and not result.retried and result.metricMask == "none"
    assert result.metrics["nmiAfter"] > result.metrics["nmiBefore"] + 0.1
    assert result.metrics["mattesAfter"] < result.metrics["mattesBefore"]
    assert result.stagesKept[0] == "rigid"
    # the resampled image is the moving image through the returned transform, on the fixed grid
    direct = sitk.Resample(moving, fixed, result.transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(result.resampled), sitk.GetArrayFromImage(direct))
    assert result.resampled.GetSize() == fixed.GetSize() and result.resampled.GetOrigin() == fixed.GetOrigin()
    np.testing.assert_array_equal(sitk.GetArrayFromImage(moving), before)
    assert progress[-1] == 1.0 and all(0.0 <= f <= 1.0 for f in progress)


@pytest.mark.slow
def test_registration_is_deterministic_for_a_seed(pair):
    fixed, moving, _ = pair
    settings = RegistrationSettings(shrinkFactors=(4, 2), smoothingSigmas=(2.0, 1.0), seed=3)
    first = registerImages(fixed, moving, stages=("rigid",), retry=False, settings=settings)
    second = registerImages(fixed, moving, stages=("rigid",), retry=False, settings=settings)
    # equal up to the order of ITK's multi-threaded sums
    np.testing.assert_allclose(first.transform.GetParameters(), second.transform.GetParameters(), atol=1e-4)


@pytest.mark.slow
def test_failed_qc_retries_with_the_dilated_mask(pair):
    fixed, moving, lesion = pair
    settings = RegistrationSettings(shrinkFactors=(4, 2), smoothingSigmas=(2.0, 1.0))
    # an unreachable QC threshold: both runs fail, the better one comes back, flagged
    result = registerImages(fixed, moving, lesion, stages=("rigid",), qcMinimumNmi=1.99, settings=settings)
    assert result.retried and not result.qcPassed
    assert [attempt["metricMask"] for attempt in result.attempts] == ["none", "tumour"]
    assert result.metrics["nmiAfter"] == max(attempt["nmiAfter"] for attempt in result.attempts)
    # focusOnMask: the dilated mask at once, twice the dilation on retry
    focused = registerImages(
        fixed, moving, lesion, stages=("rigid",), focusOnMask=True, qcMinimumNmi=1.99, settings=settings
    )
    assert [attempt["metricMask"] for attempt in focused.attempts] == ["tumour", "tumourWide"]
    # without a tumour mask the retry uses the head
    headRetry = registerImages(fixed, moving, stages=("rigid",), qcMinimumNmi=1.99, settings=settings)
    assert [attempt["metricMask"] for attempt in headRetry.attempts] == ["none", "head"]
    # retry=False: one run only
    single = registerImages(fixed, moving, stages=("rigid",), qcMinimumNmi=1.99, retry=False, settings=settings)
    assert len(single.attempts) == 1 and not single.retried


def test_nmi_and_qc_rule_known_answers():
    rng = np.random.default_rng(0)
    a = sitk.GetImageFromArray(rng.normal(size=(10, 10, 10)).astype(np.float32))
    region = sitk.Image(10, 10, 10, sitk.sitkUInt8) + 1
    # a one-to-one intensity map (here linear and decreasing, so the histogram bins correspond) gives the maximum, 2
    assert normalizedMutualInformation(a, a * -3.0 + 7.0, region) == pytest.approx(2.0, abs=1e-6)
    independent = sitk.GetImageFromArray(rng.normal(size=(10, 10, 10)).astype(np.float32))
    assert normalizedMutualInformation(a, independent, region) < 1.2
    assert normalizedMutualInformation(a, a * 0.0, region) == 1.0  # constant: no information
    assert passesQc(1.10, 1.20) and not passesQc(1.10, 1.04) and not passesQc(1.30, 1.20)
    assert passesQc(1.20, 1.1995)  # numerical slack


def test_settings_round_trip_and_refuse_unknown_keys():
    settings = RegistrationSettings.fromDict({"shrinkFactors": [2, 1], "smoothingSigmas": [1, 0], "seed": 4})
    assert settings.shrinkFactors == (2, 1) and settings.smoothingSigmas == (1.0, 0.0)
    assert RegistrationSettings.fromDict(settings.toDict()) == settings
    with pytest.raises(InputError, match="Did you mean 'seed'"):
        RegistrationSettings.fromDict({"sed": 1})
    with pytest.raises(InputError, match="same length"):
        RegistrationSettings.fromDict({"shrinkFactors": [2, 1]})


def test_dilation_is_in_millimetres():
    mask = sitk.Image(21, 21, 21, sitk.sitkUInt8)
    mask.SetSpacing((1.0, 2.0, 4.0))
    mask[10, 10, 10] = 1
    dilated = sitk.GetArrayFromImage(dilateMm(mask, 4.0))
    # 4 mm: 4 voxels along i, 2 along j, 1 along k
    assert dilated[10, 10, 6] and not dilated[10, 10, 5]
    assert dilated[10, 8, 10] and not dilated[10, 7, 10]
    assert dilated[9, 10, 10] and not dilated[8, 10, 10]


def test_cancel_stops_the_registration(pair):
    fixed, moving, _ = pair
    token = CancelToken()
    token.cancel()
    with pytest.raises(CancelledError):
        registerImages(fixed, moving, cancel=token)
    # cancelled while running: the current stage ends, no later stage runs
    midway, messages = CancelToken(), []

    def progress(fraction, message):
        messages.append(message)
        if len(messages) == 3:
            midway.cancel()

    with pytest.raises(CancelledError):
        registerImages(
            fixed,
            moving,
            progress=progress,
            cancel=midway,
            settings=RegistrationSettings(shrinkFactors=(4, 2), smoothingSigmas=(2.0, 1.0)),
        )
    assert not any("affine" in message for message in messages)


def test_registration_bad_input(pair):
    fixed, moving, lesion = pair
    voxels = sitk.GetArrayFromImage(moving)
    voxels[0, 0, 0] = np.nan
    nan = sitk.GetImageFromArray(voxels)
    nan.CopyInformation(moving)
    with pytest.raises(InputError, match="moving image has 1 NaN"):
        registerImages(fixed, nan)
    with pytest.raises(InputError, match="fixed image is constant"):
        registerImages(fixed * 0.0, moving)
    with pytest.raises(GeometryError, match="fixed image is 4D"):
        registerImages(sitk.JoinSeries([fixed, fixed]), moving)
    shifted = sitk.Image(lesion)
    shifted.SetOrigin((1.0, 2.0, 3.0))
    with pytest.raises(GeometryError, match="registration mask does not lie on the image grid.*origin"):
        registerImages(fixed, moving, shifted)
    with pytest.raises(InputError, match="registration mask is empty"):
        registerImages(fixed, moving, lesion * 0)
    for stages in ((), ("affine", "rigid"), ("rigid", "rigid"), ("bspline",)):
        with pytest.raises(InputError, match="stages"):
            registerImages(fixed, moving, stages=stages)
    for settings, match in (
        (RegistrationSettings(shrinkFactors=(4, 2), smoothingSigmas=(1.0,)), "same length"),
        (RegistrationSettings(samplingPercentage=1.5), "samplingPercentage"),
        (RegistrationSettings(histogramBins=2), "histogramBins"),
        (RegistrationSettings(seed=-1), "seed"),
        (RegistrationSettings(smoothingSigmas=(1.0, -1.0, 0.0)), "smoothing sigma"),
    ):
        with pytest.raises(InputError, match=match):
            registerImages(fixed, moving, settings=settings)
    with pytest.raises(InputError, match="maskDilationMm"):
        registerImages(fixed, moving, lesion, maskDilationMm=0)


@pytest.mark.slow
def test_bspline_stage_gives_a_composite_transform_that_resamples_like_the_result(pair):
    fixed, moving, _ = pair
    settings = RegistrationSettings(shrinkFactors=(4, 2), smoothingSigmas=(2.0, 1.0), bsplineIterations=10)
    result = registerImages(fixed, moving, stages=("rigid",), bspline=True, settings=settings)
    assert result.stagesKept[0] == "rigid"
    if "bspline" in result.stagesKept:
        assert isinstance(result.transform, sitk.CompositeTransform) and result.transform.GetNumberOfTransforms() == 2
    direct = sitk.Resample(moving, fixed, result.transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(result.resampled), sitk.GetArrayFromImage(direct))
    assert result.metrics["mattesAfter"] <= result.metrics["mattesBefore"]


@pytest.mark.slow
def test_virtual_cohort_t1c_onto_t2_recovers_a_known_rigid_transform():
    """Realistic MR-like data (64³, 3.75 mm voxels), default stages. Measured on cases 0–6: mean error over
    the head 0.18–0.75 mm, rotation error 0.16–1.13° (case 0 is the worst; the affine refinement was dropped
    every time as it did not lower the metric)."""
    from VirtualBiopsy.data.virtualCohort import generateCase
    from VirtualBiopsy.harmonize.foreground import foregroundMask

    truth = knownRigidTransform()
    for index in (0, 2):
        case = generateCase(index, 0, 64)
        fixed = case.images["T2"]
        t1c = sitk.Cast(case.images["T1c"], sitk.sitkFloat32)
        moving = sitk.Resample(t1c, t1c, truth.GetInverse(), sitk.sitkLinear, 0.0)
        result = registerImages(fixed, moving)
        head = np.argwhere(sitk.GetArrayFromImage(foregroundMask(fixed)) > 0)[::97, ::-1]
        points = [fixed.TransformIndexToPhysicalPoint([int(v) for v in voxel]) for voxel in head]
        meanError = np.mean(
            [np.linalg.norm(np.subtract(result.transform.TransformPoint(p), truth.TransformPoint(p))) for p in points]
        )
        _, angle = transformErrors(result.transform, truth)
        assert meanError < 1.0 and angle < 1.5, (index, meanError, angle)  # measured: 0.75 / 1.13°, 0.36 / 0.34°
        assert result.qcPassed
