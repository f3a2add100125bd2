"""RTSTRUCT writer and reader: exact round trips on oblique and left-handed grids, dciodvfy, known areas."""

from __future__ import annotations

import math
import pathlib
import shutil
import subprocess

import numpy as np
import pytest
import SimpleITK as sitk

pydicom = pytest.importorskip("pydicom")

from VirtualBiopsy.data.dicomRtstruct import traceLoops, writeRtstruct  # noqa: E402
from VirtualBiopsy.data.dicomWriter import PROTOCOLS, SeriesHeader, obliqueDirection, uid, writeSeries  # noqa: E402
from VirtualBiopsy.dicom.rtstruct import readRtstruct, readRtstructNames, readRtstructRois  # noqa: E402
from VirtualBiopsy.dicom.seriesVolume import readSeriesVolume  # noqa: E402
from VirtualBiopsy.errors import GeometryError, InputError  # noqa: E402

SHAPE = (7, 22, 20)


def directionOf(kind: str) -> tuple[float, ...]:
    if kind == "axial":
        return (1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0)
    direction = np.array(obliqueDirection(25.0)).reshape(3, 3)
    if kind == "left":
        direction[:, 2] *= -1
    return tuple(direction.ravel())


def series(folder: pathlib.Path, kind: str, spacing=(0.8, 0.9, 2.0)) -> sitk.Image:
    image = sitk.GetImageFromArray(np.zeros(SHAPE, np.int16))
    image.SetSpacing(spacing)
    image.SetOrigin((12.0, -30.5, 40.25))
    image.SetDirection(directionOf(kind))
    header = SeriesHeader(
        "TEST^RT", "RT1", "19000101", "A2", uid("st", kind), uid("se", kind), uid("for", kind), 4, PROTOCOLS["T1"]
    )
    writeSeries([image], folder, header)
    return image


def shapes() -> dict[str, np.ndarray]:
    ring = np.zeros(SHAPE, np.uint8)
    ring[1:5, 3:18, 2:16] = 1
    ring[1:5, 6:14, 5:12] = 0  # the hole
    ring[2, 8:11, 7:10] = 1  # an island inside the hole
    islands = np.zeros(SHAPE, np.uint8)
    islands[3, 1:4, 15:19] = 1
    islands[3, 17:21, 1:3] = 1
    islands[5, 2:4, 2:4] = islands[5, 4, 4] = islands[5, 5, 5] = 1  # touching only at corners
    blob = np.zeros(SHAPE, np.uint8)
    blob[0, 10:12, 10:12] = blob[6, 0, 0] = blob[6, 21, 19] = 1  # on the first and last slices, at the edges
    return {"ring": ring, "islands": islands, "blob": blob}


def masksOn(image: sitk.Image) -> dict[str, sitk.Image]:
    masks = {}
    for name, voxels in shapes().items():
        mask = sitk.GetImageFromArray(voxels)
        mask.CopyInformation(image)
        masks[name] = mask
    return masks


@pytest.mark.parametrize("kind", ["axial", "oblique", "left"])
def test_round_trip_is_exact_on_the_reference_grid(tmp_path, kind):
    image = series(tmp_path / "series", kind)
    writeRtstruct(tmp_path / "rs.dcm", tmp_path / "series", masksOn(image), colors={"ring": (255, 0, 0)})
    rois = readRtstructRois(tmp_path / "rs.dcm", tmp_path / "series")
    reference = readSeriesVolume(tmp_path / "series")
    assert [roi.name for roi in rois] == ["ring", "islands", "blob"]
    assert rois[0].color == (1.0, 0.0, 0.0)
    for roi, voxels in zip(rois, shapes().values()):
        assert roi.mask.GetPixelID() == sitk.sitkUInt8
        expected = voxels[::-1] if kind == "left" else voxels  # the reader sorts slices along the normal
        assert np.array_equal(sitk.GetArrayFromImage(roi.mask), expected), roi.name
        assert roi.mask.GetSize() == reference.GetSize()
        np.testing.assert_allclose(roi.mask.GetOrigin(), reference.GetOrigin(), atol=0)
        np.testing.assert_allclose(roi.mask.GetDirection(), reference.GetDirection(), atol=0)


