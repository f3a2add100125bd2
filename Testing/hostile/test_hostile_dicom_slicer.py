"""Hostile DICOM SEG export from nodes (the Segmentation module's "Export to DICOM SEG…"): a database folder whose
files mix two series of the planted patient, an output folder inside the source series' folder, a features table
that is not one. Each is refused with its values and the fix, names no patient identifier, leaves the inputs byte
for byte unchanged and writes nothing."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import SimpleITK as sitk
from hostile import PLANTED_IDENTIFIERS, guarded

pytest.importorskip("highdicom")

from VirtualBiopsy.data.dicomWriter import PROTOCOLS, SeriesHeader, uid, writeSeries  # noqa: E402
from VirtualBiopsy.errors import InputError  # noqa: E402


def _header(number: int) -> SeriesHeader:
    return SeriesHeader(*PLANTED_IDENTIFIERS[:1], PLANTED_IDENTIFIERS[3], PLANTED_IDENTIFIERS[1],
                        PLANTED_IDENTIFIERS[2], uid("st", "h"), uid("se", "h", number), uid("for", "h"), number,
                        PROTOCOLS["T2"])  # fmt: skip


@pytest.fixture
def database(tmp_path, scene):
    """Two series of the planted patient with their files in one folder, a volume node and a painted segment."""
    from VirtualBiopsy.mrml.images import imageToVolumeNode
    from VirtualBiopsy.mrml.segmentations import labelmapImageToSegmentation

    image = sitk.GetImageFromArray(np.arange(4 * 10 * 8, dtype=np.int16).reshape(4, 10, 8))
    for number in (4, 5):
        writeSeries([image], tmp_path / f"s{number}", _header(number))
        for path in sorted((tmp_path / f"s{number}").iterdir()):
            (tmp_path / "database").mkdir(exist_ok=True)
            shutil.copy(path, tmp_path / "database" / f"{number}-{path.name}")
    volume = imageToVolumeNode(image, scene, "T2")
    mask = sitk.GetImageFromArray((np.arange(4 * 10 * 8).reshape(4, 10, 8) % 7 == 0).astype(np.uint8))
    mask.CopyInformation(image)
    segmentation = labelmapImageToSegmentation(mask, scene, "seg", referenceVolume=volume, segmentNames=["Tumour"])
    files = sorted(str(path) for path in (tmp_path / "database").iterdir())
    return tmp_path, files, volume, segmentation


def _refused(error: pytest.ExceptionInfo, *words: str) -> None:
    text = str(error.value)
    for word in words:
        assert word in text, f"{word!r} not in {text!r}"
    for identifier in PLANTED_IDENTIFIERS:
        assert identifier not in text


def test_files_of_two_series_are_refused_by_series_number(database):
    from VirtualBiopsy.mrml.dicomExportNodes import exportSegmentationNode

    tmp_path, files, volume, segmentation = database
    with guarded([tmp_path / "database"], [tmp_path / "out"]), pytest.raises(InputError) as error:
        exportSegmentationNode(segmentation, volume, files, tmp_path / "out", "manual")
    _refused(error, "hold 2 series (series numbers 4, 5", "give the files of exactly one series")
    assert not (tmp_path / "out").exists()


def test_output_inside_the_source_folder_and_a_bad_table_write_nothing(database, scene):
    from VirtualBiopsy.mrml.dicomExportNodes import exportSegmentationNode

    tmp_path, files, volume, segmentation = database
    series = [path for path in files if "/4-" in path]
    with guarded([tmp_path / "database"], [tmp_path / "out"]):
        with pytest.raises(InputError) as error:
            exportSegmentationNode(segmentation, volume, series, tmp_path / "database" / "out", "manual")
        _refused(error, "is inside the source series' folder", "choose a folder outside it")
        table = scene.AddNewNodeByClass("vtkMRMLTableNode", "not features")
        table.AddColumn().SetName("Change")
        with pytest.raises(InputError) as error:
            exportSegmentationNode(segmentation, volume, series, tmp_path / "out", "manual", featuresTableNode=table)
        _refused(error, "has no column Segment, Feature, Value (its columns: Change)")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
