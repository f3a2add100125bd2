"""The work of each stage on one patient, file in, file out, on MRML nodes of a scene of its own.

Each function reads its inputs from files, writes its outputs atomically and returns what the case summary
records; :mod:`~VirtualBiopsy.cohort.casePipeline` decides which to run (the ledger) and records them.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import numpy as np
import pandas as pd
import SimpleITK as sitk

from VirtualBiopsy.cohort.pipelineConfig import PipelineConfig
from VirtualBiopsy.errors import InputError
from VirtualBiopsy.extract.logic import ExtractionLogic
from VirtualBiopsy.files import writeImageAtomically, writeTextAtomically
from VirtualBiopsy.harmonize.logic import HarmonizationLogic
from VirtualBiopsy.harmonize.preprocessingLogic import PreprocessingLogic
from VirtualBiopsy.imageGeometry import gridDifferences
from VirtualBiopsy.mrml.hierarchy import placeInSubjectHierarchy
from VirtualBiopsy.mrml.images import volumeNodeToImage
from VirtualBiopsy.mrml.parameters import saveStageConfig
from VirtualBiopsy.mrml.scene import createScene
from VirtualBiopsy.mrml.sceneFiles import saveScene
from VirtualBiopsy.mrml.segmentations import labelmapImageToSegmentation, segmentationToLabelmapImage
from VirtualBiopsy.mrml.storage import loadVolume, saveNode
from VirtualBiopsy.mrml.tables import dataFrameToTableNode, tableNodeToDataFrame
from VirtualBiopsy.progress import CancelToken
from VirtualBiopsy.segment.logic import SegmentationLogic
from VirtualBiopsy.segment.qa.metrics import computeMetrics

#: Module names (and parameter packs) under which each stage's settings are stored in a patient's scene.
STAGE_MODULES = {
    "harmonize": ("VirtualBiopsyHarmonization", "normalization"),
    "segment": ("VirtualBiopsySegmentation", "segmentation"),
    "extract": ("VirtualBiopsyOutcome", "features"),
}


def harmonizeSequence(
    source: pathlib.Path, target: pathlib.Path, sequence: str, config: PipelineConfig, cancel: CancelToken | None
) -> None:
    """N4, resampling and normalization of one sequence as ``config.harmonize`` says, into ``target`` (NRRD)."""
    section = config.harmonize
    scene = createScene()
    try:
        volume = loadVolume(source, scene, name=sequence)
        preprocessing = PreprocessingLogic(scene)
        if section.biasCorrection:
            volume = preprocessing.correctBiasField(volume, section.preprocessing, cancel=cancel)
        if section.resampling:
            volume = preprocessing.resample(volume, section.preprocessing, cancel=cancel)
        harmonized = HarmonizationLogic(scene).run(volume, section.normalizationOf(sequence), cancel=cancel)
        saveNode(harmonized, target, overwrite=True)
    finally:
        scene.Clear(True)


def segmentCase(
    images: dict[str, pathlib.Path],
    gridImage: pathlib.Path,
    mask: pathlib.Path | None,
    label: int | None,
    target: pathlib.Path,
    config: PipelineConfig,
    cancel: CancelToken | None,
) -> dict[str, Any]:
    """The tumour mask on ``gridImage``'s grid (uint8, 1 = tumour) into ``target``; returns the segment summary.

    :param images: the images the model or threshold method reads (as acquired for a model, harmonized for the
        threshold method, as ``config`` says).
    :param mask: the manifest's mask (the segmentation with ``source: manifest``, the QA reference with ``both``).
    :raises InputError: for an empty result, or a mask that does not overlap the image.
    """
    section = config.segment
    grid = _readImage(gridImage)
    reference = _manifestMask(mask, label, grid) if mask is not None and section.usesManifestMasks else None
    summary: dict[str, Any] = {"segmentationSource": "manifest" if section.source == "manifest" else "model"}
    if section.source == "manifest":
        assert reference is not None
        tumour = reference
    else:
        tumour, provenance = _modelMask(images, gridImage, config, cancel)
        summary["domainWarnings"] = list(provenance.get("domainWarnings") or [])
        if provenance.get("modelId"):
            summary["model"] = {"modelId": provenance["modelId"], "version": provenance.get("modelVersion")}
    voxelMm3 = float(np.prod(grid.GetSpacing()))
    count = int(np.count_nonzero(sitk.GetArrayViewFromImage(tumour)))
    if count == 0:
        raise InputError(
            f"The {summary['segmentationSource']} segmentation of {gridImage.name} is empty; check the image "
            "(is it the right sequence?), the model, or the mask's label."
        )
    summary["volumeMm3"] = count * voxelMm3
    if reference is not None and section.source == "both":
        metrics = computeMetrics(reference, tumour)
        summary["dice"] = _finite(metrics.dsc)
        summary["hausdorff95Mm"] = _finite(metrics.hd95Mm)
        summary["referenceVolumeMm3"] = int(np.count_nonzero(sitk.GetArrayViewFromImage(reference))) * voxelMm3
    writeImageAtomically(tumour, target)
    return summary


def extractCase(
    images: dict[str, pathlib.Path],
    segmentation: pathlib.Path,
    target: pathlib.Path,
    config: PipelineConfig,
    cancel: CancelToken | None,
) -> int:
    """Radiomics of each ``config.extract.sequences`` image in the mask into ``target`` (``feature,value`` CSV).

    Features are named ``<sequence>_<pyradiomics name>``; shape features, which depend only on the mask, come
    once, from the first sequence. A mask on another grid than a sequence is put on it (nearest neighbour).

    :returns: the number of features.
    """
    extraction = config.extract.settings
    classes = extraction.featureClasses or extraction.settings().featureClasses()
    withoutShape = extraction.replace(featureClasses=[name for name in classes if name != "shape"])
    tumour = sitk.ReadImage(str(segmentation))
    features: dict[str, float] = {}
    scene = createScene()
    try:
        extractor = ExtractionLogic(scene)
        for index, sequence in enumerate(config.extract.sequences):
            volume = loadVolume(images[sequence], scene, name=sequence)
            onGrid = _onGrid(tumour, volumeNodeToImage(volume))
            segmentationNode = labelmapImageToSegmentation(onGrid, scene, "tumour", referenceVolume=volume)
            table = extractor.run(volume, segmentationNode, extraction if index == 0 else withoutShape, cancel=cancel)
            frame = tableNodeToDataFrame(table)
            features.update(
                {f"{sequence}_{name}": float(value) for name, value in zip(frame["Feature"], frame["Value"])}
            )
    finally:
        scene.Clear(True)
    table = pd.DataFrame({"feature": list(features), "value": list(features.values())})
    writeTextAtomically(table.to_csv(index=False, float_format="%.17g"), target)
    return len(features)


def readCaseFeatures(path: pathlib.Path) -> dict[str, float]:
    """The ``feature,value`` table :func:`extractCase` wrote, as a dict in its order."""
    table = pd.read_csv(path, dtype={"feature": str}, float_precision="round_trip")
    return dict(zip(table["feature"], table["value"].astype(float)))


def saveCaseScene(
    patient: str,
    images: dict[str, pathlib.Path],
    harmonized: dict[str, pathlib.Path],
    segmentation: pathlib.Path | None,
    referenceMask: pathlib.Path | None,
    label: int | None,
    features: pathlib.Path | None,
    target: pathlib.Path,
    config: PipelineConfig,
) -> None:
    """The patient's scene: images, harmonized images, the segmentation, the reference and the features,
    under patient → study ``MR`` in the subject hierarchy, with each stage's settings in its module's node."""
    scene = createScene()
    try:
        volumes = {name: loadVolume(path, scene, name=f"{patient}_{name}") for name, path in images.items()}
        nodes: list[Any] = list(volumes.values())
        nodes += [loadVolume(path, scene, name=f"{patient}_{name}_harmonized") for name, path in harmonized.items()]
        gridNode = nodes[-1] if harmonized else volumes[config.segment.sequence]
        gridImage = volumeNodeToImage(gridNode)
        if segmentation is not None:
            tumour = _onGrid(sitk.ReadImage(str(segmentation)), gridImage)
            nodes.append(
                labelmapImageToSegmentation(tumour, scene, f"{patient}_tumour", gridNode, segmentNames=["Tumour"])
            )
        if referenceMask is not None:
            reference = _manifestMask(referenceMask, label, gridImage)
            nodes.append(
                labelmapImageToSegmentation(
                    reference, scene, f"{patient}_reference", gridNode, segmentNames=["Reference"]
                )
            )
        if features is not None:
            frame = pd.DataFrame(readCaseFeatures(features).items(), columns=["Feature", "Value"])
            nodes.append(dataFrameToTableNode(frame, scene, f"{patient}_features"))
        placeInSubjectHierarchy(scene, nodes, patient=patient, study="MR")
        stageConfigs = {
            "harmonize": config.harmonize.normalization,
            "segment": config.segment.settings,
            "extract": config.extract.settings,
        }
        for stage, (moduleName, pack) in STAGE_MODULES.items():
            saveStageConfig(scene, moduleName, stageConfigs[stage], pack=pack)
        saveScene(scene, target, overwrite=True)
    finally:
        scene.Clear(True)


def writeJson(value: Any, path: pathlib.Path) -> pathlib.Path:
    """``value`` as indented JSON, atomically."""
    return writeTextAtomically(json.dumps(value, indent=2, allow_nan=False, default=str) + "\n", path)


def _modelMask(
    images: dict[str, pathlib.Path], gridImage: pathlib.Path, config: PipelineConfig, cancel: CancelToken | None
) -> tuple[sitk.Image, dict]:
    """The model's (or threshold method's) tumour mask, all labels together, on ``gridImage``'s grid."""
    from VirtualBiopsy.workers.inlineRunner import InlineRunner

    settings = config.segment.settings
    scene = createScene()
    try:
        gridNode = loadVolume(gridImage, scene, name="grid")
        logic = SegmentationLogic(scene, runner=InlineRunner())
        if settings.method == "model":
            volumes = {name: loadVolume(path, scene, name=name) for name, path in images.items()}
            result = logic.runModel(volumes, settings, cancel=cancel)
            segmentation, provenance = result.segmentation, result.provenance
        else:
            segmentation, provenance = logic.run(gridNode, settings, cancel=cancel), {}
        labels, _ = segmentationToLabelmapImage(segmentation, gridNode)
        return sitk.Cast(labels > 0, sitk.sitkUInt8), dict(provenance)
    finally:
        scene.Clear(True)


