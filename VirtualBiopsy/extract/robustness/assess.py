"""Robustness assessment of a cohort: perturb every case, re-extract, ICC per feature."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import SimpleITK as sitk

from VirtualBiopsy.errors import CancelledError, InputError, VirtualBiopsyError
from VirtualBiopsy.extract.robustness.perturbations import (
    DEFAULT_PERTURBATIONS,
    PerturbationRanges,
    binaryRoi,
    perturbCase,
)
from VirtualBiopsy.extract.robustness.stability import featureStability
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

logger = logging.getLogger(__name__)

#: ``extractFunction(image, mask) -> {feature: value}``; the ROI is label 1 of the mask.
ExtractFunction = Callable[[sitk.Image, sitk.Image], Mapping[str, float]]
#: A case: its (image, mask), or a function that loads them when the case's turn comes.
CaseSource = tuple[sitk.Image, sitk.Image] | Callable[[], tuple[sitk.Image, sitk.Image]]
#: Errors of one extraction that are recorded as a failure instead of stopping the run.
RECOVERABLE_ERRORS = (VirtualBiopsyError, ValueError, RuntimeError, ArithmeticError)
FAILURE_COLUMNS = ("patient", "stage", "perturbation", "error")
#: Columns of the perturbed-features table that describe the row, before the features.
DESCRIPTION_COLUMNS = (
    "patient",
    "perturbation",
    "chain",
    "rotationDegrees",
    "translationXMm",
    "translationYMm",
    "translationZMm",
    "spacingFactor",
    "noiseSigma",
    "volumeFraction",
    "voxels",
)


@dataclass
class RobustnessResult:
    """What :func:`assessRobustness` found.

    :ivar stability: :func:`~VirtualBiopsy.extract.robustness.stability.featureStability`'s table.
    :ivar perturbedFeatures: one row per (patient, perturbation): ``patient``, ``perturbation``
        (0 for the original image), the perturbation parameters, then the features.
    :ivar failures: ``patient``, ``stage`` (``case``: loading or perturbing, the whole case is left out;
        ``extraction``: one copy is left out), ``perturbation`` and ``error`` of everything that failed.
    """

    stability: pd.DataFrame
    perturbedFeatures: pd.DataFrame
    failures: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(FAILURE_COLUMNS)))


def assessRobustness(
    cases: Mapping[str, CaseSource],
    extractFunction: ExtractFunction,
    perturbations: Sequence[str] = DEFAULT_PERTURBATIONS,
    count: int = 8,
    seed: int = 0,
    ranges: PerturbationRanges = PerturbationRanges(),
    label: int = 1,
    includeOriginal: bool = True,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> RobustnessResult:
    """Perturb each case ``count`` times, extract features from every copy, and compute their ICC(1,1).

    :param cases: patient → (image, mask) or a loader returning them; the ROI is ``mask == label``.
    :param extractFunction: computes features of an image and a 0/1 mask (label 1); injected so
        any extractor (pyradiomics settings, deep features) can be assessed.
    :param seed: with the patient id, seeds each case's perturbations (order-independent).
    :param includeOriginal: also extract the unperturbed case (perturbation 0) and count it as a repeat.
    Cases or copies that fail (unreadable, empty ROI, extractor error) are recorded in
    :attr:`RobustnessResult.failures` and left out; the others go on.

    :raises InputError: when fewer than 2 patients have any extracted copy.
    :raises CancelledError: when ``cancel`` is set (checked before every extraction).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"Robustness seed is {seed!r}; give a whole number, 0 or more.")
    if len(cases) < 2:
        raise InputError(f"Robustness needs at least 2 cases (ICC compares patients); got {len(cases)}.")
    progress = progress or noProgress
    steps = len(cases) * (count + int(includeOriginal))
    rows: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for number, (patient, source) in enumerate(cases.items()):
        done = number * (count + int(includeOriginal))
        progress(done / steps, f"{patient}: perturbing")
        try:
            copies = _perturbedCopies(source, seed, patient, count, perturbations, ranges, label, includeOriginal)
        except CancelledError:
            raise
        except RECOVERABLE_ERRORS as error:
            logger.warning("Case %s could not be perturbed: %s", patient, error)
            failures.append({"patient": patient, "stage": "case", "perturbation": None, "error": str(error)})
            continue
        for offset, (copyImage, copyMask, description) in enumerate(copies):
            if cancel is not None:
                cancel.raiseIfCancelled()
            progress((done + offset) / steps, f"{patient}: extracting perturbation {description['perturbation']}")
            try:
                values = extractFunction(copyImage, copyMask)
            except CancelledError:
                raise
            except RECOVERABLE_ERRORS as error:
                logger.warning(
                    "Extraction failed for %s perturbation %s: %s", patient, description["perturbation"], error
                )
                failures.append(
                    {
                        "patient": patient,
                        "stage": "extraction",
                        "perturbation": description["perturbation"],
                        "error": str(error),
                    }
                )
                continue
            rows.append({"patient": patient, **_flatDescription(description), **_numericFeatures(values, patient)})
    assessed = list(dict.fromkeys(row["patient"] for row in rows))
    if len(assessed) < 2:
        shown = "; ".join(f"{f['patient']}: {f['error'].rstrip('.')}" for f in failures[:3])
        raise InputError(
            f"Only {len(assessed)} of {len(cases)} patients could be perturbed and extracted, and the ICC "
            f"needs 2 or more. First failures: {shown}. Fix those cases or their settings."
        )
    progress(1.0, "Computing ICC per feature")
    table = pd.DataFrame(rows)
    featureColumns = [c for c in table.columns if c not in DESCRIPTION_COLUMNS]
    perCase = {
        patient: group[featureColumns].reset_index(drop=True) for patient, group in table.groupby("patient", sort=False)
    }
    return RobustnessResult(
        stability=featureStability(perCase),
        perturbedFeatures=table,
        failures=pd.DataFrame(failures, columns=list(FAILURE_COLUMNS)),
    )


