"""ExtractionLogic on real MRML nodes: features through nodes equal pyradiomics on the files,
the table's layout, several segments and sequences, and hostile inputs."""

from __future__ import annotations

import json
import logging
import warnings

import numpy as np
import pytest
import SimpleITK as sitk

from VirtualBiopsy.errors import CancelledError, GeometryError, InputError
from VirtualBiopsy.extract.config import ExtractionConfig
from VirtualBiopsy.extract.logic import (
    PROVENANCE_ATTRIBUTE,
    UNDEFINED_ATTRIBUTE,
    ExtractionLogic,
)
from VirtualBiopsy.extract.radiomicsSettings import RadiomicsSettings
from VirtualBiopsy.mrml import (
    imageToVolumeNode,
    labelmapImageToSegmentation,
    loadSegmentation,
    loadVolume,
)
from VirtualBiopsy.mrml.tables import tableNodeToDataFrame
from VirtualBiopsy.progress import CancelToken

#: original + LoG + wavelet, every feature class (the ``full`` preset).
FULL = ExtractionConfig(preset="full")


def pyradiomicsOnFiles(case, settings: RadiomicsSettings) -> dict[str, float]:
    featureextractor = pytest.importorskip("radiomics.featureextractor")
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        extractor = featureextractor.RadiomicsFeatureExtractor(settings.pyradiomics)
    result = extractor.execute(str(case.image), str(case.label))
    return {name: float(value) for name, value in result.items() if not name.startswith("diagnostics_")}


@pytest.mark.network
@pytest.mark.parametrize("caseName", ["brain1", "brain2", "breast1", "lung1", "lung2"])
def test_original_features_through_nodes_equal_pyradiomics_on_every_sample_case(scene, sampleCases, caseName):
    """``mr-default`` (original image, every class), cropped as the engine does by default: bit for bit."""
    case = sampleCases[caseName]
    config = ExtractionConfig(preset="mr-default")
    onFiles = pyradiomicsOnFiles(case, config.settings())
    volume = loadVolume(case.image, scene)
    segmentation = loadSegmentation(case.label, scene, referenceVolume=volume)
    (result,) = ExtractionLogic(scene).computeFeatures(volume, segmentation, config).values()
    assert len(onFiles) == 107 and set(result.features) == set(onFiles)
    assert {name: value for name, value in result.features.items() if value != onFiles[name]} == {}


@pytest.mark.network
@pytest.mark.slow
@pytest.mark.parametrize("caseName", ["brain1", "breast1"])
def test_features_through_nodes_equal_pyradiomics_on_the_files(scene, sampleCases, caseName):
    """Uncropped: bit for bit, every feature of every class (the bridge restores the file's exact geometry);
    cropped (the default): within 1e-6, original and wavelet features equal to 1e-12."""
    case = sampleCases[caseName]
    onFiles = pyradiomicsOnFiles(case, FULL.settings())
    volume = loadVolume(case.image, scene)
    segmentation = loadSegmentation(case.label, scene, referenceVolume=volume)
    logic = ExtractionLogic(scene)

    exact = logic.computeFeatures(volume, segmentation, FULL.replace(cropToRoi=False))
    (result,) = exact.values()
    assert len(onFiles) == 1223 and set(result.features) == set(onFiles)
    assert {name: value for name, value in result.features.items() if value != onFiles[name]} == {}

    table = logic.run(volume, segmentation, FULL)
    frame = tableNodeToDataFrame(table)
    assert list(frame.columns) == ["Segment", "Feature", "Value"] and len(frame) == 1223
    values = dict(zip(frame["Feature"], frame["Value"]))
    for name, expected in onFiles.items():
        assert values[name] == pytest.approx(expected, rel=1e-6, abs=1e-12), name
        if name.startswith(("original_", "wavelet")):
            assert values[name] == pytest.approx(expected, rel=1e-12, abs=1e-300), name


@pytest.fixture
def twoSegments(scene, makeImage):
    """A float volume, a second sequence on the same grid and a segmentation with segments 'core' and 'rim'."""
    rng = np.random.default_rng(1)
    voxels = rng.normal(100.0, 20.0, (20, 24, 22)).astype(np.float32)
    image = sitk.GetImageFromArray(voxels)
    image.CopyInformation(makeImage(size=(22, 24, 20)))
    labels = np.zeros(voxels.shape, np.uint8)
    labels[6:14, 8:16, 7:15] = 2
    labels[8:12, 10:14, 9:13] = 1
    labelmap = sitk.GetImageFromArray(labels)
    labelmap.CopyInformation(image)
    t1 = imageToVolumeNode(image, scene, "T1")
    t2 = imageToVolumeNode(image * 3.0, scene, "T2")
    segmentation = labelmapImageToSegmentation(labelmap, scene, "tumour", t1, segmentNames=["core", "rim"])
    return t1, t2, segmentation, image, labels


CONFIG = ExtractionConfig(binWidth=10.0)


