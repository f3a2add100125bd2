"""A MONAI bundle with overlapping sigmoid outputs (backend ``monai-bundle``), listed in a real registry, run on
four named volume nodes of an oblique, left-handed grid: one segment per region on exactly that grid, each voxel in
the innermost region it belongs to, equal to the backend run on the same images."""

import json
import pathlib
import sys

import numpy as np
import pytest
import SimpleITK as sitk

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "unit"))
from bundleFolder import BUNDLE_ID, SEQUENCES, bundleEntry, publishBundle, writeBundle

from VirtualBiopsy.models.modelFiles import ModelFiles
from VirtualBiopsy.models.registry import ModelRegistry
from VirtualBiopsy.mrml.images import imageToVolumeNode, volumeNodeToImage
from VirtualBiopsy.mrml.segmentations import segmentationToLabelmapImage
from VirtualBiopsy.segment.backends.monaiBundleBackend import (
    loadBundleNetwork,
    predictBundle,
    readBundlePlan,
    regionsOf,
)
from VirtualBiopsy.segment.config import SegmentationConfig
from VirtualBiopsy.segment.logic import SegmentationLogic
from VirtualBiopsy.segment.modelLogic import PROVENANCE_ATTRIBUTE
from VirtualBiopsy.workers.inlineRunner import InlineRunner

pytestmark = pytest.mark.slow  # MONAI and torch, a SegResNet


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> ModelRegistry:
    folder = writeBundle(tmp_path_factory.mktemp("bundle") / "brats")
    user = tmp_path_factory.mktemp("models")
    publishBundle(user, [bundleEntry(folder)])
    return ModelRegistry(userFolder=user, cacheFolder=tmp_path_factory.mktemp("cache"))


@pytest.fixture
def volumes(scene, makeImage):
    """T1c, T1, T2 and FLAIR volume nodes on one oblique, left-handed grid."""
    nodes = {}
    for seed, name in enumerate(SEQUENCES):
        image = sitk.Cast(makeImage(np.float32, leftHanded=True, size=(19, 17, 9), seed=seed), sitk.sitkFloat32)
        nodes[name] = imageToVolumeNode(image, scene, name)
    return nodes


def test_regions_become_nested_segments_on_the_input_grid_equal_to_the_backend(scene, registry, volumes):
    config = SegmentationConfig.fromDict({"method": "model", "modelId": BUNDLE_ID, "device": "cpu", "fillHoles": False})
    made = SegmentationLogic(scene, runner=InlineRunner(), registry=registry).runModel(volumes, config)

    entry = registry.get(BUNDLE_ID)
    files = ModelFiles.checked(entry, registry.modelPath(entry))
    plan = readBundlePlan(files)
    images = [volumeNodeToImage(volumes[name]) for name in SEQUENCES]
    expected = predictBundle(images, loadBundleNetwork(files, plan), plan, regionsOf(entry, plan), device="cpu")
    labelMap, infos = segmentationToLabelmapImage(made.segmentation, volumes["T1c"])
    values = np.zeros(labelMap.GetSize()[::-1], np.uint8)
    byName = {label.name: label.value for label in entry.labels}
    for info in infos:  # export labels count segments; map them back to the model's label values
        values[sitk.GetArrayFromImage(labelMap) == info.label] = byName[info.name]
    assert np.array_equal(values, sitk.GetArrayFromImage(expected.labelMap))
    assert set(np.unique(values)) == {0, 1, 2, 3}
    segments = made.segmentation.GetSegmentation()
    names = [segments.GetNthSegment(i).GetName() for i in range(segments.GetNumberOfSegments())]
    assert names == ["Tumor core", "Whole tumor", "Enhancing tumor"]
    assert labelMap.GetSize() == images[0].GetSize() and labelMap.GetDirection() == images[0].GetDirection()
    provenance = json.loads(made.segmentation.GetAttribute(PROVENANCE_ATTRIBUTE))
    assert provenance["backend"] == "monai-bundle" and provenance["regions"] and provenance["modelId"] == BUNDLE_ID
    assert provenance["channelMapping"] == {name: name for name in SEQUENCES}
