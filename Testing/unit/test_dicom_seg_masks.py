"""DICOM SEG files as segmentation nodes, mask files, ``dicom import-seg`` output and a cohort manifest's mask:
every way in gives back the exported segments voxel for voxel (in space) with their names."""

from __future__ import annotations

import contextlib
import io
import json
import pathlib
import sys

import numpy as np
import pytest
import SimpleITK as sitk

pytest.importorskip("highdicom")

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from dicomExportCases import DIRECTIONS, labelmap, onGridOf, writeReference  # noqa: E402

from VirtualBiopsy.cli import main  # noqa: E402
from VirtualBiopsy.dicom.segExport import SegmentSpec, exportSegmentation  # noqa: E402
from VirtualBiopsy.errors import InputError  # noqa: E402

SPECS = [SegmentSpec("Tumour", 1, "tumour", "AI", "demo", "1.0"), SegmentSpec("Oedema", 2, "oedema", "manual")]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """An oblique source series and a two-segment SEG drawn on it."""
    root = tmp_path_factory.mktemp("segmasks")
    image = writeReference(root / "series", DIRECTIONS["oblique"])
    labels = labelmap(image)
    exportSegmentation(labels, root / "series", root / "seg.dcm", SPECS)
    truth = {spec.name: sitk.Cast(labels == spec.label, sitk.sitkUInt8) for spec in SPECS}
    return root, image, truth


def test_a_seg_becomes_a_segmentation_node_with_its_segment_names(exported):
    from VirtualBiopsy.mrml.dicomNodes import loadDicomSegNode
    from VirtualBiopsy.mrml.scene import createScene
    from VirtualBiopsy.mrml.segmentMasks import segmentMasksByName

    root, image, truth = exported
    scene = createScene()
    node = loadDicomSegNode(root / "seg.dcm", scene, root / "series")
    masks = segmentMasksByName(node)
    assert list(masks) == ["Tumour", "Oedema"]
    for name, mask in masks.items():
        assert np.array_equal(onGridOf(mask, image), sitk.GetArrayFromImage(truth[name])), name


def test_a_seg_is_a_mask_file_its_segments_together_or_one_by_name(exported):
    from VirtualBiopsy.mrml.maskFiles import readMaskFile

    root, image, truth = exported
    union = sitk.GetArrayFromImage(truth["Tumour"]) | sitk.GetArrayFromImage(truth["Oedema"])
    assert np.array_equal(onGridOf(readMaskFile(root / "seg.dcm", "mask", reference=root / "series"), image), union)
    oedema = readMaskFile(root / "seg.dcm", "mask", segment="Oedema", reference=root / "series")
    assert np.array_equal(onGridOf(oedema, image), sitk.GetArrayFromImage(truth["Oedema"]))
    with pytest.raises(InputError, match=r"has no segment named 'GTV' \(its segments: Tumour, Oedema\)"):
        readMaskFile(root / "seg.dcm", "mask", segment="GTV", reference=root / "series")


@pytest.mark.parametrize("extension", [".seg.nrrd", ".nrrd"])
def test_import_seg_writes_the_segments_and_prints_the_mapping(exported, tmp_path, extension):
    root, image, truth = exported
    out = tmp_path / f"imported{extension}"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = main(["dicom", "import-seg", str(root / "seg.dcm"), "--reference", str(root / "series"),
                       "--out", str(out)])  # fmt: skip
    assert status == 0
    lines = printed.getvalue().splitlines()
    tumourVoxels, oedemaVoxels = (int(sitk.GetArrayViewFromImage(truth[name]).sum()) for name in ("Tumour", "Oedema"))
    assert lines[:2] == [f"1\tTumour\t{tumourVoxels} voxels", f"2\tOedema\t{oedemaVoxels} voxels"]
    if extension == ".nrrd":
        written = sitk.ReadImage(str(out))
        expected = sitk.GetArrayFromImage(truth["Tumour"]) + 2 * sitk.GetArrayFromImage(truth["Oedema"])
        assert np.array_equal(onGridOf(written, image), expected)
    else:
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(out))
        reader.ReadImageInformation()
        names = [reader.GetMetaData(f"Segment{i}_Name") for i in range(2)]
        assert names == ["Tumour", "Oedema"]


def test_a_cohort_manifest_takes_a_seg_as_the_mask(exported, tmp_path):
    """The run reads the SEG on the series it references (ledger stage ``mask``) and writes the case's own SEG."""
    import yaml

    from VirtualBiopsy.dicom.segImport import readSegmentation

    root, image, truth = exported
    (tmp_path / "manifest.csv").write_text(f"patient,T1c,mask\nP1,{root / 'series'},{root / 'seg.dcm'}\n")
    settings = {
        "harmonize": {"enabled": False},
        "segment": {"source": "manifest", "sequence": "T1c"},
        "extract": {"sequences": ["T1c"], "featureClasses": ["shape", "firstorder"]},
        "analyses": {"enabled": False},
    }
    (tmp_path / "settings.yaml").write_text(yaml.safe_dump(settings))
    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        status = main(["run", "--manifest", str(tmp_path / "manifest.csv"), "--config", str(tmp_path / "settings.yaml"),
                       "--out", str(tmp_path / "run"), "--data-root", str(root), "--no-report"])  # fmt: skip
    assert status == 0, output.getvalue()
    case = json.loads((tmp_path / "run" / "cases" / "P1" / "case.json").read_text())
    assert case["status"] == "done" and list(case["stages"]) == ["mask", "segment", "extract", "scene", "dicom"]
    union = sitk.GetArrayFromImage(truth["Tumour"]) | sitk.GetArrayFromImage(truth["Oedema"])
    rasterised = sitk.ReadImage(str(tmp_path / "run" / "cases" / "P1" / "reference-mask.nrrd"))
    assert np.array_equal(onGridOf(rasterised, image), union)
    (written,) = readSegmentation(tmp_path / "run" / "dicom" / "P1" / "seg.dcm", root / "series")
    assert (written.name, written.algorithmType) == ("Tumor", "MANUAL")
    assert np.array_equal(onGridOf(written.mask, image), union)
