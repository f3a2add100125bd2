"""Segmentation QA metrics of a predicted mask against a reference mask on one grid.

Overlap (DSC, Jaccard), surface distances (HD, HD95, mean symmetric surface
distance, surface DSC at a tolerance), volumes, voxel-wise rates and the
voxel-wise ROC AUC of a probability map, all in physical units (mm, ml).

Definitions (TP, FP, FN, TN count voxels; ``S_R``, ``S_P`` are the surface voxels
of :mod:`.surfaceDistances`; ``d(x, S)`` the distance from voxel centre ``x`` to the
nearest voxel centre of ``S``):

- ``dsc`` = 2TP / (2TP + FP + FN); ``jaccard`` = TP / (TP + FP + FN).
- ``hd_mm`` = max of every ``d(x, S_R)``, x in ``S_P``, and ``d(y, S_P)``, y in ``S_R``;
  ``hd95_mm`` = the larger of the two directed 95th percentiles (linear
  interpolation), as MONAI's ``compute_hausdorff_distance(percentile=95)``.
- ``msd_mm`` = mean of all those distances together (average symmetric surface distance).
- ``surface_dsc`` = (#{x in S_P: d(x, S_R) ≤ τ} + #{y in S_R: d(y, S_P) ≤ τ}) / (|S_P| + |S_R|),
  Nikolov et al. (2018) counted on surface voxels (MONAI's ``compute_surface_dice`` default).
- ``volume_diff_ml`` = V_P − V_R; ``volume_diff_rel`` = (V_P − V_R) / V_R.
- ``sensitivity`` = TP / (TP + FN); ``specificity`` = TN / (TN + FP);
  ``fpr`` = FP / (FP + TN); ``fnr`` = FN / (FN + TP) (the standard forms);
  ``fpr_primage`` = FP / (TP + FN); ``fnr_primage`` = FN / (TP + FN) (as the PRIMAGE slides
  define them: both relative to the reference volume).
- ``auc``: voxel-wise ROC AUC of the probability map against the reference.

Empty masks, never a silent NaN:

- both empty: the masks agree perfectly: DSC, Jaccard and surface DSC 1, distances 0,
  volume difference 0.
- exactly one empty: DSC, Jaccard and surface DSC 0, and the distances are ``inf``
  (there is no surface to reach: the Hausdorff distance to an empty set).
- any other ratio whose denominator is zero is ``inf`` when its numerator is
  positive (e.g. ``fpr_primage`` or ``volume_diff_rel`` against an empty reference)
  and *undefined* when the numerator is zero too: the value is ``None`` and
  :attr:`SegmentationMetrics.undefined` says why (e.g. ``sensitivity`` of an
  empty reference, ``auc`` without probabilities or with a one-class reference).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, fields

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.imageGeometry import requireScalar3D
from VirtualBiopsy.segment.qa.masks import (
    arraySpacing,
    maskArray,
    requireSameGrid,
    voxelVolumeMl,
)
from VirtualBiopsy.segment.qa.roc import rocAuc
from VirtualBiopsy.segment.qa.surfaceDistances import surfaceDistances, surfaceVoxels

#: Default tolerance of the surface DSC (mm).
DEFAULT_TOLERANCE_MM = 1.0

#: Field of :class:`SegmentationMetrics` → column of its :meth:`~SegmentationMetrics.toDict`
#: (the metric names of ``virtual-biopsy qa``'s tables).
COLUMNS = {
    "dsc": "dsc",
    "jaccard": "jaccard",
    "hd95Mm": "hd95_mm",
    "hdMm": "hd_mm",
    "msdMm": "msd_mm",
    "surfaceDsc": "surface_dsc",
    "toleranceMm": "tolerance_mm",
    "referenceMl": "reference_ml",
    "predictionMl": "prediction_ml",
    "volumeDiffMl": "volume_diff_ml",
    "volumeDiffRelative": "volume_diff_rel",
    "sensitivity": "sensitivity",
    "specificity": "specificity",
    "fpr": "fpr",
    "fnr": "fnr",
    "fprPrimage": "fpr_primage",
    "fnrPrimage": "fnr_primage",
    "auc": "auc",
    "truePositives": "tp",
    "falsePositives": "fp",
    "falseNegatives": "fn",
    "trueNegatives": "tn",
}

#: Column of :meth:`SegmentationMetrics.toDict` that lists the undefined metrics and why.
UNDEFINED_COLUMN = "undefined"


@dataclass(frozen=True)
class SegmentationMetrics:
    """Metrics of one prediction against one reference (see the module for each definition).

    Distances are in mm, volumes in ml. A value is ``None`` only when it is
    undefined, and then :attr:`undefined` holds the reason under its column name.
    """

    dsc: float
    jaccard: float
    hd95Mm: float
    hdMm: float
    msdMm: float
    surfaceDsc: float
    toleranceMm: float
    referenceMl: float
    predictionMl: float
    volumeDiffMl: float
    volumeDiffRelative: float | None
    sensitivity: float | None
    specificity: float | None
    fpr: float | None
    fnr: float | None
    fprPrimage: float | None
    fnrPrimage: float | None
    auc: float | None
    truePositives: int
    falsePositives: int
    falseNegatives: int
    trueNegatives: int
    undefined: dict[str, str] = field(default_factory=dict)

    def toDict(self) -> dict[str, float | int | str | None]:
        """The metrics under their table column names (:data:`COLUMNS`), then ``undefined``:
        ``"metric: reason; ..."`` (empty when every metric is defined)."""
        row: dict[str, float | int | str | None] = {
            COLUMNS[f.name]: getattr(self, f.name) for f in fields(self) if f.name in COLUMNS
        }
        row[UNDEFINED_COLUMN] = "; ".join(f"{name}: {reason}" for name, reason in self.undefined.items())
        return row


def computeMetrics(
    reference: sitk.Image,
    prediction: sitk.Image,
    probabilities: sitk.Image | None = None,
    toleranceMm: float = DEFAULT_TOLERANCE_MM,
) -> SegmentationMetrics:
    """Compare ``prediction`` with ``reference`` (non-zero voxels are inside).

    :param reference: the reference (ground-truth) mask.
    :param prediction: the predicted mask, on the reference's grid.
    :param probabilities: optional per-voxel foreground probability (any finite scores) on the same grid, for ``auc``.
    :param toleranceMm: tolerance τ of the surface DSC, in mm (≥ 0).
    :raises GeometryError: if the masks (or the probabilities) are not on one grid, naming both grids.
    :raises InputError: for a negative or non-finite tolerance, or NaN voxels.
    """
    if not isinstance(toleranceMm, numbers.Real) or not math.isfinite(toleranceMm) or toleranceMm < 0:
        raise InputError(f"The surface-DSC tolerance is {toleranceMm!r} mm; give a finite distance ≥ 0 mm, e.g. 1.0.")
    truth = maskArray(reference, "reference mask")
    predicted = maskArray(prediction, "prediction mask")
    requireSameGrid(reference, prediction, "reference mask", "prediction mask")
    scores = None
    if probabilities is not None:
        scores = _probabilityArray(probabilities)
        requireSameGrid(reference, probabilities, "reference mask", "probability map")

    undefined: dict[str, str] = {}
    tp = int(np.count_nonzero(truth & predicted))
    fp = int(np.count_nonzero(predicted & ~truth))
    fn = int(np.count_nonzero(truth & ~predicted))
    tn = int(truth.size) - tp - fp - fn
    bothEmpty = tp + fp + fn == 0
    voxelMl = voxelVolumeMl(reference)
    referenceMl, predictionMl = (tp + fn) * voxelMl, (tp + fp) * voxelMl

    def ratio(column: str, numerator: float, denominator: float, reason: str) -> float | None:
        if denominator > 0:
            return numerator / denominator
        if numerator > 0:
            return math.inf
        undefined[column] = reason
        return None

    noReference = "the reference is empty (0/0)"
    hd95, hd, msd, surfaceDsc = _surfaceMetrics(truth, predicted, arraySpacing(reference), float(toleranceMm))
    auc = None
    if scores is None:
        undefined["auc"] = "no probability map was given"
    else:
        auc = rocAuc(scores, truth)
        if auc is None:
            undefined["auc"] = "the reference holds one class only (all inside or all outside)"
    return SegmentationMetrics(
        dsc=1.0 if bothEmpty else 2.0 * tp / (2.0 * tp + fp + fn),
        jaccard=1.0 if bothEmpty else tp / float(tp + fp + fn),
        hd95Mm=hd95,
        hdMm=hd,
        msdMm=msd,
        surfaceDsc=surfaceDsc,
        toleranceMm=float(toleranceMm),
        referenceMl=referenceMl,
        predictionMl=predictionMl,
        volumeDiffMl=(fp - fn) * voxelMl,
        volumeDiffRelative=(fp - fn) / float(tp + fn) if tp + fn > 0 else ratio("volume_diff_rel", fp, 0, noReference),
        sensitivity=ratio("sensitivity", tp, tp + fn, noReference),
        specificity=ratio("specificity", tn, tn + fp, "the reference fills the whole image (0/0)"),
        fpr=ratio("fpr", fp, fp + tn, "the reference fills the whole image (0/0)"),
        fnr=ratio("fnr", fn, fn + tp, noReference),
        fprPrimage=ratio("fpr_primage", fp, tp + fn, noReference),
        fnrPrimage=ratio("fnr_primage", fn, tp + fn, noReference),
        auc=auc,
        truePositives=tp,
        falsePositives=fp,
        falseNegatives=fn,
        trueNegatives=tn,
        undefined=undefined,
    )


def _surfaceMetrics(
    truth: np.ndarray, predicted: np.ndarray, spacing: np.ndarray, toleranceMm: float
) -> tuple[float, float, float, float]:
    """``(hd95, hd, msd, surfaceDsc)`` with the empty-mask conventions of the module."""
    truthEmpty, predictedEmpty = not truth.any(), not predicted.any()
    if truthEmpty and predictedEmpty:
        return 0.0, 0.0, 0.0, 1.0
    if truthEmpty or predictedEmpty:
        return math.inf, math.inf, math.inf, 0.0
    fromPrediction, fromReference = surfaceDistances(surfaceVoxels(predicted), surfaceVoxels(truth), spacing)
    both = np.concatenate([fromPrediction, fromReference])
    hd95 = max(float(np.percentile(fromPrediction, 95)), float(np.percentile(fromReference, 95)))
    within = int(np.count_nonzero(fromPrediction <= toleranceMm) + np.count_nonzero(fromReference <= toleranceMm))
    return hd95, float(both.max()), float(both.mean()), within / float(both.size)


def _probabilityArray(probabilities: sitk.Image) -> np.ndarray:
    requireScalar3D(probabilities, "probability map")
    scores = sitk.GetArrayViewFromImage(probabilities)
    if np.issubdtype(scores.dtype, np.floating) and not np.isfinite(scores).all():
        bad = int(np.count_nonzero(~np.isfinite(scores)))
        raise InputError(
            f"The probability map has {bad} NaN or infinite voxel(s); the AUC needs a finite score per voxel. "
            "Check the model's output or replace them (e.g. numpy.nan_to_num) first."
        )
    return scores
