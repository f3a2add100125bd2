"""Settings of the training logics: the nnU-Net raw dataset an export writes, and what a training run
trains on, how, and how the trained model describes itself.

:class:`TrainingConfig` is the one config of ``virtual-biopsy train``,
:meth:`TrainingLogic.train <VirtualBiopsy.segment.training.logic.TrainingLogic.train>` and
:func:`~VirtualBiopsy.segment.training.modelTraining.trainModel`; :class:`DatasetExportConfig` that of
the dataset exports.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.segment.training.trainingSettings import NnunetTrainingSettings
from VirtualBiopsy.settings import StageConfig

#: nnU-Net's label map when none is given: background and one tumour label.
DEFAULT_LABELS = {"background": 0, "tumour": 1}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-]*$")
_SEQUENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]*$")


def datasetFolderName(datasetId: int, name: str) -> str:
    """``DatasetNNN_Name`` as nnU-Net names raw datasets.

    :raises InputError: for an id outside 1–999 or a name with characters other than letters, digits and '-'.
    """
    if isinstance(datasetId, bool) or not isinstance(datasetId, int) or not 1 <= datasetId <= 999:
        raise InputError(
            f"nnU-Net dataset id {datasetId!r} is not a whole number from 1 to 999; choose one "
            "(ids above 500 are conventionally free of public datasets)."
        )
    if not _NAME.match(name or ""):
        raise InputError(
            f"nnU-Net dataset name {name!r} must start with a letter or digit and contain only letters, "
            "digits and '-'; e.g. 'VirtualCohort'."
        )
    return f"Dataset{datasetId:03d}_{name}"


def checkedLabels(labels: Mapping[str, int]) -> dict[str, int]:
    """``labels`` as a dict after nnU-Net's rules: ``background`` 0, distinct consecutive whole numbers.

    :raises InputError: naming the rule the labels break.
    """
    if not isinstance(labels, Mapping):
        raise InputError(f"Labels {labels!r} must map label names to values, e.g. {DEFAULT_LABELS}.")
    labels = dict(labels)
    values = list(labels.values())
    if labels.get("background") != 0:
        raise InputError(f"Labels {labels} must map 'background' to 0 (nnU-Net requires it); add \"background\": 0.")
    if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in values) or len(set(values)) != len(values):
        raise InputError(f"Labels {labels} must map each name to a distinct whole number ≥ 0.")
    if sorted(values) != list(range(len(values))):
        raise InputError(
            f"Label values {sorted(values)} must be consecutive from 0 (nnU-Net requires it); "
            f"renumber them 0..{len(values) - 1}."
        )
    return labels


def checkedSequences(sequences: Sequence[str]) -> list[str]:
    """``sequences`` as a list of distinct channel names.

    :raises InputError: for no sequence, a repeated one or a name with other characters than letters, digits, '.', '-'.
    """
    sequences = list(sequences)
    if not sequences:
        raise InputError("No sequence given; name the input channels, e.g. ['FLAIR', 'T1c'].")
    bad = [s for s in sequences if not isinstance(s, str) or not _SEQUENCE.match(s)]
    if bad or len(set(sequences)) != len(sequences):
        raise InputError(f"Sequences {sequences} must be distinct names of letters, digits, '.' and '-'.")
    return sequences


@dataclass
class DatasetExportConfig(StageConfig):
    """The nnU-Net raw dataset ``DatasetNNN_Name`` an export writes.

    :ivar datasetId: nnU-Net dataset id, 1–999.
    :ivar datasetName: letters, digits and '-'.
    :ivar sequences: the input channels, in order (every case must have them).
    :ivar labels: ``{name: value}``, ``background`` 0, consecutive values.
    """

    datasetId: int = 500
    datasetName: str = "VirtualBiopsy"
    sequences: list[str] = field(default_factory=lambda: ["FLAIR"])
    labels: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_LABELS))

    def validate(self) -> None:
        """Check every field (:class:`InputError` naming the bad one)."""
        self.folderName()
        checkedSequences(self.sequences)
        checkedLabels(self.labels)

    def folderName(self) -> str:
        """``DatasetNNN_Name``."""
        return datasetFolderName(self.datasetId, self.datasetName)


@dataclass
class TrainingConfig(NnunetTrainingSettings):
    """How nnU-Net trains (the fields of :class:`NnunetTrainingSettings`), on which channels and labels,
    and what the trained model's ``dataset.json`` says about it.

    :ivar sequences: the input channels, in order.
    :ivar labels: ``{name: value}`` with ``background`` 0.
    :ivar datasetId: id of the intermediate nnU-Net raw dataset.
    :ivar modelName: short name of the model (also the dataset's name, with other characters than letters,
        digits and '-' replaced).
    :ivar modelDescription: one sentence for the model list.
    :ivar licence: licence of the weights (SPDX identifier).
    :ivar source: where the model comes from (data, script, seed).
    :ivar version: the model's version.
    """

    sequences: list[str] = field(default_factory=lambda: ["FLAIR"])
    labels: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_LABELS))
    datasetId: int = 500
    modelName: str = "VirtualBiopsy"
    modelDescription: str = "nnU-Net model trained with virtual-biopsy train"
    licence: str = ""
    source: str = ""
    version: str = "1"

    def validate(self) -> None:
        """Check every field (:class:`InputError` naming the bad one)."""
        super().validate()
        self.exportConfig()

    def exportConfig(self) -> DatasetExportConfig:
        """The export of the training cases (dataset named after :attr:`modelName`), validated."""
        datasetName = re.sub(r"[^A-Za-z0-9-]+", "-", self.modelName).strip("-") or "VirtualBiopsy"
        config = DatasetExportConfig(
            datasetId=self.datasetId, datasetName=datasetName, sequences=list(self.sequences), labels=dict(self.labels)
        )
        config.validate()
        return config
