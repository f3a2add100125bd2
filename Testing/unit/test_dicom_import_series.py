"""readSeriesVolume against known answers: the cohort's DICOM writer, SimpleITK's series reader, pydicom's files."""

from __future__ import annotations

import math
import pathlib
import shutil
import warnings

import numpy as np
import pytest
import SimpleITK as sitk

pydicom = pytest.importorskip("pydicom")

from VirtualBiopsy.data.dicomWriter import PROTOCOLS, SeriesHeader, obliqueDirection, uid, writeSeries  # noqa: E402
from VirtualBiopsy.dicom.seriesVolume import readSeries, readSeriesVolume  # noqa: E402
from VirtualBiopsy.errors import GeometryError, InputError  # noqa: E402


def header(name: str) -> SeriesHeader:
    return SeriesHeader(
        "TEST^X", "T1", "19000101", "A1", uid("st", name), uid("se", name), uid("for", name), 3, PROTOCOLS["T1"]
    )


def volume(direction=(1, 0, 0, 0, 1, 0, 0, 0, 1), shape=(6, 11, 9), seed=0) -> sitk.Image:
    voxels = np.random.default_rng(seed).integers(-800, 3000, size=shape).astype(np.int16)
    image = sitk.GetImageFromArray(voxels)
    image.SetSpacing((0.7, 0.9, 2.5))
    image.SetOrigin((10.5, -20.25, 33.0))
    image.SetDirection(tuple(float(v) for v in direction))
    return image


def leftHanded() -> tuple[float, ...]:
    direction = np.array(obliqueDirection(20.0)).reshape(3, 3)
    direction[:, 2] *= -1
    return tuple(direction.ravel())


def gdcm(folder: pathlib.Path) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


def assertSameGrid(image: sitk.Image, expected: sitk.Image, tolerance: float = 1e-6) -> None:
    assert image.GetSize() == expected.GetSize()
    for got, want in (
        (image.GetOrigin(), expected.GetOrigin()),
        (image.GetSpacing(), expected.GetSpacing()),
        (image.GetDirection(), expected.GetDirection()),
    ):
        np.testing.assert_allclose(got, want, rtol=0, atol=tolerance)


@pytest.mark.parametrize("kind", ["axial", "oblique"])
def test_right_handed_series_reads_back_exactly(tmp_path, kind):
    image = volume(obliqueDirection(20.0) if kind == "oblique" else (1, 0, 0, 0, 1, 0, 0, 0, 1))
    writeSeries([image], tmp_path / kind, header(kind))
    read = readSeriesVolume(tmp_path / kind)
    assert read.GetPixelID() == sitk.sitkInt16
    assert np.array_equal(sitk.GetArrayFromImage(read), sitk.GetArrayFromImage(image))
    assertSameGrid(read, image)


def test_left_handed_series_is_sorted_along_the_normal_like_itk(tmp_path):
    image = volume(leftHanded())
    writeSeries([image], tmp_path / "left", header("left"))
    read = readSeriesVolume(tmp_path / "left")
    voxels = sitk.GetArrayFromImage(image)
    assert np.array_equal(sitk.GetArrayFromImage(read), voxels[::-1])
    direction = np.array(image.GetDirection()).reshape(3, 3)
    np.testing.assert_allclose(np.array(read.GetDirection()).reshape(3, 3)[:, 2], -direction[:, 2], atol=1e-6)
    last = np.array(image.TransformIndexToPhysicalPoint((0, 0, image.GetSize()[2] - 1)))
    np.testing.assert_allclose(read.GetOrigin(), last, atol=1e-6)
    # the same voxel at the same place in space
    for index in ((0, 0, 0), (3, 7, 2), (8, 10, 5)):
        point = image.TransformIndexToPhysicalPoint(index)
        assert read[read.TransformPhysicalPointToIndex(point)] == image[index]


@pytest.mark.parametrize("kind", ["axial", "oblique", "left"])
def test_same_voxels_and_geometry_as_simpleitk_series_reader(tmp_path, kind):
    direction = {"axial": (1, 0, 0, 0, 1, 0, 0, 0, 1), "oblique": obliqueDirection(35.0), "left": leftHanded()}[kind]
    writeSeries([volume(direction, seed=3)], tmp_path / kind, header(kind))
    read, expected = readSeriesVolume(tmp_path / kind), gdcm(tmp_path / kind)
    assert np.array_equal(sitk.GetArrayFromImage(read), sitk.GetArrayFromImage(expected))
    assertSameGrid(read, expected)