def _readImage(path: pathlib.Path) -> sitk.Image:
    """An image file, or a DICOM series folder read as the scenes read it (:func:`loadVolume`)."""
    if not path.is_dir():
        return sitk.ReadImage(str(path))
    scene = createScene()
    try:
        return volumeNodeToImage(loadVolume(path, scene, name="grid"))
    finally:
        scene.Clear(True)


def _manifestMask(path: pathlib.Path, label: int | None, grid: sitk.Image) -> sitk.Image:
    """The manifest's mask as 0/1 (``label``'s voxels, or every non-zero voxel) on ``grid`` (nearest neighbour)."""
    mask = sitk.ReadImage(str(path))
    if mask.GetDimension() != 3 or mask.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(f"Mask {path} is not a 3D label map; give one label image per patient.")
    binary = sitk.Cast((mask == label) if label is not None else (mask != 0), sitk.sitkUInt8)
    onGrid = _onGrid(binary, grid)
    if not sitk.GetArrayViewFromImage(onGrid).any():
        which = f"label {label}" if label is not None else "any label"
        raise InputError(
            f"Mask {path} has no voxel of {which} inside the image; check the mask's label (the manifest's "
            "'label' column) and that the mask belongs to this image."
        )
    return onGrid


def _onGrid(mask: sitk.Image, grid: sitk.Image) -> sitk.Image:
    """``mask`` resampled onto ``grid`` with nearest neighbour, unless it is on it already."""
    if not gridDifferences(mask, grid):
        return mask
    return sitk.Resample(mask, grid, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)


def _finite(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)
