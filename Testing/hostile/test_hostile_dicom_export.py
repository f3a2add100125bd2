"""Hostile DICOM export and import: a mask on another grid, a reference folder with two series or with no DICOM,
a features table without the segment, a SEG on another frame of reference, a truncated SEG. Each is refused with
its values and the fix; the inputs stay byte for byte unchanged and nothing is written.

The command cases run ``dicom export`` through its own parser and the command line's failure report
(``VirtualBiopsy.cli``), as ``virtual-biopsy dicom export`` does once the action is registered.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import pathlib

import numpy as np
import pytest
import SimpleITK as sitk
from hostile import CommandResult, assertRefused, guarded

pytest.importorskip("highdicom")

from VirtualBiopsy.data.dicomWriter import PROTOCOLS, SeriesHeader, uid, writeSeries  # noqa: E402
from VirtualBiopsy.errors import GeometryError, InputError  # noqa: E402


def exportCommand(*argv) -> CommandResult:
    """``virtual-biopsy dicom export ARGV`` in this process (exit status and both streams)."""
    from VirtualBiopsy.cli import _reportFailure
    from VirtualBiopsy.commands import dicomExport

    parser = argparse.ArgumentParser(prog="virtual-biopsy dicom")
    dicomExport.addParser(parser.add_subparsers(dest="action"))
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            arguments = parser.parse_args(["export", *map(str, argv)])
            code = arguments.run(arguments)
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 2
        except Exception as error:
            code = _reportFailure(error, "dicom", [], False)
    return CommandResult(code, stdout.getvalue(), stderr.getvalue())


def _series(folder: pathlib.Path, number: int = 1, frame: str = "f") -> sitk.Image:
    image = sitk.GetImageFromArray(np.random.default_rng(number).integers(0, 900, (6, 16, 16)).astype(np.int16))
    image.SetSpacing((1.0, 1.0, 2.5))
    header = SeriesHeader("DOE^JANE", "NHS-943-476-5919", "19230101", "ACC-7731", uid("st"), uid("se", number),
                          uid(frame), number, PROTOCOLS["T1"])  # fmt: skip
    writeSeries([image], folder, header, fileName=f"S{number}_{{index:03d}}")
    return image


def _labels(image: sitk.Image, folder: pathlib.Path) -> pathlib.Path:
    array = np.zeros(image.GetSize()[::-1], np.uint8)
    array[2:4, 5:9, 5:9] = 1
    labels = sitk.GetImageFromArray(array)
    labels.CopyInformation(image)
    folder.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(labels, str(folder / "labels.nrrd"))
    return folder / "labels.nrrd"


def test_a_mask_on_another_grid_is_refused_with_both_grids(tmp_path):
    image = _series(tmp_path / "ref")
    moved = sitk.Image(image)
    moved.SetOrigin((0.4, 0.0, 0.0))
    labels = _labels(moved, tmp_path / "in")
    with guarded([tmp_path / "ref", labels], [tmp_path / "out"]):
        result = exportCommand("--segmentation", labels, "--reference", tmp_path / "ref", "--manual",
                               "--out", tmp_path / "out")  # fmt: skip
    assertRefused(result, "does not lie on the reference series' grid", "--resample-mask",
                  "origin (0, 0, 0) (reference series) vs (0.4, 0, 0) (mask of segment 'Segment_1')")  # fmt: skip
    assert not any((tmp_path / "out").glob("*.dcm"))


def test_a_reference_folder_with_two_series_is_refused(tmp_path):
    image = _series(tmp_path / "ref", 1)
    _series(tmp_path / "ref", 2)
    labels = _labels(image, tmp_path / "in")
    with guarded([tmp_path / "ref", labels], [tmp_path / "out"]):
        result = exportCommand("--segmentation", labels, "--reference", tmp_path / "ref", "--manual",
                               "--out", tmp_path / "out")  # fmt: skip
    assertRefused(result, "holds 2 series (series numbers 1, 2", "give a folder with exactly one series")
    assert "DOE^JANE" not in result.output and "NHS-943" not in result.output
    assert not (tmp_path / "out").exists()


def test_a_reference_that_is_not_dicom_is_refused(tmp_path):
    image = _series(tmp_path / "series")
    labels = _labels(image, tmp_path / "in")
    (tmp_path / "ref").mkdir()
    (tmp_path / "ref" / "notes.txt").write_text("not DICOM")
    sitk.WriteImage(image, str(tmp_path / "ref" / "volume.nrrd"))
    with guarded([tmp_path / "ref", labels], [tmp_path / "out"]):
        result = exportCommand("--segmentation", labels, "--reference", tmp_path / "ref", "--manual",
                               "--out", tmp_path / "out")  # fmt: skip
    assertRefused(
        result, "holds no DICOM image (2 other file(s)", "notes.txt", "give the folder of the source image series"
    )


def test_a_features_table_without_the_segment_is_refused(tmp_path):
    image = _series(tmp_path / "ref")
    labels = _labels(image, tmp_path / "in")
    with open(tmp_path / "in" / "features.csv", "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerows([["patient", "label", "original_firstorder_Mean"], ["case-1", "2", "1.5"]])
    with guarded([tmp_path / "ref", tmp_path / "in"], [tmp_path / "out"]):
        result = exportCommand("--segmentation", labels, "--reference", tmp_path / "ref", "--model-id", "net",
                               "--model-version", "1", "--features", tmp_path / "in" / "features.csv",
                               "--out", tmp_path / "out")  # fmt: skip
    assertRefused(result, "has 0 rows for segment 'Segment_1' (label 1)", "its label values are 2",
                  "one row per segment")  # fmt: skip
    assert not (tmp_path / "out").exists()


@pytest.fixture
def exportedSeg(tmp_path):
    from VirtualBiopsy.dicom.segExport import SegmentSpec, exportSegmentation

    image = _series(tmp_path / "ref")
    labels = sitk.ReadImage(str(_labels(image, tmp_path / "in")))
    exportSegmentation(labels, tmp_path / "ref", tmp_path / "seg" / "seg.dcm", [SegmentSpec("T", algorithm="manual")])
    return tmp_path / "seg" / "seg.dcm"


def test_a_seg_on_another_frame_of_reference_is_refused_at_import_naming_both(tmp_path, exportedSeg):
    import pydicom

    from VirtualBiopsy.dicom.segImport import readSegmentation

    _series(tmp_path / "other", 3, frame="another")
    segFrame = pydicom.dcmread(exportedSeg, stop_before_pixels=True).FrameOfReferenceUID
    with guarded([tmp_path / "other", exportedSeg]):
        with pytest.raises(GeometryError) as raised:
            readSegmentation(exportedSeg, tmp_path / "other")
    assert f"frame of reference {segFrame}" in str(raised.value)
    assert f"is on {uid('another')}" in str(raised.value)
    assert "Give the series it refers to" in str(raised.value)


def test_a_truncated_seg_is_refused(tmp_path, exportedSeg):
    from VirtualBiopsy.dicom.segImport import readSegmentation

    data = exportedSeg.read_bytes()
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes(data[: len(data) - 300])
    with guarded([truncated]):
        with pytest.raises(InputError, match="truncated or corrupt"):
            readSegmentation(truncated)
    empty = tmp_path / "empty.dcm"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="truncated or corrupt"):
        readSegmentation(empty)
