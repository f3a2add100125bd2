"""Training from the scene: volumes and reviewed segmentation nodes → nnU-Net raw dataset → trained model."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from VirtualBiopsy.mrml.images import volumeNodeToImage
from VirtualBiopsy.mrml.segmentations import segmentationToLabelmapImage
from VirtualBiopsy.progress import CancelToken, ProgressCallback
from VirtualBiopsy.segment.training.config import DatasetExportConfig, TrainingConfig
from VirtualBiopsy.segment.training.datasetExport import (
    DatasetExport,
    TrainingCase,
    exportDataset,
)
from VirtualBiopsy.segment.training.modelTraining import TrainingOutcome, trainModel


@dataclass
class NodeCase:
    """One case in the scene.

    :ivar caseId: the case's identifier (written only to the export's ``cases.csv``).
    :ivar volumes: volume node by sequence name.
    :ivar segmentation: the reviewed segmentation node.
    :ivar segmentIds: segments (IDs or names) exported as labels 1, 2, … in this order; all by default.
    """

    caseId: str
    volumes: Mapping[str, object]
    segmentation: object | None
    segmentIds: Sequence[str] | None = None


class TrainingLogic:
    """Export reviewed cases of a scene to nnU-Net and train on them.

    Like the other logics: nodes and a config in, ``progress`` and ``cancel`` keyword arguments.

    :param scene: the MRML scene that holds the nodes.
    :param runner: the :class:`~VirtualBiopsy.workers.runner.WorkerRunner` that trains; a new
        :class:`~VirtualBiopsy.workers.processRunner.ProcessRunner` by default.
    """

    def __init__(self, scene, runner=None) -> None:
        self.scene = scene
        self.runner = runner

    def trainingCases(self, cases: Sequence[NodeCase], sequences: Sequence[str]) -> list[TrainingCase]:
        """:class:`TrainingCase` objects that convert the nodes when exported.

        The mask is the segmentation exported on the first sequence's volume grid; a
        conversion problem (a node under a transform, an empty segmentation) skips that case.
        """
        converted = []
        for case in cases:
            images = {name: _imageOf(node) for name, node in case.volumes.items() if node is not None}
            reference = case.volumes.get(sequences[0]) if sequences else None
            mask = _maskOf(case.segmentation, reference, case.segmentIds) if case.segmentation is not None else None
            converted.append(TrainingCase(case.caseId, images, mask))
        return converted

    def exportDataset(
        self,
        cases: Sequence[NodeCase],
        outRoot: str | os.PathLike,
        config: DatasetExportConfig,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> DatasetExport:
        """Write the cases as the nnU-Net raw dataset ``outRoot/DatasetNNN_Name`` of ``config``
        (see :func:`~VirtualBiopsy.segment.training.datasetExport.exportDataset`)."""
        config.validate()
        return exportDataset(
            self.trainingCases(cases, config.sequences),
            outRoot,
            config,
            caseCount=len(cases),
            progress=progress,
            cancel=cancel,
        )

    def train(
        self,
        cases: Sequence[NodeCase],
        out: str | os.PathLike,
        config: TrainingConfig,
        *,
        resume: bool = False,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> TrainingOutcome:
        """Train nnU-Net on the cases in a worker and write the trained-model folder ``out``; ``resume``
        continues a stopped training of ``out`` (see :func:`~VirtualBiopsy.segment.training.modelTraining.trainModel`)."""
        config.validate()
        return trainModel(
            self.trainingCases(cases, config.sequences),
            out,
            config,
            runner=self.runner,
            progress=progress,
            cancel=cancel,
            resume=resume,
        )


def _imageOf(volumeNode) -> Callable:
    return lambda: volumeNodeToImage(volumeNode)


def _maskOf(segmentationNode, referenceVolume, segmentIds) -> Callable:
    return lambda: segmentationToLabelmapImage(segmentationNode, referenceVolume, segmentIds)[0]
