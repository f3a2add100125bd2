"""StyleTransferLogic on real volume nodes: a new node exactly on the input's oblique, left-handed grid, the same
voxels as the algorithm on the image, provenance recorded, the input untouched; cancel leaves no node."""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np
import pytest
import SimpleITK as sitk

pytest.importorskip("torch")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "unit"))

from conftest import obliqueDirection  # noqa: E402
from styleTransferModels import siteImages, trainedTinyModel  # noqa: E402

from VirtualBiopsy.errors import CancelledError, InputError  # noqa: E402
from VirtualBiopsy.harmonize.styleTransfer.application import applyStyleTransfer  # noqa: E402
from VirtualBiopsy.harmonize.styleTransfer.applicationConfig import StyleTransferConfig
from VirtualBiopsy.harmonize.styleTransfer.logic import (  # noqa: E402
    PROVENANCE_ATTRIBUTE,
    StyleTransferLogic,
)
from VirtualBiopsy.harmonize.styleTransfer.registration import registerStyleModel  # noqa: E402
from VirtualBiopsy.mrml.images import imageToVolumeNode, nodeGrid, volumeNodeToImage  # noqa: E402
from VirtualBiopsy.progress import CancelToken  # noqa: E402
from VirtualBiopsy.workers.inlineRunner import InlineRunner  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture
def modelsFolder(tmp_path):
    registerStyleModel(trainedTinyModel()[0], "tiny", tmp_path / "models")
    return tmp_path / "models"


#: The registered tiny model on the CPU, as the Style transfer panel sets it.
CPU_TINY = StyleTransferConfig(styleModel="tiny", styleDevice="cpu")


@pytest.fixture
def obliqueNode(scene):
    image = sitk.ReadImage(siteImages("SiteA")[0])[2:31, :, 1:]
    image.SetDirection(obliqueDirection(leftHanded=True))
    image.SetSpacing((7.5, 6.25, 9.0))
    image.SetOrigin((10.0, -20.5, 33.0))
    return imageToVolumeNode(image, scene, "T2 site A")


def test_logic_makes_a_new_node_on_the_input_grid_with_provenance(scene, obliqueNode, modelsFolder):
    before = volumeNodeToImage(obliqueNode)
    reports = []
    logic = StyleTransferLogic(scene, runner=InlineRunner(), modelsFolder=modelsFolder)
    output = logic.run(obliqueNode, CPU_TINY, progress=lambda f, m: reports.append(f))
    assert output is not obliqueNode and output.GetName() == "T2 site A_SiteB"
    assert nodeGrid(output) == nodeGrid(obliqueNode)
    expected = applyStyleTransfer(before, trainedTinyModel()[0], device="cpu")
    np.testing.assert_array_equal(sitk.GetArrayFromImage(volumeNodeToImage(output)), sitk.GetArrayFromImage(expected))
    np.testing.assert_array_equal(
        sitk.GetArrayFromImage(volumeNodeToImage(obliqueNode)), sitk.GetArrayFromImage(before)
    )
    provenance = json.loads(output.GetAttribute(PROVENANCE_ATTRIBUTE))
    from VirtualBiopsy.models.registry import ModelRegistry

    entry = ModelRegistry(modelsFolder).get("tiny")
    assert provenance == {
        "modelId": "tiny",
        "sha256": entry.sha256,
        "device": "cpu",
        "sequence": "T2",
        "sourceDomain": "SiteA",
        "targetDomain": "SiteB",
    }
    assert reports and reports[-1] == 1.0


def test_cancel_and_bad_model_leave_no_node(scene, obliqueNode, modelsFolder):
    count = scene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode")
    logic = StyleTransferLogic(scene, runner=InlineRunner(), modelsFolder=modelsFolder)
    token = CancelToken()
    token.cancel()
    with pytest.raises(CancelledError):
        logic.run(obliqueNode, CPU_TINY, cancel=token)
    with pytest.raises(InputError, match="No model with id 'absent'"):
        logic.run(obliqueNode, CPU_TINY.replace(styleModel="absent"))
    with pytest.raises(InputError, match="Device"):
        logic.run(obliqueNode, StyleTransferConfig(styleModel="tiny", styleDevice="tpu"))
    assert scene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode") == count


def test_cancel_during_the_translation_stops_it_and_adds_no_node(scene, obliqueNode, modelsFolder):
    count = scene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode")
    token = CancelToken()
    seen = []

    def progress(fraction: float, message: str) -> None:
        seen.append(message)
        if "translated" in message:
            token.cancel()

    logic = StyleTransferLogic(scene, runner=InlineRunner(), modelsFolder=modelsFolder)
    with pytest.raises(CancelledError):
        logic.run(obliqueNode, CPU_TINY.replace(styleBatchSize=2), progress=progress, cancel=token)
    assert sum("translated" in message for message in seen) == 1
    assert scene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode") == count
