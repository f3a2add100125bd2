"""Feature exploration on table nodes: a features table and a clinical table in, the files of
:func:`~VirtualBiopsy.extract.exploration.report.exploreFeatures` in a new folder, and table nodes
of its main results out.

Output table nodes (created only after every file is written, one set per run) carry the
feature as a column (``feature``) and otherwise the columns of the CSV files: the univariate
tests (``univariate.csv``), the basic statistics (``statistics.csv``) and, when the features
hold a tumour volume, the correlation with it (``volume_correlation.csv``).
"""

from __future__ import annotations

import datetime
import logging
import pathlib
import secrets
import tempfile
from dataclasses import dataclass

import pandas as pd

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.extract.exploration.config import ExplorationConfig
from VirtualBiopsy.extract.exploration.report import exploreFeatures
from VirtualBiopsy.extract.exploration.tables import PATIENT_COLUMN
from VirtualBiopsy.mrml.tables import dataFrameToTableNode, tableNodeToDataFrame
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

logger = logging.getLogger(__name__)

#: Table node attribute holding the output folder of the run that made the table.
OUTPUT_FOLDER_ATTRIBUTE = "VirtualBiopsy.exploration.outputFolder"


@dataclass
class ExplorationNodes:
    """What :meth:`ExplorationLogic.run` produced.

    :ivar univariate: table node: Mann–Whitney U, p, Bonferroni p, AUC and direction per feature.
    :ivar statistics: table node: basic statistics per feature, overall and per class.
    :ivar volumeCorrelation: table node of Spearman ρ with tumour volume, or ``None`` without a volume feature.
    :ivar summary: the content of ``summary.json`` (classes, counts, flagged features, notes).
    :ivar outputFolder: the folder holding every file of the run.
    :ivar files: file role → path (see :func:`~VirtualBiopsy.extract.exploration.report.exploreFeatures`).
    """

    univariate: object
    statistics: object
    volumeCorrelation: object | None
    summary: dict
    outputFolder: pathlib.Path
    files: dict[str, pathlib.Path]

    @property
    def significantFeatures(self) -> list[str]:
        """Features whose Bonferroni-corrected p-value is below the significance level."""
        return list(self.summary["significantFeatures"])

    @property
    def volumeCorrelatedFeatures(self) -> list[str]:
        """Features flagged for their correlation with tumour volume."""
        return list(self.summary["volumeCorrelatedFeatures"])


class ExplorationLogic:
    """Explore the features of a cohort against a two-class outcome.

    :param scene: the MRML scene that holds the input tables and receives the output tables.
    """

    def __init__(self, scene) -> None:
        self.scene = scene

    def run(
        self,
        featuresTable,
        clinicalTable,
        config: ExplorationConfig,
        patientColumn: str = PATIENT_COLUMN,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> ExplorationNodes:
        """Compare the features of ``featuresTable`` between the classes of ``config.outcomeColumn``.

        :param featuresTable: one row per patient: ``patientColumn``, feature columns (``label`` and
            ``diagnostics_*`` columns are ignored).
        :param clinicalTable: one row per patient: ``patientColumn`` and the outcome column.
        :param config: the settings; an empty ``outputFolder`` gets a new folder in the system's
            temporary folder.
        :raises InputError: for a missing table or column, an outcome without exactly two classes,
            an existing non-empty output folder, or another input the library refuses; nothing is
            written and no node is added.
        :raises CancelledError: when ``cancel`` is set; nothing is written and no node is added.
        """
        progress = progress or noProgress
        features = _frameOf(featuresTable, "features")
        clinical = _frameOf(clinicalTable, "clinical")
        column = config.outcomeColumn
        options = config.explorationOptions(clinical[column] if column in clinical.columns else None)
        outDir = pathlib.Path(config.outputFolder).expanduser() if config.outputFolder else newTemporaryFolder()
        result = exploreFeatures(
            features,
            clinical,
            column,
            outDir,
            options,
            patientColumn,
            progress=lambda fraction, message: progress(0.95 * fraction, message),
            cancel=cancel,
        )
        prefix = f"Exploration_{column}"
        univariate = self._table(result.univariate.reset_index(), f"{prefix}_univariate", outDir)
        statistics = self._table(result.statistics, f"{prefix}_statistics", outDir)
        volume = None
        if result.volumeCorrelation is not None:
            volume = self._table(result.volumeCorrelation.reset_index(), f"{prefix}_volumeCorrelation", outDir)
        summary = result.summary
        progress(
            1.0,
            f"{len(summary['significantFeatures'])} of {summary['featuresAnalysed']} features significant; "
            f"results in {outDir}",
        )
        logger.info("Exploration of '%s' written to %s", column, outDir)
        return ExplorationNodes(
            univariate=univariate,
            statistics=statistics,
            volumeCorrelation=volume,
            summary=summary,
            outputFolder=outDir,
            files=dict(result.files),
        )

    def _table(self, frame: pd.DataFrame, name: str, outDir: pathlib.Path):
        node = dataFrameToTableNode(frame.reset_index(drop=True), self.scene, self.scene.GenerateUniqueName(name))
        node.SetAttribute(OUTPUT_FOLDER_ATTRIBUTE, str(outDir))
        return node


def newTemporaryFolder(prefix: str = "VirtualBiopsy-exploration") -> pathlib.Path:
    """A path in the system's temporary folder that does not exist yet (the run creates it)."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    while True:
        path = pathlib.Path(tempfile.gettempdir()) / f"{prefix}-{stamp}-{secrets.token_hex(3)}"
        if not path.exists():
            return path


def _frameOf(tableNode, what: str) -> pd.DataFrame:
    if tableNode is None:
        raise InputError(f"No {what} table was given; select the {what} table node.")
    return tableNodeToDataFrame(tableNode)
