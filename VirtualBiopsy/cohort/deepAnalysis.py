"""The demo's deep-learning analysis: a small 3D CNN trained on tumour-centred crops, and Grad-CAM maps
of a few patients added to their scenes.

The CNN trains in this process (``InlineRunner``, as the demo's segmentation runs) on the patients the
pipeline processed, with crops centred on the run's tumour masks. Each map is computed by
:class:`~VirtualBiopsy.outcome.deep.logic.DeepOutcomeLogic` on the patient's scene (crop centred on the
automatic segmentation), written as ``<patient>_gradcam.nrrd`` on the grid of the model's first sequence
with three overlay PNGs, and saved with the patient's scene as ``<gradcam>/<patient>/<patient>.mrb``.
"""

from __future__ import annotations

import logging
import pathlib

import numpy as np
import pandas as pd

from VirtualBiopsy.cohort.analysisConfig import DeepLearningConfig
from VirtualBiopsy.cohort.pipelineConfig import PipelineConfig
from VirtualBiopsy.data.manifest import readManifest, writeManifest
from VirtualBiopsy.errors import InputError
from VirtualBiopsy.files import (
    requireNewFolder,
    stagedOutputFolder,
    writeImageAtomically,
)
from VirtualBiopsy.mrml.segmentations import segmentMaskImage
from VirtualBiopsy.mrml.storage import loadScene, saveScene
from VirtualBiopsy.progress import CancelToken

logger = logging.getLogger(__name__)


def gradCamPatients(clinical: pd.DataFrame, config: DeepLearningConfig) -> list[str]:
    """``config.gradCamPatients``, or the first patient of each class of the target, in cohort order.

    :raises InputError: for a named patient that is not in ``clinical`` or an absent target column.
    """
    if config.gradCamPatients:
        absent = [p for p in config.gradCamPatients if p not in clinical.index]
        if absent:
            raise InputError(
                f"deepLearning.gradCamPatients names patient(s) {', '.join(absent)} the run did not "
                "process; name processed patients or leave the list empty."
            )
        return list(config.gradCamPatients)
    if config.targetColumn not in clinical.columns:
        raise InputError(
            f"The clinical table has no column '{config.targetColumn}' (deepLearning.targetColumn); "
            f"it has: {', '.join(map(str, clinical.columns))}."
        )
    first = clinical.reset_index().drop_duplicates(config.targetColumn)
    return [str(p) for p in first.iloc[:, 0]]


def runDeepLearning(
    inputs,
    config: PipelineConfig,
    gradCamFolder: pathlib.Path,
    cnnFolder: pathlib.Path,
    cancel: CancelToken | None = None,
) -> dict:
    """Train the CNN into the new folder ``cnnFolder`` (``manifest.csv``: the patients trained on; ``model/``)
    and map the Grad-CAM patients into the new folder ``gradCamFolder``.

    :returns: the training figures, the model's SHA-256 and the maps' inside/outside ratios.
    """
    from VirtualBiopsy.outcome.deep.modelFolder import loadClassifier
    from VirtualBiopsy.outcome.deep.trainingTask import TASK
    from VirtualBiopsy.workers.inlineRunner import InlineRunner

    deep = config.analyses.deepLearning
    requireNewFolder(gradCamFolder, "Grad-CAM folder")
    patients = gradCamPatients(inputs.clinical, deep)
    cohort = readManifest(inputs.manifestPath, allowOutsidePaths=True)  # the run's check confined its paths
    processed = set(map(str, inputs.features.index))
    with stagedOutputFolder(cnnFolder, "CNN folder") as cnnStaging:
        manifest = writeManifest(
            [
                {"patient": c.patient, "site": c.site, **c.sequences, "mask": c.mask}
                for c in cohort.cases
                if c.patient in processed
            ],
            cnnStaging / "manifest.csv",
        )
        task = {
            "manifest": str(manifest.absolute()),
            "clinical": str(pathlib.Path(inputs.clinicalPath).absolute()),
            "target": deep.targetColumn,
            "out": str((cnnStaging / "model").absolute()),
            "allowOutsidePaths": True,  # the manifest just written from the run's checked cases
            **deep.trainingArguments(),
        }
        training = InlineRunner().run(TASK, task, cancel=cancel)
    model = loadClassifier(cnnFolder / "model")
    rows = []
    with stagedOutputFolder(gradCamFolder, "Grad-CAM folder") as staging:
        for patient in patients:
            scene, row = _gradCamOfPatient(model, patient, inputs, deep, staging)
            saveScene(scene, staging / patient / f"{patient}.mrb")  # the patient's scene with the map
            scene.Clear(True)
            rows.append(row)
        pd.DataFrame(rows).to_csv(staging / "gradcam.csv", index=False)
    ratios = [row["inside_over_outside"] for row in rows if pd.notna(row["inside_over_outside"])]
    cropRatios = [
        row["inside_over_outside_within_crop"] for row in rows if pd.notna(row["inside_over_outside_within_crop"])
    ]
    return {
        "modelSha256": model.entry.sha256,
        "validationAuc": training["validationAuc"],
        "bestEpoch": training["bestEpoch"],
        "epochsRun": training["epochsRun"],
        "settings": deep.toDict(),
        "patients": [row["patient"] for row in rows],
        "meanInsideOverOutside": float(np.mean(ratios)) if ratios else None,
        "meanInsideOverOutsideWithinCrop": float(np.mean(cropRatios)) if cropRatios else None,
        "maps": rows,
    }


