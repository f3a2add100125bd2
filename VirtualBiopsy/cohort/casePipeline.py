"""The walking pipeline on one patient: load, harmonize, segment, extract, save the scene."""

from __future__ import annotations

import logging
import pathlib
from dataclasses import dataclass

from VirtualBiopsy.cohort.pipelineConfig import PipelineConfig
from VirtualBiopsy.errors import InputError
from VirtualBiopsy.extract.logic import ExtractionLogic
from VirtualBiopsy.harmonize.logic import HarmonizationLogic
from VirtualBiopsy.mrml.hierarchy import placeInSubjectHierarchy
from VirtualBiopsy.mrml.parameters import saveStageConfig
from VirtualBiopsy.mrml.scene import createScene
from VirtualBiopsy.mrml.segmentations import segmentMaskImage
from VirtualBiopsy.mrml.storage import loadSegmentation, loadVolume, saveScene
from VirtualBiopsy.mrml.tables import tableNodeToDataFrame
from VirtualBiopsy.progress import CancelToken
from VirtualBiopsy.segment.logic import SegmentationLogic
from VirtualBiopsy.segment.overlap import diceCoefficient

logger = logging.getLogger(__name__)

#: Module names under which each stage's settings are stored in the scene.
STAGE_MODULES = {
    "harmonization": "VirtualBiopsyHarmonization",
    "segmentation": "VirtualBiopsySegmentation",
    "extraction": "VirtualBiopsyOutcome",
}


@dataclass
class CaseResult:
    """What the pipeline produced for one patient."""

    patient: str
    features: dict[str, float]
    dice: float | None
    scenePath: pathlib.Path


def runCase(
    patient: str,
    sequences: dict[str, pathlib.Path],
    mask: pathlib.Path | None,
    sceneFolder: pathlib.Path,
    config: PipelineConfig,
    sequence: str = "T1c",
    cancel: CancelToken | None = None,
) -> CaseResult:
    """Run harmonize → segment → extract on ``sequence`` of one patient and save a ``.mrb``.

    The scene holds every loaded sequence, the harmonized volume, the automatic
    segmentation, the ground truth (when ``mask`` is given), the feature table and
    the stage settings, under patient → study in the subject hierarchy.

    :returns: the features, the Dice coefficient against ``mask`` and the scene path.
    """
    if sequence not in sequences:
        raise InputError(
            f"Patient {patient} has no {sequence} image (has: {', '.join(sequences)}); add a {sequence} column to the manifest."
        )
    scene = createScene()
    volumes = {name: loadVolume(path, scene, name=f"{patient}_{name}") for name, path in sequences.items()}
    source = volumes[sequence]
    harmonized = HarmonizationLogic(scene).run(source, config.harmonization, cancel=cancel)
    segmentation = SegmentationLogic(scene).run(harmonized, config.segmentation, cancel=cancel)
    table = ExtractionLogic(scene).run(harmonized, segmentation, config.extraction, cancel=cancel)
    frame = tableNodeToDataFrame(table)
    features = dict(zip(frame["Feature"], frame["Value"].astype(float)))

    nodes = [*volumes.values(), harmonized, segmentation, table]
    dice = None
    if mask is not None:
        truth = loadSegmentation(mask, scene, referenceVolume=source, name=f"{patient}_groundTruth")
        nodes.append(truth)
        truthId = truth.GetSegmentation().GetNthSegmentID(0)
        dice = diceCoefficient(
            segmentMaskImage(segmentation, segmentation.GetSegmentation().GetNthSegmentID(0), source),
            segmentMaskImage(truth, truthId, source),
        )
    placeInSubjectHierarchy(scene, nodes, patient=patient, study="MR")
    for section, moduleName in STAGE_MODULES.items():
        saveStageConfig(scene, moduleName, getattr(config, section))
    scenePath = saveScene(scene, sceneFolder / f"{patient}.mrb")
    scene.Clear(True)
    return CaseResult(patient=patient, features=features, dice=dice, scenePath=scenePath)