def test_contours_run_along_voxel_edges_and_reference_their_slice(tmp_path):
    image = series(tmp_path / "series", "axial")
    writeRtstruct(tmp_path / "rs.dcm", tmp_path / "series", masksOn(image))
    dataset = pydicom.dcmread(tmp_path / "rs.dcm")
    ring = dataset.ROIContourSequence[0].ContourSequence
    assert len(ring) == 4 * 2 + 1  # outer and hole on 4 slices, the island on one
    first = ring[0]
    points = np.asarray(first.ContourData, dtype=float).reshape(-1, 3)
    assert first.ContourGeometricType == "CLOSED_PLANAR" and first.NumberOfContourPoints == len(points) == 4
    corner = np.array(image.TransformContinuousIndexToPhysicalPoint((1.5, 2.5, 1.0)))
    assert min(np.abs(points - corner).sum(axis=1)) < 1e-9
    slice1 = pydicom.dcmread(sorted((tmp_path / "series").iterdir())[1])
    assert first.ContourImageSequence[0].ReferencedSOPInstanceUID == slice1.SOPInstanceUID
    referenced = (
        dataset.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0].RTReferencedSeriesSequence[0]
    )
    assert referenced.SeriesInstanceUID == uid("se", "axial") and len(referenced.ContourImageSequence) == SHAPE[0]


def test_trace_loops_gives_outer_and_hole_with_corner_vertices_only():
    pixels = np.zeros((6, 7), bool)
    pixels[1:5, 1:6] = True
    pixels[2:4, 2:4] = False
    loops = traceLoops(pixels)
    assert sorted(len(loop) for loop in loops) == [4, 4]
    assert {tuple(map(tuple, loop[np.lexsort(loop.T[::-1])][[0, -1]])) for loop in loops} == {
        ((1, 1), (6, 5)),
        ((2, 2), (4, 4)),
    }


def test_written_rtstruct_passes_dciodvfy(tmp_path):
    if shutil.which("dciodvfy") is None:
        pytest.skip("install dicom3tools: sudo apt-get install -y dicom3tools")
    image = series(tmp_path / "series", "oblique")
    writeRtstruct(tmp_path / "rs.dcm", tmp_path / "series", masksOn(image))
    result = subprocess.run(["dciodvfy", str(tmp_path / "rs.dcm")], capture_output=True, text=True, timeout=60)
    report = result.stdout + result.stderr
    assert "RTStructureSet" in report
    assert "Error" not in report, report


def test_pydicoms_rtstruct_names_and_its_absent_reference_series(tmp_path):
    from pydicom.data import get_testdata_file

    path = get_testdata_file("rtstruct.dcm")
    assert readRtstructNames(path) == ["patient", "Isocenter 1", "Isocenter 2"]
    series(tmp_path / "series", "axial")
    with pytest.raises(InputError) as raised:
        readRtstruct(path, tmp_path / "series")
    message = str(raised.value)
    assert "references series 1.2.826.0.1.3680043.8.498.2010020400001.2.1.1" in message
    assert f"holds series {uid('se', 'axial')}: the referenced series is absent" in message
    assert "as the reference (--reference)" in message


def _replaceContours(path: pathlib.Path, contours: list[tuple[str, np.ndarray]]) -> None:
    dataset = pydicom.dcmread(path)
    items = []
    for kind, points in contours:
        item = pydicom.dataset.Dataset()
        item.ContourGeometricType, item.NumberOfContourPoints = kind, len(points)
        item.ContourData = [f"{value:.10g}" for value in np.asarray(points).ravel()]
        items.append(item)
    dataset.ROIContourSequence[0].ContourSequence = items
    dataset.save_as(path)