def test_a_list_of_files_reads_like_the_folder_and_names_the_sop_instances(tmp_path):
    files = writeSeries([volume()], tmp_path / "s", header("files"))
    read = readSeries(list(reversed(files)))
    assert np.array_equal(sitk.GetArrayFromImage(read.image), sitk.GetArrayFromImage(readSeriesVolume(tmp_path / "s")))
    assert read.seriesUid == uid("se", "files") and read.frameOfReferenceUid == uid("for", "files")
    assert read.sopInstanceUids == [uid(uid("se", "files"), index) for index in range(1, 7)]


def test_rescale_slope_gives_float32_values(tmp_path):
    image = volume()
    files = writeSeries([image], tmp_path / "s", header("rescale"))
    for path in files:
        dataset = pydicom.dcmread(path)
        dataset.RescaleSlope, dataset.RescaleIntercept = "0.5", "-10"
        dataset.save_as(path)
    read = readSeriesVolume(tmp_path / "s")
    assert read.GetPixelID() == sitk.sitkFloat32
    np.testing.assert_array_equal(sitk.GetArrayFromImage(read), sitk.GetArrayFromImage(image) * 0.5 - 10)


TWINS = [
    "MR_small_RLE.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "MR_small_jp2klossless.dcm",
    "MR_small_implicit.dcm",
    "MR_small_bigendian.dcm",
]


@pytest.mark.parametrize("name", TWINS)
def test_compressed_and_other_transfer_syntaxes_equal_their_uncompressed_twin(name):
    from pydicom.data import get_testdata_file

    plain, other = readSeriesVolume(get_testdata_file("MR_small.dcm")), readSeriesVolume(get_testdata_file(name))
    assert plain.GetSize() == (64, 64, 1)
    assert np.array_equal(sitk.GetArrayFromImage(other), sitk.GetArrayFromImage(plain))
    assertSameGrid(other, plain)
    assert sitk.GetArrayFromImage(plain).std() > 0


@pytest.mark.parametrize(
    "syntax", ["RLELossless", "JPEGLSLossless"]
)  # JPEG 2000: pydicom's twin (its encoder refuses 9×11 images)
def test_compressed_series_equals_the_written_volume(tmp_path, syntax):
    image = volume(obliqueDirection(10.0))
    files = writeSeries([image], tmp_path / "s", header(syntax))
    for path in files:
        dataset = pydicom.dcmread(path)
        dataset.compress(getattr(pydicom.uid, syntax))
        dataset.save_as(path)
    assert pydicom.dcmread(files[0]).file_meta.TransferSyntaxUID == getattr(pydicom.uid, syntax)
    read = readSeriesVolume(tmp_path / "s")
    assert np.array_equal(sitk.GetArrayFromImage(read), sitk.GetArrayFromImage(image))
    assertSameGrid(read, image)


