"""pyradiomics' real sample cases through the bridge: exact round trips, and radiomics
features computed through nodes equal to those computed on the files."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import SimpleITK as sitk

from VirtualBiopsy.imageGeometry import gridDifferences, gridOf
from VirtualBiopsy.mrml import (
    loadSegmentation,
    loadVolume,
    saveNode,
    segmentationToLabelmapImage,
    segmentMaskImage,
    volumeNodeToImage,
)

pytestmark = pytest.mark.network  # the shared sampleCases fixture fetches the files through pip once

CASES = ["brain1", "breast1"]


def sameVoxels(image: sitk.Image, other: sitk.Image) -> bool:
    return np.array_equal(sitk.GetArrayViewFromImage(image), sitk.GetArrayViewFromImage(other))


@pytest.mark.parametrize("caseName", CASES)
def test_volumeAndLabelRoundTrips(scene, sampleCases, caseName, tmp_path):
    case = sampleCases[caseName]
    fileImage, fileLabel = sitk.ReadImage(str(case.image)), sitk.ReadImage(str(case.label))
    volume = loadVolume(case.image, scene)
    image = volumeNodeToImage(volume)
    assert image.GetPixelID() == fileImage.GetPixelID() and sameVoxels(image, fileImage)
    assert gridDifferences(gridOf(fileImage), gridOf(image), 1e-12) == []

    reloaded = volumeNodeToImage(loadVolume(saveNode(volume, tmp_path / "image.nrrd"), scene))
    assert sameVoxels(reloaded, image) and gridDifferences(gridOf(image), gridOf(reloaded), 1e-12) == []

    segmentation = loadSegmentation(case.label, scene, referenceVolume=volume)
    labels, infos = segmentationToLabelmapImage(segmentation, volume)
    assert [info.label for info in infos] == [1]
    assert gridOf(labels) == gridOf(image) and sameVoxels(labels, fileLabel)
    again = loadSegmentation(saveNode(segmentation, tmp_path / "label.seg.nrrd"), scene, referenceVolume=volume)
    assert sameVoxels(segmentationToLabelmapImage(again, volume)[0], fileLabel)


@pytest.mark.parametrize("caseName", CASES)
def test_radiomicsThroughNodesEqualsRadiomicsOnFiles(scene, sampleCases, caseName):
    """All original feature classes, mesh-based shape features included (they depend on voxel order)."""
    featureextractor = pytest.importorskip("radiomics.featureextractor")
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    case = sampleCases[caseName]
    extractor = featureextractor.RadiomicsFeatureExtractor()
    extractor.disableAllImageTypes()
    extractor.enableImageTypeByName("Original")
    extractor.enableAllFeatures()
    onFiles = extractor.execute(str(case.image), str(case.label))

    volume = loadVolume(case.image, scene)
    segmentation = loadSegmentation(case.label, scene, referenceVolume=volume)
    segmentId = segmentation.GetSegmentation().GetNthSegmentID(0)
    throughNodes = extractor.execute(volumeNodeToImage(volume), segmentMaskImage(segmentation, segmentId, volume))

    names = [name for name in onFiles if name.startswith("original_")]
    assert len(names) == 107 and any(name.startswith("original_shape_SurfaceArea") for name in names)
    for name in names:
        expected, actual = float(onFiles[name]), float(throughNodes[name])
        assert actual == pytest.approx(expected, rel=1e-12, abs=1e-300), name
