"""QA of a cohort: every case of a QA manifest compared, bad cases recorded and skipped.

File reading is passed in (``readMask``, ``readProbabilities``), so this module
stays free of MRML; ``virtual-biopsy qa`` passes readers that also take Slicer
``.seg.nrrd`` files.
"""

from __future__ import annotations

import logging
import pathlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd
import SimpleITK as sitk

from VirtualBiopsy.errors import VirtualBiopsyError
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress
from VirtualBiopsy.segment.qa.cohortTables import (
    SUMMARY_COLUMNS,
    caseMetricRows,
    metricsTable,
    summarizeMetrics,
)
from VirtualBiopsy.segment.qa.metrics import DEFAULT_TOLERANCE_MM
from VirtualBiopsy.segment.qa.qaManifest import QaCase

logger = logging.getLogger(__name__)

#: ``readMask(path, what)`` → 0/1 mask image; ``what`` names the file in messages (e.g. ``"prediction"``).
MaskReader = Callable[[pathlib.Path, str], sitk.Image]
#: Columns of the failures table.
FAILURE_COLUMNS = ("patient", "error")


@dataclass
class CohortQaResult:
    """The metrics of every case that could be compared, and why the others could not.

    :ivar metrics: one row per case and pair (see :mod:`.cohortTables`).
    :ivar failures: ``patient``, ``error`` (``"<ErrorType>: <message>"``), one row per failed case.
    """

    metrics: pd.DataFrame
    failures: pd.DataFrame

    @property
    def summary(self) -> pd.DataFrame:
        """Median, quartiles, mean, SD and n per pair and metric (empty without metrics)."""
        if self.metrics.empty:
            return pd.DataFrame(columns=list(SUMMARY_COLUMNS))
        return summarizeMetrics(self.metrics)


def compareCohort(
    cases: Sequence[QaCase],
    readMask: MaskReader,
    readProbabilities: Callable[[pathlib.Path], sitk.Image] | None = None,
    toleranceMm: float = DEFAULT_TOLERANCE_MM,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> CohortQaResult:
    """Compare every case; a case with problems, an unreadable file or masks on different grids is
    recorded in :attr:`CohortQaResult.failures` and the others go on.

    :param readProbabilities: reader of probability maps (cases with one are compared without AUC when ``None``).
    :raises CancelledError: when ``cancel`` is set between cases.
    """
    progress = progress or noProgress
    rows: list[dict] = []
    failures: list[dict] = []
    for index, case in enumerate(cases):
        if cancel:
            cancel.raiseIfCancelled()
        progress(index / max(len(cases), 1), f"case {index + 1}/{len(cases)}")
        if case.problems:
            failures.append({"patient": case.patient, "error": "InputError: " + " ".join(case.problems)})
            continue
        try:
            masks = {rater: readMask(path, f"reference '{rater}'") for rater, path in case.references.items()}
            assert case.prediction is not None, "a case without a prediction has problems"
            prediction = readMask(case.prediction, "prediction")
            probabilities = (
                readProbabilities(case.probabilities)
                if case.probabilities is not None and readProbabilities is not None
                else None
            )
            rows += caseMetricRows(case.patient, masks, prediction, probabilities, toleranceMm)
        except (VirtualBiopsyError, RuntimeError, OSError) as error:
            logger.info("Case %d of %d could not be compared (%s).", index + 1, len(cases), type(error).__name__)
            failures.append({"patient": case.patient, "error": f"{type(error).__name__}: {error}"})
    progress(1.0, f"{len(cases) - len(failures)} of {len(cases)} case(s) compared")
    return CohortQaResult(metricsTable(rows), pd.DataFrame(failures, columns=list(FAILURE_COLUMNS)))
