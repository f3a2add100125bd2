"""A case's results as DICOM, beside the run's own files: the segmentation as DICOM SEG, its features as a
TID 1500 SR, both referring to the DICOM series the case was read from (``OUT/dicom/<patient>/``).

The stage runs only for cases whose images came from DICOM series folders. The SEG refers to the series the
segmentation was made on (the ``segment.sequence`` column) when that column is a DICOM folder, else to the
first DICOM column of the manifest row; a segmentation on a resampled grid is put back on that series' grid
(nearest neighbour). The objects carry the patient and study of the source series, as DICOM requires: they
hold only what the source files already held.
"""

from __future__ import annotations

import pathlib
from typing import Any

import SimpleITK as sitk

from VirtualBiopsy import __version__
from VirtualBiopsy.cohort.caseSteps import readCaseFeatures
from VirtualBiopsy.cohort.pipelineConfig import PipelineConfig
from VirtualBiopsy.files import atomicOutput

#: The files of a case's DICOM folder.
SEG_FILE, SR_FILE = "seg.dcm", "sr.dcm"


def dicomReference(images: dict[str, pathlib.Path], segmentSequence: str) -> pathlib.Path | None:
    """The DICOM series folder a case's SEG refers to, or ``None`` when no image of the case is a DICOM folder."""
    folders = {name: path for name, path in images.items() if pathlib.Path(path).is_dir()}
    if segmentSequence in folders:
        return pathlib.Path(folders[segmentSequence])
    return pathlib.Path(next(iter(folders.values()))) if folders else None


def segmentAlgorithm(config: PipelineConfig, segmentSummary: dict[str, Any]) -> tuple[str, str, str]:
    """``(algorithm, modelId, modelVersion)`` of the case's segmentation for the SEG's algorithm identification:
    a manifest mask is a person's ("manual"), a model's segmentation is "AI" with the model's id and version."""
    if segmentSummary.get("segmentationSource") == "manifest":
        return "manual", "", ""
    method = config.segment.settings.method
    if method != "model":
        return "threshold", method, __version__
    model = segmentSummary.get("model") or {}
    modelId = str(model.get("modelId") or config.segment.settings.modelId)
    return "AI", modelId, str(model.get("version") or "unknown")


def writeCaseDicom(
    reference: pathlib.Path,
    segmentation: pathlib.Path,
    features: pathlib.Path | None,
    algorithm: tuple[str, str, str],
    segmentName: str,
    folder: pathlib.Path,
) -> list[pathlib.Path]:
    """Write ``folder/seg.dcm`` (and ``folder/sr.dcm`` with ``features``, the case's ``feature,value`` table)
    together: both or neither.

    :returns: the files written.
    :raises InputError: for a reference folder that is not one DICOM series.
    """
    from VirtualBiopsy.dicom.referenceSeries import readReferenceSeries
    from VirtualBiopsy.dicom.segExport import SegmentSpec, exportSegmentation
    from VirtualBiopsy.dicom.srExport import exportMeasurements

    kind, modelId, modelVersion = algorithm
    series = readReferenceSeries(reference)
    spec = SegmentSpec(segmentName, 1, "tumour", kind, modelId, modelVersion)
    mask = sitk.ReadImage(str(segmentation)) > 0
    written = [folder / SEG_FILE]
    with atomicOutput(folder / SEG_FILE, overwrite=True) as staged:
        exportSegmentation(mask, series, staged, [spec], resample=True, overwrite=True)
        if features is not None:
            exportMeasurements(
                {segmentName: readCaseFeatures(features)},  # non-finite values are left out
                staged,
                series,
                staged.parent / SR_FILE,
                algorithmVersion=_pyradiomicsVersion(),
                overwrite=True,
            )
            written.append(folder / SR_FILE)
    if features is None:
        (folder / SR_FILE).unlink(missing_ok=True)  # an earlier run's, for features no longer extracted
    return written


def _pyradiomicsVersion() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pyradiomics")
    except PackageNotFoundError:
        return "unknown"
