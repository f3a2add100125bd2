"""Grad-CAM through a worker process (what the Outcome module runs): the same map as in this process, the
caller's idle callback runs while the worker computes (Slicer's processEvents: a responsive GUI), and
Cancel stops it without adding a node."""

import numpy as np
import pytest
import SimpleITK as sitk

from VirtualBiopsy.errors import CancelledError, InputError
from VirtualBiopsy.mrml.images import imageToVolumeNode, volumeNodeToImage
from VirtualBiopsy.progress import CancelToken

pytestmark = pytest.mark.slow
torch = pytest.importorskip("torch")

from test_cnn_logic import patientImages, untrainedModel  # noqa: E402

from VirtualBiopsy.outcome.deep.config import DeepOutcomeConfig  # noqa: E402
from VirtualBiopsy.outcome.deep.logic import SOURCE_ATTRIBUTE, DeepOutcomeLogic  # noqa: E402
from VirtualBiopsy.outcome.deep.modelFolder import CONFIG_NAME, WEIGHTS_NAME  # noqa: E402
from VirtualBiopsy.workers.processRunner import ProcessRunner  # noqa: E402


def modelFolder(root):
    """The untrained model written as a classifier folder (what 'outcome cnn train' writes)."""
    import json

    model = untrainedModel()
    folder = root / "untrained"
    folder.mkdir()
    torch.save(model.network.state_dict(), folder / WEIGHTS_NAME)
    (folder / CONFIG_NAME).write_text(json.dumps({"format": "virtual-biopsy-cnn-classifier", **model.config}))
    return model, folder


def test_worker_map_equals_the_in_process_map_and_idle_runs(scene, tmp_path):
    model, folder = modelFolder(tmp_path)
    t1c, flair, mask = patientImages()
    nodes = {"T1c": imageToVolumeNode(t1c, scene, "T1c"), "FLAIR": imageToVolumeNode(flair, scene, "FLAIR")}
    maskNode = imageToVolumeNode(mask, scene, "tumour", labelmap=True)
    idleCalls = []
    runner = ProcessRunner(idle=lambda: idleCalls.append(1))
    reports = []
    logic = DeepOutcomeLogic(scene)
    config = DeepOutcomeConfig(deepModel=str(folder))
    node, result = logic.gradCamNodeInWorker(
        nodes, maskNode, config, runner=runner, progress=lambda fraction, message: reports.append(fraction)
    )
    direct, directResult = logic.gradCamNode(model, nodes, maskNode)
    assert result.defined and node is not None
    workerMap = sitk.GetArrayFromImage(volumeNodeToImage(node))
    directMap = sitk.GetArrayFromImage(volumeNodeToImage(direct))
    # Another process may sum in another order (threads): equal to float32 rounding, on the same grid.
    assert np.abs(workerMap - directMap).max() <= 1e-5, np.abs(workerMap - directMap).max()
    assert volumeNodeToImage(node).GetDirection() == volumeNodeToImage(direct).GetDirection()
    assert result.className == directResult.className
    assert np.allclose(result.probabilities, directResult.probabilities)
    assert idleCalls and reports and reports[-1] == 1.0


def test_cancel_stops_the_worker_and_adds_no_node(scene, tmp_path):
    _model, folder = modelFolder(tmp_path)
    t1c, flair, mask = patientImages()
    nodes = {"T1c": imageToVolumeNode(t1c, scene, "T1c"), "FLAIR": imageToVolumeNode(flair, scene, "FLAIR")}
    maskNode = imageToVolumeNode(mask, scene, "tumour", labelmap=True)
    token = CancelToken()
    before = scene.GetNumberOfNodes()
    runner = ProcessRunner(idle=token.cancel)  # the user presses Cancel while the worker runs
    with pytest.raises(CancelledError):
        DeepOutcomeLogic(scene).gradCamNodeInWorker(
            nodes, maskNode, DeepOutcomeConfig(deepModel=str(folder)), runner=runner, cancel=token
        )
    assert scene.GetNumberOfNodes() == before


def test_volumes_listed_as_a_panel_selects_them_are_matched_by_name(scene, tmp_path):
    """A list of volume nodes (the Deep learning panel's image and additional volumes) is matched to the
    model's sequences by node name; an empty model is refused before any worker starts."""
    _model, folder = modelFolder(tmp_path)
    t1c, flair, mask = patientImages()
    listed = [imageToVolumeNode(flair, scene, "FLAIR"), imageToVolumeNode(t1c, scene, "T1c")]
    maskNode = imageToVolumeNode(mask, scene, "tumour", labelmap=True)
    logic = DeepOutcomeLogic(scene)
    node, result = logic.gradCamNodeInWorker(listed, maskNode, DeepOutcomeConfig(deepModel=str(folder)))
    assert result.defined and node.GetAttribute(SOURCE_ATTRIBUTE) == listed[1].GetID()
    with pytest.raises(InputError, match="deepModel is empty"):
        logic.gradCamNodeInWorker(listed, maskNode, DeepOutcomeConfig())
