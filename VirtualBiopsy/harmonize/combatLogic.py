"""ComBat on table nodes: a cohort feature table and a clinical table of one scene."""

from __future__ import annotations

import json
import logging

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.harmonize.combat import ComBatModel
from VirtualBiopsy.harmonize.combat.cohortTables import fitTables, harmonizeTable
from VirtualBiopsy.harmonize.combatConfig import ComBatConfig
from VirtualBiopsy.mrml.tables import dataFrameToTableNode, tableNodeToDataFrame
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

logger = logging.getLogger(__name__)

#: Attribute of a harmonized table node: the model's method, batches, reference batch and input hash (JSON).
MODEL_ATTRIBUTE = "VirtualBiopsy.combat"


class ComBatLogic:
    """Fit ComBat on a cohort table node and harmonize table nodes with it, with the settings of a
    :class:`~VirtualBiopsy.harmonize.combatConfig.ComBatConfig`.

    :param scene: the MRML scene that holds the input tables and receives the outputs.
    """

    def __init__(self, scene) -> None:
        self.scene = scene

    def fit(
        self,
        featureTableNode,
        clinicalTableNode,
        config: ComBatConfig,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> ComBatModel:
        """Fit ComBat as ``config`` says on the features of ``featureTableNode`` (every column but ``patient``
        and ``config.passThroughColumns``).

        :raises InputError: see :func:`~VirtualBiopsy.harmonize.combat.cohortTables.fitTables`.
        """
        config.validate()
        features = tableNodeToDataFrame(featureTableNode)
        clinical = tableNodeToDataFrame(clinicalTableNode)
        return fitTables(features, clinical, progress=progress or noProgress, cancel=cancel, **config.fitArguments())

    def apply(
        self,
        model: ComBatModel,
        featureTableNode,
        clinicalTableNode,
        config: ComBatConfig,
        outputTableNode=None,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ):
        """Write ``featureTableNode`` with the model's features harmonized into ``outputTableNode``, with the batch
        of each patient in ``config.batchColumn`` of ``clinicalTableNode`` (``config.unseenBatch`` for a batch the
        model does not know).

        :param outputTableNode: the table to fill (replaced), or ``None`` for a new node named
            ``<input>_combat``; never one of the inputs.
        :returns: the output table node; same columns and rows as the input, other columns unchanged.
        :raises InputError: when the output is an input node, or for anything
            :func:`~VirtualBiopsy.harmonize.combat.cohortTables.harmonizeTable` refuses.
        """
        config.validate()
        progress = progress or noProgress
        if outputTableNode is not None and outputTableNode in (featureTableNode, clinicalTableNode):
            raise InputError(
                f"The output table '{outputTableNode.GetName()}' is an input table; inputs are never "
                "modified. Choose another output table or none (a new one is made)."
            )
        progress(0.0, "ComBat: reading tables")
        features = tableNodeToDataFrame(featureTableNode)
        clinical = tableNodeToDataFrame(clinicalTableNode)
        if cancel:
            cancel.raiseIfCancelled()
        harmonized = harmonizeTable(model, features, clinical, **config.applyArguments())
        if cancel:
            cancel.raiseIfCancelled()
        name = outputTableNode.GetName() if outputTableNode else f"{featureTableNode.GetName()}_combat"
        outputTableNode = dataFrameToTableNode(harmonized, self.scene, name, tableNode=outputTableNode)
        outputTableNode.SetAttribute(
            MODEL_ATTRIBUTE,
            json.dumps(
                {
                    "method": model.method,
                    "batchName": model.batchName,
                    "batches": list(model.batches),
                    "referenceBatch": model.referenceBatch,
                    "unseenBatch": config.unseenBatch,
                    "inputHash": model.inputHash,
                }
            ),
        )
        progress(1.0, "ComBat done")
        return outputTableNode

    def harmonize(
        self,
        featureTableNode,
        clinicalTableNode,
        config: ComBatConfig,
        outputTableNode=None,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ):
        """Fit ComBat on a cohort and harmonize that cohort (the module's one-click use); save the model to
        ``config.combatModelFile`` when it is set.

        The model file must not exist yet (checked before fitting, so a refused file adds nothing to the scene).

        :returns: ``(model, output table node)``.
        """
        config.validate()
        modelFile = config.modelPath
        if modelFile is not None:
            if modelFile.exists():
                raise InputError(
                    f"ComBat model file {modelFile} exists already; nothing is overwritten. Choose a new name."
                )
            if not modelFile.parent.is_dir():
                raise InputError(f"The folder of the ComBat model file {modelFile} does not exist; create it first.")
        progress = progress or noProgress
        model = self.fit(
            featureTableNode,
            clinicalTableNode,
            config,
            progress=lambda fraction, message: progress(0.8 * fraction, message),
            cancel=cancel,
        )
        output = self.apply(
            model,
            featureTableNode,
            clinicalTableNode,
            config,
            outputTableNode,
            progress=lambda fraction, message: progress(0.8 + 0.2 * fraction, message),
            cancel=cancel,
        )
        if modelFile is not None:
            try:
                model.save(modelFile)
            except BaseException:
                if outputTableNode is None:
                    self.scene.RemoveNode(output)
                raise
        return model, output
