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
#: The parameter pack of the module's parameter node that holds a stage's settings (absent: a flat node).
STAGE_PACKS = {
    "harmonization": "normalization",
    "segmentation": "segmentation",
    "extraction": "features",
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
    cancel: CancelToken | None = None,
) -> CaseResult:
    """Harmonize the sequences, segment the tumour, extract features and save ``<patient>.mrb``.

    The scene holds every loaded sequence, the harmonized ones, the automatic
    segmentation, the ground truth (when ``mask`` is given), one feature table per
    feature sequence and the stage settings, under patient → study "MR" in the
    subject hierarchy.

    :returns: the features, the Dice coefficient against ``mask`` and the scene path.
    :raises InputError: when a sequence the config names is missing for this patient.
    """
    cohortConfig = config.cohort
    needed = [cohortConfig.segmentationSequence, *cohortConfig.featureSequences]
    missing = [name for name in dict.fromkeys(needed) if name not in sequences]
    if missing:
        raise InputError(
            f"Patient {patient} has no {', '.join(missing)} image (has: {', '.join(sequences) or 'none'}); "
            "add the column to the manifest or change the cohort settings' sequences."
        )
    scene = createScene()
    volumes = {name: loadVolume(path, scene, name=f"{patient}_{name}") for name, path in sequences.items()}
    reference = volumes[cohortConfig.segmentationSequence]
    truth = (
        None
        if mask is None
        else loadSegmentation(mask, scene, referenceVolume=reference, name=f"{patient}_groundTruth")
    )
    harmonizer = HarmonizationLogic(scene)
    harmonized = {
        name: harmonizer.run(volumes[name], config.harmonization, cancel=cancel) for name in dict.fromkeys(needed)
    }
    segmentation = _segment(scene, volumes, harmonized[cohortConfig.segmentationSequence], config, cancel)
    nodes = [*volumes.values(), *harmonized.values(), segmentation]

    features: dict[str, float] = {}
    extractor = ExtractionLogic(scene)
    # One table per sequence (pyradiomics' names); shape features, which depend only on the mask, once.
    classes = config.extraction.featureClasses or config.extraction.settings().featureClasses()
    withoutShape = config.extraction.replace(featureClasses=[c for c in classes if c != "shape"])
    for index, name in enumerate(cohortConfig.featureSequences):
        extraction = config.extraction if index == 0 else withoutShape
        table = extractor.run(harmonized[name], segmentation, extraction, cancel=cancel)
        frame = tableNodeToDataFrame(table)
        features.update({f"{name}_{feature}": float(value) for feature, value in zip(frame["Feature"], frame["Value"])})
        nodes.append(table)

    dice = None
    if truth is not None:
        nodes.append(truth)
        dice = diceCoefficient(
            segmentMaskImage(segmentation, segmentation.GetSegmentation().GetNthSegmentID(0), reference),
            segmentMaskImage(truth, truth.GetSegmentation().GetNthSegmentID(0), reference),
        )
    placeInSubjectHierarchy(scene, nodes, patient=patient, study="MR")
    for section, moduleName in STAGE_MODULES.items():
        saveStageConfig(scene, moduleName, getattr(config, section), pack=STAGE_PACKS.get(section))
    scenePath = saveScene(scene, sceneFolder / f"{patient}.mrb")
    scene.Clear(True)
    return CaseResult(patient=patient, features=features, dice=dice, scenePath=scenePath)


def _segment(scene, volumes: dict, harmonizedReference, config: PipelineConfig, cancel: CancelToken | None):
    """The threshold method segments the harmonized reference sequence; an AI model gets the
    sequences it was trained on, as acquired (it normalizes them itself), and runs in this
    process: a batch already runs outside the user's application."""
    if config.segmentation.method != "model":
        return SegmentationLogic(scene).run(harmonizedReference, config.segmentation, cancel=cancel)
    from VirtualBiopsy.workers.inlineRunner import InlineRunner

    return SegmentationLogic(scene, runner=InlineRunner()).run(volumes, config.segmentation, cancel=cancel)