@pytest.mark.parametrize("kind", ["axial", "oblique"])
def test_rasterised_area_of_a_circle_and_a_square_matches_the_analytic_area(tmp_path, kind):
    image = series(tmp_path / "series", kind, spacing=(0.5, 0.5, 2.0))
    writeRtstruct(tmp_path / "rs.dcm", tmp_path / "series", {"shape": masksOn(image)["blob"]})
    direction = np.array(image.GetDirection()).reshape(3, 3)
    centre = np.array(image.TransformContinuousIndexToPhysicalPoint((9.7, 10.3, 3.0)))
    radius = 4.0
    angles = np.linspace(0, 2 * math.pi, 721)[:-1]
    circle = centre + radius * (np.cos(angles)[:, None] * direction[:, 0] + np.sin(angles)[:, None] * direction[:, 1])
    side = (3.3, 2.1)
    square = np.array(image.TransformContinuousIndexToPhysicalPoint((1.2, 1.2, 5.0)))
    square = np.array(
        [
            square + a * side[0] * direction[:, 0] + b * side[1] * direction[:, 1]
            for a, b in ((0, 0), (1, 0), (1, 1), (0, 1))
        ]
    )
    _replaceContours(tmp_path / "rs.dcm", [("CLOSED_PLANAR", circle), ("CLOSED_PLANAR", square)])
    ((_, mask),) = readRtstruct(tmp_path / "rs.dcm", tmp_path / "series")
    voxels = sitk.GetArrayFromImage(mask)
    assert set(np.nonzero(voxels.any(axis=(1, 2)))[0]) == {3, 5}
    circleArea = voxels[3].sum() * 0.25
    assert abs(circleArea - math.pi * radius**2) <= 2 * radius * 0.5  # within one voxel row across the circle
    # 3.3 mm × 2.1 mm = 6.6 × 4.2 voxels from index 1.2: centres 2..7 along i and 2..5 along j are inside
    assert voxels[5].sum() == 6 * 4
    assert abs(voxels[5].sum() * 0.25 - side[0] * side[1]) <= side[0] * 0.5


def test_point_and_open_contours_are_skipped_with_a_warning(tmp_path, caplog):
    image = series(tmp_path / "series", "axial")
    writeRtstruct(tmp_path / "rs.dcm", tmp_path / "series", {"marks": masksOn(image)["blob"]})
    point = np.array([image.TransformContinuousIndexToPhysicalPoint((4.0, 4.0, 2.0))])
    line = np.array([image.TransformContinuousIndexToPhysicalPoint((x, 4.0, 2.0)) for x in (1.0, 5.0, 9.0)])
    _replaceContours(tmp_path / "rs.dcm", [("POINT", point), ("OPEN_PLANAR", line)])
    with caplog.at_level("WARNING"):
        ((name, mask),) = readRtstruct(tmp_path / "rs.dcm", tmp_path / "series")
    assert name == "marks" and not sitk.GetArrayFromImage(mask).any()
    assert "ROI 'marks': skipped 1 POINT contour(s)" in caplog.text
    assert "skipped 1 OPEN_PLANAR contour(s)" in caplog.text


def test_a_contour_between_slice_planes_is_refused(tmp_path):
    image = series(tmp_path / "series", "oblique")
    writeRtstruct(tmp_path / "rs.dcm", tmp_path / "series", {"off": masksOn(image)["blob"]})
    square = np.array(
        [
            image.TransformContinuousIndexToPhysicalPoint((x, y, 2.0 if x < 3 else 2.8))
            for x, y in ((1, 1), (5, 1), (5, 5), (1, 5))
        ]
    )
    _replaceContours(tmp_path / "rs.dcm", [("CLOSED_PLANAR", square)])
    with pytest.raises(
        GeometryError, match=r"ROI 'off' contour 1 lies 1.6 mm from the nearest slice plane .* off the reference grid"
    ):
        readRtstruct(tmp_path / "rs.dcm", tmp_path / "series")
