"""Export of scene cases (volume nodes + reviewed segmentation nodes) to an nnU-Net raw dataset."""

from __future__ import annotations

import json

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.mrml import imageToVolumeNode, labelmapImageToSegmentation
from VirtualBiopsy.segment.training.config import DatasetExportConfig
from VirtualBiopsy.segment.training.logic import NodeCase, TrainingLogic


def sceneCase(scene, makeImage, caseId: str, seed: int) -> tuple[NodeCase, dict[str, sitk.Image], sitk.Image]:
    images = {
        name: makeImage(np.int16, leftHanded=True, size=(9, 8, 7), seed=seed + k)
        for k, name in enumerate(("FLAIR", "T1c"))
    }
    volumes = {name: imageToVolumeNode(image, scene, f"{caseId}_{name}") for name, image in images.items()}
    voxels = np.zeros((7, 8, 9), np.uint8)
    voxels[2:5, 3:6, 1 + seed % 3 : 6] = 1
    voxels[5, 5, 5] = 2
    mask = sitk.GetImageFromArray(voxels)
    mask.CopyInformation(images["FLAIR"])
    segmentation = labelmapImageToSegmentation(mask, scene, f"{caseId}_seg", volumes["FLAIR"], ["tumour", "vessel"])
    return NodeCase(caseId, volumes, segmentation, ["tumour"]), images, mask


def test_scene_cases_export_with_their_voxels_and_geometry(scene, makeImage, tmp_path):
    case, images, mask = sceneCase(scene, makeImage, "Patient A", 0)

    config = DatasetExportConfig(datasetId=21, datasetName="Scene", sequences=["FLAIR", "T1c"])
    export = TrainingLogic(scene).exportDataset([case], tmp_path, config)

    assert export.cases == [("case_0000", "Patient A")] and export.skipped == []
    for channel, name in enumerate(("FLAIR", "T1c")):
        written = sitk.ReadImage(str(export.folder / "imagesTr" / f"case_0000_{channel:04d}.nii.gz"))
        assert np.array_equal(sitk.GetArrayFromImage(written), sitk.GetArrayFromImage(images[name]))
        assert np.allclose(written.GetOrigin(), images[name].GetOrigin(), atol=1e-4)
        assert np.allclose(written.GetDirection(), images[name].GetDirection(), atol=1e-5)
    label = sitk.GetArrayFromImage(sitk.ReadImage(str(export.folder / "labelsTr" / "case_0000.nii.gz")))
    assert np.array_equal(label, (sitk.GetArrayFromImage(mask) == 1).astype(np.uint8))  # only the chosen segment
    assert json.loads((export.folder / "dataset.json").read_text(encoding="utf-8"))["channel_names"] == {
        "0": "FLAIR",
        "1": "T1c",
    }


def test_cases_that_cannot_be_converted_are_skipped(scene, makeImage, tmp_path):
    good, _, _ = sceneCase(scene, makeImage, "good", 1)
    transformed, _, _ = sceneCase(scene, makeImage, "transformed", 2)
    transform = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode", "shift")
    transformed.volumes["T1c"].SetAndObserveTransformNodeID(transform.GetID())
    missing, _, _ = sceneCase(scene, makeImage, "missing", 3)
    missing.volumes = {"FLAIR": missing.volumes["FLAIR"]}
    unsegmented, _, _ = sceneCase(scene, makeImage, "unsegmented", 4)
    unsegmented.segmentation = None

    config = DatasetExportConfig(datasetId=22, datasetName="Scene", sequences=["FLAIR", "T1c"])
    export = TrainingLogic(scene).exportDataset([transformed, good, missing, unsegmented], tmp_path, config)

    assert export.cases == [("case_0000", "good")]
    reasons = dict(export.skipped)
    assert "transform" in reasons["transformed"] and "T1c" in reasons["missing"] and "mask" in reasons["unsegmented"]
