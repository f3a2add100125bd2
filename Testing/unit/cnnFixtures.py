"""A small virtual cohort and a CNN classifier trained on it once per test module (a few epochs, tiny crops)."""

import pathlib
from dataclasses import dataclass

from VirtualBiopsy.data.virtualCohort import generateCohort
from VirtualBiopsy.models.registry import ModelRegistry
from VirtualBiopsy.outcome.deep.modelFolder import registerModel
from VirtualBiopsy.outcome.deep.trainingTask import TASK
from VirtualBiopsy.workers.inlineRunner import InlineRunner

CASES, SIZE, CROP_SIZE, CROP_SPACING, EPOCHS = 8, 48, 24, 4.0, 3


@dataclass
class TrainedCohort:
    root: pathlib.Path
    manifest: pathlib.Path
    clinical: pathlib.Path
    modelDir: pathlib.Path
    registry: ModelRegistry
    modelId: str
    result: dict


def trainedCohort(root: pathlib.Path) -> TrainedCohort:
    """Generate the cohort under ``root``, train on T1c and FLAIR for grade, register the model as 'cnn-test'."""
    manifest = generateCohort(root / "cohort", cases=CASES, seed=0, size=SIZE)
    clinical = root / "cohort" / "clinical.csv"
    arguments = {
        "manifest": str(manifest),
        "clinical": str(clinical),
        "target": "grade",
        "out": str(root / "model"),
        "sequences": ["T1c", "FLAIR"],
        "cropSize": CROP_SIZE,
        "cropSpacing": CROP_SPACING,
        "epochs": EPOCHS,
        "device": "cpu",
        "seed": 0,
    }
    result = InlineRunner().run(TASK, arguments)
    registry = ModelRegistry(root / "models")
    registerModel(root / "model", registry, "cnn-test")
    return TrainedCohort(root, manifest, clinical, root / "model", registry, "cnn-test", result)
