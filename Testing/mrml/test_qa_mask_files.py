"""Mask files of ``virtual-biopsy qa``: a Slicer .seg.nrrd reads as the same mask as its labelmap,
whole or one segment by name, and the CLI takes it."""

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from VirtualBiopsy import cli
from VirtualBiopsy.errors import InputError
from VirtualBiopsy.mrml.maskFiles import readMaskFile
from VirtualBiopsy.mrml.segmentations import labelmapImageToSegmentation
from VirtualBiopsy.mrml.storage import saveNode


@pytest.fixture
def segFile(scene, labelmapImage, tmp_path):
    node = labelmapImageToSegmentation(labelmapImage, scene, "seg", segmentNames=["Tumor", "Edema", "Cyst"])
    path = saveNode(node, tmp_path / "reference.seg.nrrd")
    scene.RemoveNode(node)
    labelPath = tmp_path / "labels.nrrd"
    sitk.WriteImage(labelmapImage, str(labelPath))
    return path, labelPath


def test_seg_nrrd_reads_as_its_labelmap(scene, segFile, labelmapImage):
    segPath, labelPath = segFile
    nodes = scene.GetNumberOfNodes()
    whole = readMaskFile(segPath, "reference", scene=scene)
    labels = sitk.GetArrayFromImage(labelmapImage)
    assert np.array_equal(sitk.GetArrayFromImage(whole) == 1, labels != 0)
    assert whole.GetDirection() == pytest.approx(labelmapImage.GetDirection())
    assert whole.GetOrigin() == pytest.approx(labelmapImage.GetOrigin())
    edema = readMaskFile(segPath, "reference", segment="Edema", scene=scene)
    assert np.array_equal(sitk.GetArrayFromImage(edema) == 1, labels == 2)
    assert scene.GetNumberOfNodes() == nodes  # nothing left in the scene
    assert np.array_equal(sitk.GetArrayFromImage(readMaskFile(labelPath, "reference", label=3)) == 1, labels == 3)
    with pytest.raises(InputError, match="no segment named 'Necrosis' .*Tumor, Edema, Cyst"):
        readMaskFile(segPath, "reference", segment="Necrosis", scene=scene)
    with pytest.raises(InputError, match="needs a scene"):
        readMaskFile(segPath, "reference")


def test_cli_compares_a_seg_nrrd_with_a_labelmap(segFile, tmp_path, capsys):
    segPath, labelPath = segFile
    status = cli.main(
        ["qa", "--reference", str(segPath), "--prediction", str(labelPath), "--out", str(tmp_path / "qa")]
    )
    assert status == 0, capsys.readouterr().err
    metrics = pd.read_csv(tmp_path / "qa" / "metrics.csv")
    assert metrics.loc[0, "dsc"] == 1.0 and metrics.loc[0, "hd95_mm"] == 0.0


def test_seg_nrrd_without_segments_is_refused(scene, labelmapImage, tmp_path):
    node = labelmapImageToSegmentation(labelmapImage, scene, "seg")
    node.GetSegmentation().RemoveAllSegments()
    path = saveNode(node, tmp_path / "empty.seg.nrrd")
    with pytest.raises(InputError, match="has no segments"):
        readMaskFile(path, "prediction", scene=scene)


def test_cli_refuses_a_label_for_seg_nrrd_files_only(segFile, tmp_path, capsys):
    segPath, _labelPath = segFile
    status = cli.main(
        ["qa", "--reference", str(segPath), "--prediction", str(segPath), "--label", "2", "--out", str(tmp_path / "qa")]
    )
    stderr = capsys.readouterr().err
    assert status == 2 and "use --segment NAME" in stderr and not (tmp_path / "qa").exists()
    status = cli.main(
        [
            "qa",
            "--reference",
            str(segPath),
            "--prediction",
            str(segPath),
            "--segment",
            "Cyst",
            "--out",
            str(tmp_path / "qa"),
        ]
    )
    assert status == 0 and pd.read_csv(tmp_path / "qa" / "metrics.csv").loc[0, "dsc"] == 1.0
