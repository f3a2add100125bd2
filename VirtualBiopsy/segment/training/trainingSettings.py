"""How nnU-Net training runs: configuration, schedule, fold, device, seed and plan changes.

These are the settings the training worker receives (:meth:`NnunetTrainingSettings.toDict`) and
records in the model's ``training.json``; :class:`~VirtualBiopsy.segment.training.config.TrainingConfig`
adds what the caller's side needs (sequences, labels, the model's description).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.settings import StageConfig

CONFIGURATIONS = ("2d", "3d_fullres", "3d_lowres")
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class NnunetTrainingSettings(StageConfig):
    """How to plan and train.

    :ivar configuration: nnU-Net configuration (``3d_fullres``, ``2d``, ``3d_lowres``).
    :ivar epochs: number of epochs.
    :ivar iterationsPerEpoch: training iterations (batches) per epoch.
    :ivar validationIterationsPerEpoch: batches of the per-epoch pseudo-Dice check.
    :ivar fold: cross-validation fold 0–4, or ``"all"`` (train on every case).
    :ivar device: ``auto`` (CUDA when available), ``cpu`` or ``cuda``.
    :ivar seed: seed of Python's, NumPy's and torch's generators.
    :ivar augmentationProcesses: data-augmentation worker processes (0: in the training process).
    :ivar planOverrides: changes to nnU-Net's plan, see :func:`applyPlanOverrides`
        (``targetSpacing``, ``patchSize``, ``batchSize``, ``featuresPerStage``, ``convolutionsPerStage``).
    """

    configuration: str = "3d_fullres"
    epochs: int = 100
    iterationsPerEpoch: int = 250
    validationIterationsPerEpoch: int = 10
    fold: int | str = "all"
    device: str = "auto"
    seed: int = 0
    augmentationProcesses: int = 0
    planOverrides: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        """Check every field.

        :raises InputError: naming the bad field, its value and the allowed values.
        """
        if self.configuration not in CONFIGURATIONS:
            raise InputError(f"nnU-Net configuration {self.configuration!r} is not one of {', '.join(CONFIGURATIONS)}.")
        for name in ("epochs", "iterationsPerEpoch", "validationIterationsPerEpoch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a whole number ≥ 1, got {value!r}.")
        if self.fold != "all" and (isinstance(self.fold, bool) or self.fold not in range(5)):
            raise InputError(f"fold must be 0–4 or 'all', got {self.fold!r}.")
        if self.device not in DEVICES:
            raise InputError(f"device {self.device!r} is not one of {', '.join(DEVICES)}.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise InputError(f"seed must be a whole number ≥ 0, got {self.seed!r}.")
        if isinstance(self.augmentationProcesses, bool) or self.augmentationProcesses not in range(65):
            raise InputError(f"augmentationProcesses must be 0–64, got {self.augmentationProcesses!r}.")
        if not isinstance(self.planOverrides, dict):
            raise InputError(
                f"planOverrides must be a mapping of plan changes (e.g. {{'batchSize': 2}}), "
                f"got {self.planOverrides!r}."
            )

    def nnunetSettings(self) -> NnunetTrainingSettings:
        """Only the fields of :class:`NnunetTrainingSettings` (what the training worker takes), validated."""
        names = NnunetTrainingSettings.__dataclass_fields__
        return NnunetTrainingSettings.fromDict({name: value for name, value in self.toDict().items() if name in names})