def test_every_segment_gets_rows_and_provenance(scene, twoSegments):
    t1, _t2, segmentation, image, labels = twoSegments
    progress = []
    table = ExtractionLogic(scene).run(t1, segmentation, CONFIG, progress=lambda f, m: progress.append((f, m)))
    frame = tableNodeToDataFrame(table)
    assert list(frame["Segment"].unique()) == ["core", "rim"]
    assert (frame["Segment"] == "core").sum() == (frame["Segment"] == "rim").sum() == 107
    volumes = frame[frame["Feature"] == "original_shape_VoxelVolume"].set_index("Segment")["Value"]
    spacing = np.prod(image.GetSpacing())
    assert volumes["core"] == pytest.approx((labels == 1).sum() * spacing)
    assert volumes["rim"] == pytest.approx((labels == 2).sum() * spacing)
    provenance = json.loads(table.GetAttribute(PROVENANCE_ATTRIBUTE))
    assert set(provenance) == {"core", "rim"}
    assert provenance["core"]["provenance"]["settingsSha256"] == CONFIG.settings().sha256()
    assert any(key.startswith("diagnostics_") for key in provenance["rim"]["diagnostics"])
    assert json.loads(table.GetAttribute(UNDEFINED_ATTRIBUTE)) == {"core": {}, "rim": {}}
    assert progress[-1][0] == 1.0 and table.GetName() == "T1_features"
    again = ExtractionLogic(scene).run(t1, segmentation, CONFIG, segmentIds=["rim"], outputTable=table)
    assert again is table and list(tableNodeToDataFrame(table)["Segment"].unique()) == ["rim"]


def test_sequences_are_prefixed_and_shape_comes_once(scene, twoSegments):
    t1, t2, segmentation, _image, _labels = twoSegments
    results = ExtractionLogic(scene).computeFeatures({"T1": t1, "T2": t2}, segmentation, CONFIG, segmentIds="core")
    (result,) = results.values()
    assert "T1_original_shape_VoxelVolume" in result.features and "T2_original_shape_VoxelVolume" not in result.features
    assert result.features["T2_original_firstorder_Mean"] == pytest.approx(
        3 * result.features["T1_original_firstorder_Mean"]
    )
    assert len(result.features) == 107 + 93


def test_constant_segment_reports_texture_as_undefined(scene, twoSegments):
    _t1, _t2, segmentation, image, labels = twoSegments
    voxels = sitk.GetArrayFromImage(image)
    voxels[labels == 1] = 50.0
    flat = sitk.GetImageFromArray(voxels)
    flat.CopyInformation(image)
    volume = imageToVolumeNode(flat, scene, "flat")
    table = ExtractionLogic(scene).run(volume, segmentation, CONFIG, segmentIds=["core"])
    undefined = json.loads(table.GetAttribute(UNDEFINED_ATTRIBUTE))["core"]
    assert len(undefined) == 75 and "original_glcm_Contrast" in undefined
    frame = tableNodeToDataFrame(table)
    assert not frame["Feature"].isin(list(undefined)).any() and np.isfinite(frame["Value"]).all()


def test_hostile_inputs_on_nodes(scene, twoSegments, makeImage):
    t1, _t2, segmentation, image, _labels = twoSegments
    logic = ExtractionLogic(scene)
    with pytest.raises(InputError, match="there is no segment with ID or name 'necrosis'.*core"):
        logic.run(t1, segmentation, CONFIG, segmentIds=["necrosis"])
    with pytest.raises(InputError, match="Expected a segmentation node, got vtkMRMLScalarVolumeNode"):
        logic.run(t1, t1, CONFIG)
    with pytest.raises(InputError, match="No volume was given"):
        logic.run(None, segmentation, CONFIG)
    empty = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "empty")
    with pytest.raises(InputError, match="'empty' has no segments"):
        logic.run(t1, empty, CONFIG)
    with pytest.raises(InputError, match=r"covers 64 voxels, fewer than the minimum of 100"):
        logic.run(t1, segmentation, CONFIG.replace(minimumRoiVoxels=100), segmentIds=["core"])
    with pytest.raises(InputError, match="No radiomics preset named 'nope'"):
        logic.run(t1, segmentation, ExtractionConfig.fromDict({"preset": "nope"}))
    voxels = sitk.GetArrayFromImage(image)
    voxels[10, 12, 11] = np.nan  # inside 'core'
    withNan = sitk.GetImageFromArray(voxels)
    withNan.CopyInformation(image)
    with pytest.raises(InputError, match="NaN"):
        logic.run(imageToVolumeNode(withNan, scene, "nan"), segmentation, CONFIG, segmentIds=["core"])
    elsewhere = imageToVolumeNode(makeImage(np.float32, size=(8, 8, 8), seed=3), scene, "elsewhere")
    with pytest.raises(InputError, match="has no voxel inside volume 'elsewhere'"):
        logic.run(elsewhere, segmentation, CONFIG, segmentIds=["core"])
    transform = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode")
    moved = imageToVolumeNode(image, scene, "moved")
    moved.SetAndObserveTransformNodeID(transform.GetID())
    with pytest.raises(GeometryError, match="Harden the transform"):
        logic.run(moved, segmentation, CONFIG)
    assert scene.GetNumberOfNodesByClass("vtkMRMLTableNode") == 0  # nothing half-made


def test_cancel_stops_before_the_next_segment(scene, twoSegments):
    t1, _t2, segmentation, _image, _labels = twoSegments
    token = CancelToken()
    seen = []

    def progress(fraction, message):
        seen.append(message)
        if fraction > 0:
            token.cancel()

    with pytest.raises(CancelledError):
        ExtractionLogic(scene).run(t1, segmentation, CONFIG, progress=progress, cancel=token)
    assert len(seen) == 2 and "rim" in seen[-1]
    assert scene.GetNumberOfNodesByClass("vtkMRMLTableNode") == 0