def _gradCamOfPatient(model, patient: str, inputs, deep: DeepLearningConfig, staging: pathlib.Path):
    """The map of one patient, written into ``staging``; returns the patient's scene (with the map node) and a
    row of ``gradcam.csv``."""
    from VirtualBiopsy.mrml.images import volumeNodeToImage
    from VirtualBiopsy.outcome.deep.config import DeepOutcomeConfig
    from VirtualBiopsy.outcome.deep.crops import insideCrop, tumourCentre
    from VirtualBiopsy.outcome.deep.gradcam import insideOutsideRatio
    from VirtualBiopsy.outcome.deep.logic import DeepOutcomeLogic
    from VirtualBiopsy.outcome.deep.slicePngs import writeOverlayPngs

    if patient not in inputs.scenes:
        raise InputError(f"Patient {patient} has no scene of the run to map; only finished cases can be mapped.")
    scene = loadScene(inputs.scenes[patient])
    images = {}
    for sequence in model.channels:
        node = scene.GetFirstNodeByName(f"{patient}_{sequence}")
        if node is None:
            raise InputError(f"The scene of patient {patient} has no volume '{patient}_{sequence}' the CNN needs.")
        images[sequence] = node
    truth = scene.GetFirstNodeByName(f"{patient}_reference")
    segmentations = [
        scene.GetNthNodeByClass(i, "vtkMRMLSegmentationNode")
        for i in range(scene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode"))
    ]
    automatic = next((node for node in segmentations if node is not truth), None)
    if automatic is None:
        raise InputError(f"The scene of patient {patient} has no automatic segmentation to centre the crop on.")
    logic = DeepOutcomeLogic(scene)
    node, result = logic.gradCamNode(
        model,
        images,
        automatic,
        DeepOutcomeConfig(gradCamMethod=deep.gradCamMethod),
        subject=patient,
        name=f"{patient}_gradcam",
    )
    row = {
        "patient": patient,
        "target": inputs.clinical.loc[patient, deep.targetColumn],
        "explained_class": result.className,
        "probability": result.probabilities[result.classIndex],
        "method": result.method,
        "layer": result.layer,
        "defined": result.defined,
        "reason": result.reason,
        "tumour_mask": "",
        "inside_over_outside": np.nan,
        "inside_over_outside_within_crop": np.nan,
        "map": "",
    }
    if node is None:
        return scene, row
    assert result.map is not None and result.grid is not None, "computed here and defined"
    reference = images[model.channels[0]]
    tumourNode = truth if truth is not None else automatic
    tumour = segmentMaskImage(tumourNode, tumourNode.GetSegmentation().GetNthSegmentID(0), reference)
    ratio = insideOutsideRatio(result.map, tumour)
    cropRatio = insideOutsideRatio(result.map, tumour, insideCrop(result.grid, result.map))
    mapName = f"{patient}_gradcam.nrrd"
    writeImageAtomically(result.map, staging / mapName)
    writeOverlayPngs(volumeNodeToImage(reference), result.map, tumourCentre(tumour), staging / patient)
    row.update(
        tumour_mask="ground truth" if truth is not None else "automatic segmentation",
        inside_over_outside=np.nan if ratio is None else ratio,
        inside_over_outside_within_crop=np.nan if cropRatio is None else cropRatio,
        map=mapName,
    )
    return scene, row