def _legacyEnhanced(tmp_path: pathlib.Path, image: sitk.Image) -> pathlib.Path:
    highdicom = pytest.importorskip("highdicom")
    files = writeSeries([image], tmp_path / "single", header("enhanced"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        enhanced = highdicom.legacy.LegacyConvertedEnhancedMRImage(
            [pydicom.dcmread(path) for path in files],
            series_instance_uid=uid("mf"),
            series_number=5,
            sop_instance_uid=uid("mf", "sop"),
            instance_number=1,
        )
    folder = tmp_path / "enhanced"
    folder.mkdir()
    enhanced.save_as(folder / "mf.dcm")
    return folder / "mf.dcm"


def test_multiframe_written_by_highdicom_reads_back_exactly(tmp_path):
    image = volume(obliqueDirection(25.0))
    path = _legacyEnhanced(tmp_path, image)
    assert int(pydicom.dcmread(path).NumberOfFrames) == 6
    read = readSeries(path.parent)
    assert np.array_equal(sitk.GetArrayFromImage(read.image), sitk.GetArrayFromImage(image))
    assertSameGrid(read.image, image)
    assert read.sopInstanceUids == [uid("mf", "sop")] * 6


def test_multiframe_frames_in_any_order_with_per_frame_rescale(tmp_path):
    image = volume()
    path = _legacyEnhanced(tmp_path, image)
    dataset = pydicom.dcmread(path)
    order = [3, 0, 5, 1, 4, 2]
    frames = np.frombuffer(dataset.PixelData, dtype="<i2").reshape(6, -1)
    dataset.PixelData = frames[order].tobytes()
    items = list(dataset.PerFrameFunctionalGroupsSequence)
    for item in items:
        slice = round((float(item.PlanePositionSequence[0].ImagePositionPatient[2]) - 33.0) / 2.5)
        transform = pydicom.dataset.Dataset()
        transform.RescaleSlope, transform.RescaleIntercept, transform.RescaleType = "2", str(10 * slice), "US"
        item.PixelValueTransformationSequence = [transform]
    dataset.PerFrameFunctionalGroupsSequence = [items[i] for i in order]
    dataset.save_as(path)
    read = readSeriesVolume(path.parent)
    expected = sitk.GetArrayFromImage(image).astype(np.float32) * 2 + 10 * np.arange(6, dtype=np.float32)[:, None, None]
    assert read.GetPixelID() == sitk.sitkFloat32
    np.testing.assert_array_equal(sitk.GetArrayFromImage(read), expected)
    assertSameGrid(read, image)


def tiltedSeries(folder: pathlib.Path, degrees: float) -> tuple[sitk.Image, callable]:
    """Slices in axial planes, each shifted along y by spacing·sin(tilt): intensity a linear function of LPS position."""
    shape = (8, 14, 12)
    angle = math.radians(degrees)
    stack = sitk.Image(shape[::-1], sitk.sitkInt16)
    stack.SetSpacing((1.0, 1.0, 3.0))
    stack.SetOrigin((-5.0, -6.0, 20.0))
    stack.SetDirection((1, 0, 0, 0, 1, math.sin(angle), 0, 0, math.cos(angle)))

    def intensity(points: np.ndarray) -> np.ndarray:
        return 20.0 * points[..., 0] + 12.0 * points[..., 1] + 7.0 * points[..., 2] + 500.0

    k, j, i = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    points = np.stack([i, j, k], axis=-1).astype(float) * np.array(stack.GetSpacing())
    points = np.array(stack.GetOrigin()) + points @ np.array(stack.GetDirection()).reshape(3, 3).T
    voxels = sitk.GetImageFromArray(np.round(intensity(points)).astype(np.int16))
    voxels.CopyInformation(stack)
    writeSeries([voxels], folder, header(f"tilt{degrees}"))
    return voxels, intensity


def test_gantry_tilt_is_refused_with_the_angle_and_the_fix(tmp_path):
    tiltedSeries(tmp_path / "tilt", 15.0)
    with pytest.raises(GeometryError) as raised:
        readSeriesVolume(tmp_path / "tilt")
    message = str(raised.value)
    assert "gantry tilt or sheared stack of 15°" in message
    assert "drift sideways by 0.776 mm per slice" in message
    assert "resampleTilt=True (command line: --resample-tilt)" in message


def test_gantry_tilt_resampled_onto_an_orthogonal_grid_when_asked(tmp_path, caplog):
    stack, intensity = tiltedSeries(tmp_path / "tilt", 15.0)
    with caplog.at_level("WARNING"):
        read = readSeries(tmp_path / "tilt", resampleTilt=True)
    assert read.tiltDegrees == pytest.approx(15.0, abs=1e-6)
    assert "resampled a gantry tilt of 15° onto an orthogonal grid (linear interpolation)" in caplog.text
    image = read.image
    np.testing.assert_allclose(image.GetDirection(), (1, 0, 0, 0, 1, 0, 0, 0, 1), atol=1e-12)
    np.testing.assert_allclose(image.GetSpacing(), (1.0, 1.0, 3.0 * math.cos(math.radians(15))), atol=1e-9)
    drift = 3.0 * math.sin(math.radians(15))
    assert image.GetSize() == (12, 14 + math.floor(7 * drift + 1e-6), 8)
    np.testing.assert_allclose(image.GetOrigin(), stack.GetOrigin(), atol=1e-9)
    # inside the stack, linear interpolation of a linear function is the function (stored values rounded)
    voxels = sitk.GetArrayFromImage(image)
    checked = 0
    for k in range(8):
        for j in range(image.GetSize()[1]):
            y = image.GetOrigin()[1] + j - k * drift
            for i in (2, 6, 9):
                if not -6.0 + 1 <= y <= -6.0 + 12:
                    continue
                point = np.array(image.TransformIndexToPhysicalPoint((i, j, k)))
                assert abs(voxels[k, j, i] - intensity(point)) <= 0.5 + 1e-3, (i, j, k)
                checked += 1
    assert checked > 200


def test_series_problems_are_refused_like_the_folder_check(tmp_path):
    from VirtualBiopsy.mrml.dicomSeries import checkDicomSeries

    files = writeSeries([volume(shape=(8, 10, 10))], tmp_path / "gap", header("gap"), dropSlice=4)
    shutil.copy(files[1], tmp_path / "gap" / "copy")
    with pytest.raises(InputError) as raised:
        readSeriesVolume(tmp_path / "gap")
    message = str(raised.value)
    for problem in checkDicomSeries(tmp_path / "gap").problems:
        assert problem in message
    assert "missing slices (typical spacing 2.5 mm) between IM00004 and IM00005" in message
    assert "duplicated slice positions: IM00002 and copy at" in message or "copy and IM00002" in message