def _perturbedCopies(
    source: CaseSource,
    seed: int,
    patient: str,
    count: int,
    perturbations: Sequence[str],
    ranges: PerturbationRanges,
    label: int,
    includeOriginal: bool,
) -> list:
    image, mask = source() if callable(source) else source
    roi = binaryRoi(image, mask, label)
    copies = perturbCase(image, roi, caseSeed(seed, patient), count, perturbations, ranges)
    if includeOriginal:
        original = {
            "perturbation": 0,
            "chain": "original",
            "voxels": int(np.count_nonzero(sitk.GetArrayViewFromImage(roi))),
        }
        copies.insert(0, (sitk.Cast(image, sitk.sitkFloat32), roi, original))
    return copies


def caseSeed(seed: int, patient: str) -> int:
    """The perturbation seed of one patient: stable across runs and independent of case order."""
    return int(np.random.SeedSequence([int(seed), zlib.crc32(patient.encode("utf-8"))]).generate_state(1)[0])


def _flatDescription(description: dict) -> dict:
    flat = {key: value for key, value in description.items() if key != "translationMm"}
    if "translationMm" in description:
        for axis, value in zip("XYZ", description["translationMm"]):
            flat[f"translation{axis}Mm"] = value
    return {key: flat.get(key, np.nan) for key in DESCRIPTION_COLUMNS[1:]}


def _numericFeatures(values: Mapping[str, float], patient: str) -> dict[str, float]:
    features = {}
    for name, value in values.items():
        if name.startswith("diagnostics_"):
            continue
        if name in DESCRIPTION_COLUMNS:
            raise InputError(
                f"The extractor returned a feature named '{name}', which is reserved for the "
                f"perturbation description; rename it."
            )
        try:
            features[name] = float(value)
        except (TypeError, ValueError) as error:
            raise InputError(
                f"Feature '{name}' of patient '{patient}' is not a number ({value!r}); the extractor "
                "must return numbers (diagnostics_* entries are ignored)."
            ) from error
    return features
