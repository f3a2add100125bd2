"""Whole scenes: .mrb and .mrml save/load with volumes, segmentations, tables, charts,
subject hierarchy and stage configs; and the headless scene itself."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import slicer
import vtk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.extract.config import ExtractionConfig
from VirtualBiopsy.imageGeometry import gridDifferences, gridOf
from VirtualBiopsy.mrml import (
    createScene,
    dataFrameToTableNode,
    imageToVolumeNode,
    labelmapImageToSegmentation,
    loadScene,
    loadStageConfig,
    placeInSubjectHierarchy,
    plotChart,
    plotSeriesFromTable,
    saveScene,
    saveStageConfig,
    segmentationToLabelmapImage,
    tableNodeToDataFrame,
    volumeNodeToImage,
)

CONFIG = ExtractionConfig(binWidth=0.25, resampledPixelSpacing=[1.0, 1.0, 1.5], featureClasses=["shape", "glcm"])
FRAME = pd.DataFrame({"patient": ["VB001"], "volumeMm3": [1520.5123456789012], "adc": [np.nan], "event": [True]})


@pytest.fixture
def fullScene(scene, makeImage, labelmapImage):
    """A case scene: left-handed oblique volume, 3-segment segmentation, table, chart, hierarchy, config."""
    image = makeImage(np.float32, leftHanded=True, size=(10, 11, 12))
    volume = imageToVolumeNode(image, scene, "T1")
    segmentation = labelmapImageToSegmentation(labelmapImage, scene, "tumour", volume, segmentNames=["a", "b", "c"])
    table = dataFrameToTableNode(FRAME, scene, "features")
    series = plotSeriesFromTable(table, "volumeMm3", "volumeMm3", "size", plotType="step")
    chart = plotChart(scene, [series], "chart", title="sizes")
    placeInSubjectHierarchy(scene, [volume, segmentation, table, chart], "VB001", "MR")
    saveStageConfig(scene, "VirtualBiopsyExtraction", CONFIG)
    return scene, image, labelmapImage


def assertSceneContent(loaded, image, labelmap) -> None:
    volume = loaded.GetFirstNodeByName("T1")
    back = volumeNodeToImage(volume)
    # NRRD stores direction × spacing: the geometry comes back to the last bits, the voxel order exactly.
    assert gridDifferences(gridOf(image), gridOf(back), 1e-12) == []
    assert np.array_equal(sitk.GetArrayViewFromImage(back), sitk.GetArrayViewFromImage(image))
    labels, infos = segmentationToLabelmapImage(loaded.GetFirstNodeByName("tumour"), volume)
    assert np.array_equal(sitk.GetArrayViewFromImage(labels), sitk.GetArrayViewFromImage(labelmap))
    assert [info.name for info in infos] == ["a", "b", "c"]
    pd.testing.assert_frame_equal(tableNodeToDataFrame(loaded.GetFirstNodeByName("features")), FRAME)
    chart = loaded.GetFirstNodeByClass("vtkMRMLPlotChartNode")
    assert chart.GetTitle() == "sizes" and chart.GetNthPlotSeriesNode(0).GetTableNode().GetName() == "size steps"
    assert loadStageConfig(loaded, "VirtualBiopsyExtraction", ExtractionConfig) == CONFIG
    shNode = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(loaded)
    studyItem = shNode.GetItemParent(shNode.GetItemByDataNode(volume))
    assert shNode.GetItemName(studyItem) == "MR"
    assert shNode.GetItemName(shNode.GetItemParent(studyItem)) == "VB001"


def test_mrbBundleKeepsEverything(fullScene, tmp_path):
    scene, image, labelmap = fullScene
    path = saveScene(scene, tmp_path / "case.mrb")
    assert path == tmp_path / "case.mrb" and sorted(p.name for p in tmp_path.iterdir()) == ["case.mrb"]
    names = zipfile.ZipFile(path).namelist()
    assert "case/case.mrml" in names and any(name.startswith("case/Data/") for name in names)
    loaded = loadScene(path)
    assert loaded is not scene
    assertSceneContent(loaded, image, labelmap)
    assertSceneContent(scene, image, labelmap)  # the saved scene is unchanged


def test_mrmlWritesDataBesideItAndLoads(fullScene, tmp_path):
    scene, image, labelmap = fullScene
    path = saveScene(scene, tmp_path / "case.mrml")
    assert path.is_file() and (tmp_path / "Data").is_dir()
    assert any(p.suffix == ".nrrd" for p in (tmp_path / "Data").iterdir())
    assertSceneContent(loadScene(path), image, labelmap)
    with pytest.raises(InputError, match="Refusing to overwrite"):
        saveScene(scene, path)
    saveScene(scene, path, overwrite=True)
    assert not list(tmp_path.glob(".*partial"))


def test_nodeNamesSlicerCannotSaveAreRefused(scene, tmp_path):
    dataFrameToTableNode(FRAME, scene, "size & shape")
    with pytest.raises(InputError, match="'size & shape'.*cannot hold '&'.*Rename"):
        saveScene(scene, tmp_path / "case.mrb")
    assert list(tmp_path.iterdir()) == []


def test_sceneFileErrors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        loadScene(tmp_path / "missing.mrb")
    (tmp_path / "fake.mrb").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="fake.mrb.*not a .mrb"):
        loadScene(tmp_path / "fake.mrb")
    (tmp_path / "broken.mrml").write_text("<MRML version='5'><Volume id='x' ")
    with pytest.raises(InputError, match="Cannot read scene .*broken.mrml"):
        loadScene(tmp_path / "broken.mrml")
    volumeScene = createScene()
    imageToVolumeNode(sitk.Image([3, 3, 3], sitk.sitkInt16), volumeScene, "lost")
    saved = saveScene(volumeScene, tmp_path / "lost" / "case.mrml")
    (saved.parent / "Data" / "lost.nrrd").unlink()
    with pytest.raises(InputError, match="case.mrml.*Failed to read node lost"):
        loadScene(saved)
    (tmp_path / "scene.zip").write_bytes(b"PK")
    with pytest.raises(InputError, match=r"'\.zip' is not supported.*\.mrml, \.mrb"):
        loadScene(tmp_path / "scene.zip")
    with pytest.raises(InputError, match=r"\.mrml, \.mrb"):
        saveScene(createScene(), tmp_path / "scene.zip")


def test_createSceneIsQuiet(capfd):
    createScene()
    captured = capfd.readouterr()
    assert "FindDefaultColorFiles" not in captured.err + captured.out
    assert "ERR" not in captured.err


def test_headlessSceneHasWorkingColourDefaults(scene):
    labelmap = imageToVolumeNode(sitk.Image([3, 3, 3], sitk.sitkUInt8), scene, "labels", labelmap=True)
    colorNode = labelmap.GetDisplayNode().GetColorNode()
    assert colorNode is not None and colorNode.GetScene() is scene
    assert scene.IsNodeClassRegistered("vtkMRMLColorLegendDisplayNode")
    assert isinstance(scene, vtk.vtkObject)
