"""The results of a cohort extraction and the files they are written to.

``features.csv`` (wide: one row per patient, ``patient``, ``label``, then every feature;
an undefined feature is an empty cell), ``features_long.csv`` (``patient``, ``label``,
``sequence``, ``feature``, ``value``), ``failures.csv`` (``patient``, ``error``),
``diagnostics.json`` (pyradiomics' ``diagnostics_*`` by patient) and ``provenance.json``.
The folder is written in a hidden sibling and moved into place at the end: it appears
complete or not at all.
"""

from __future__ import annotations

import json
import os
import pathlib
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

#: The files of a cohort extraction folder.
FILES = ("features.csv", "features_long.csv", "failures.csv", "diagnostics.json", "provenance.json")


@dataclass
class CaseResult:
    """One case of a cohort extraction.

    :ivar patient: the case's identifier.
    :ivar label: the ROI label (``None`` for a case refused before it ran).
    :ivar sequences: the case's sequence names (``[]`` for pyradiomics' own names).
    :ivar value: what :func:`~VirtualBiopsy.extract.cohortCases.extractCase` returned; ``None`` on failure.
    :ivar error: ``"<ErrorType>: <message>"`` on failure, else ``None``.
    :ivar cached: whether the value came from the result cache (no extraction ran).
    :ivar seconds: extraction time (0 for cache hits and cases that never ran).
    :ivar inputs: SHA-256 of each input (``image:<sequence>``, ``mask``).
    :ivar ran: whether its extraction ran in this call (``False`` for cache hits and cases
        refused before running, e.g. for a missing file).
    """

    patient: str
    label: int | None
    sequences: list[str]
    value: dict[str, Any] | None = None
    error: str | None = None
    cached: bool = False
    seconds: float = 0.0
    inputs: dict[str, str] = field(default_factory=dict)
    ran: bool = False

    @property
    def ok(self) -> bool:
        """Whether the case has features."""
        return self.value is not None


@dataclass
class CohortExtractionResult:
    """Every case of a cohort extraction, in input order, and the run's provenance.

    :ivar cases: one :class:`CaseResult` per case.
    :ivar provenance: what :func:`runProvenance` records (settings, versions, executor, cache use, cases).
    :ivar outDir: the folder the tables were written to, or ``None``.
    """

    cases: list[CaseResult]
    provenance: dict[str, Any]
    outDir: pathlib.Path | None = None

    @property
    def succeeded(self) -> list[CaseResult]:
        return [case for case in self.cases if case.ok]

    @property
    def failed(self) -> list[CaseResult]:
        return [case for case in self.cases if not case.ok]

    @property
    def cacheHits(self) -> int:
        """Cases whose features came from the cache."""
        return sum(case.cached for case in self.cases)

    @property
    def computed(self) -> int:
        """Cases whose extraction ran in this call (succeeded or failed)."""
        return sum(case.ran for case in self.cases)

    def wide(self) -> pd.DataFrame:
        """One row per succeeded case: ``patient``, ``label``, then the features in first-seen order
        (NaN for an undefined feature or one the case does not have)."""
        columns: dict[str, None] = {}
        rows = []
        for case in self.succeeded:
            values = {**_valueOf(case)["features"], **{name: None for name in _valueOf(case)["undefined"]}}
            columns.update(dict.fromkeys(values))
            rows.append({"patient": case.patient, "label": case.label, **values})
        frame = pd.DataFrame(rows, columns=["patient", "label", *columns])
        return frame.astype({name: float for name in columns})

    def long(self) -> pd.DataFrame:
        """One row per (case, feature): ``patient``, ``label``, ``sequence``, ``feature`` (pyradiomics'
        name), ``value`` (empty when undefined)."""
        rows = []
        for case in self.succeeded:
            values = {**_valueOf(case)["features"], **{name: None for name in _valueOf(case)["undefined"]}}
            for name, value in values.items():
                sequence, feature = splitFeatureName(name, case.sequences)
                rows.append((case.patient, case.label, sequence, feature, value))
        frame = pd.DataFrame(rows, columns=["patient", "label", "sequence", "feature", "value"])
        return frame.astype({"value": float})

    def failures(self) -> pd.DataFrame:
        """``patient``, ``error`` of every failed case."""
        return pd.DataFrame([(case.patient, case.error) for case in self.failed], columns=["patient", "error"])


def _valueOf(case: CaseResult) -> dict[str, Any]:
    """The value of a succeeded case."""
    assert case.value is not None, "read only for succeeded cases"
    return case.value


def splitFeatureName(name: str, sequences: list[str]) -> tuple[str, str]:
    """``("T1c", "original_glcm_Contrast")`` from ``T1c_original_glcm_Contrast``; ``("", name)`` unprefixed."""
    head, _, rest = name.partition("_")
    return (head, rest) if head in sequences else ("", name)


def writeCohortTables(result: CohortExtractionResult, outDir: str | os.PathLike) -> dict[str, pathlib.Path]:
    """Write :data:`FILES` into the new or empty folder ``outDir``, all or nothing.

    :returns: the written paths by file name.
    :raises InputError: when ``outDir`` is a file or a non-empty folder (nothing is written).
    """
    from VirtualBiopsy.files import stagedOutputFolder

    diagnostics = {case.patient: _valueOf(case)["diagnostics"] for case in result.succeeded}
    texts = {
        "features.csv": result.wide().to_csv(index=False, lineterminator="\n"),
        "features_long.csv": result.long().to_csv(index=False, lineterminator="\n"),
        "failures.csv": result.failures().to_csv(index=False, lineterminator="\n"),
        "diagnostics.json": json.dumps(diagnostics, indent=1, default=str) + "\n",
        "provenance.json": json.dumps(result.provenance, indent=1, default=str) + "\n",
    }
    outDir = pathlib.Path(outDir).expanduser()
    with stagedOutputFolder(outDir, "Extraction folder") as staging:
        for name, text in texts.items():
            (staging / name).write_text(text, encoding="utf-8", newline="\n")
    result.outDir = outDir
    return {name: outDir / name for name in FILES}
