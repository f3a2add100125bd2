"""A segmentation node (and its features table node) as DICOM SEG (and TID 1500 SR) files beside the source series.

The masks are cut on the reference volume's grid (the volume read from the source series) through
:func:`~VirtualBiopsy.mrml.segmentations.segmentationToLabelmapImage`, one mask per segment (segments may overlap),
and written by :func:`VirtualBiopsy.dicom.segExport.exportSegmentation`; the features, from a table node with
the columns ``Segment``, ``Feature``, ``Value`` (what :class:`VirtualBiopsy.extract.logic.ExtractionLogic` writes),
by :func:`VirtualBiopsy.dicom.srExport.exportMeasurements`. Segment names come from the segmentation; a segment's
category is read from its name ("oedema"/"edema" → oedema, "necrosis"/"necrotic" → necrosis, else tumour).
``seg.dcm`` and ``sr.dcm`` are written together or not at all, never inside the source series' folder.

How each segment was made (:func:`segmentOrigins`) comes from the segmentation's provenance (the model that made
it) and the hidden AI reference of its review: a segment equal to its AI reference is ``"AI"``, one the clinician
changed is ``"manual"``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pathlib
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import SimpleITK as sitk
import slicer

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.files import atomicOutput
from VirtualBiopsy.mrml.images import volumeNodeToImage
from VirtualBiopsy.mrml.segmentations import segmentationToLabelmapImage, segmentIdOf
from VirtualBiopsy.mrml.segmentMasks import segmentMasksByName
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

#: The segmentation node attribute with its provenance (JSON), as the segment stage writes it.
PROVENANCE_ATTRIBUTE = "VirtualBiopsy.segmentation.provenance"
#: Columns of a features table node (long: one row per segment and feature).
FEATURE_COLUMNS = ("Segment", "Feature", "Value")
SEG_FILE, SR_FILE = "seg.dcm", "sr.dcm"


@dataclasses.dataclass
class DicomExport:
    """What :func:`exportSegmentationNode` wrote.

    :ivar files: ``seg.dcm`` and, with a features table, ``sr.dcm``.
    :ivar segments: the names of the segments in the SEG.
    :ivar skipped: the names of the empty segments left out.
    """

    files: list[pathlib.Path]
    segments: list[str]
    skipped: list[str]


@dataclasses.dataclass(frozen=True)
class SegmentOrigins:
    """How the segments of a segmentation were made.

    :ivar algorithms: segment name → ``"AI"`` or ``"manual"``.
    :ivar modelId: the model that made the AI result (``""`` when none is recorded).
    :ivar modelVersion: its version.
    :ivar known: ``False`` when nothing tells whether an AI result was edited (ask the user).
    :ivar reason: why, in one sentence.
    """

    algorithms: dict[str, str]
    modelId: str
    modelVersion: str
    known: bool
    reason: str


def segmentOrigins(segmentationNode, aiReferenceNode=None, referenceVolumeNode=None) -> SegmentOrigins:
    """How each segment of ``segmentationNode`` was made.

    - no model recorded in its provenance: every segment ``"manual"`` (drawn, or a threshold result to review);
    - a model and the review's AI reference ``aiReferenceNode``: ``"AI"`` for a segment whose voxels equal its
      AI reference's (on ``referenceVolumeNode``'s grid), ``"manual"`` for one edited, added or renamed;
    - a model but no AI reference: ``"AI"`` for all, with ``known=False`` (an edit would go unseen).
    """
    names = [name for _identifier, name in _segments(segmentationNode)]
    provenance = _provenance(segmentationNode)
    modelId, modelVersion = str(provenance.get("modelId") or ""), str(provenance.get("modelVersion") or "")
    if not modelId:
        reason = "no AI model is recorded for this segmentation: its segments are exported as manual"
        return SegmentOrigins({name: "manual" for name in names}, "", "", True, reason)
    if aiReferenceNode is None:
        reason = (
            f"the segmentation came from model {modelId} {modelVersion}, but no review was started, so edits in the "
            "Segment Editor cannot be told apart"
        )
        return SegmentOrigins({name: "AI" for name in names}, modelId, modelVersion, False, reason)
    geometry = volumeNodeToImage(referenceVolumeNode) if referenceVolumeNode is not None else None
    aiMasks = segmentMasksByName(aiReferenceNode, geometry)
    if geometry is None and aiMasks:
        geometry = next(iter(aiMasks.values()))
    current = segmentMasksByName(segmentationNode, geometry)
    algorithms = {
        name: "AI"
        if name in aiMasks
        and np.array_equal(sitk.GetArrayViewFromImage(mask), sitk.GetArrayViewFromImage(aiMasks[name]))
        else "manual"
        for name, mask in current.items()
    }
    edited = sorted(name for name, kind in algorithms.items() if kind == "manual")
    reason = f"compared with the AI result of {modelId} {modelVersion}: " + (
        f"edited {', '.join(edited)}" if edited else "no segment was edited"
    )
    return SegmentOrigins(algorithms, modelId, modelVersion, True, reason)


def exportSegmentationNode(
    segmentationNode,
    referenceVolumeNode,
    referenceFiles: str | os.PathLike | Sequence[str | os.PathLike],
    outFolder: str | os.PathLike,
    algorithm: str | Mapping[str, str],
    modelId: str = "",
    modelVersion: str = "",
    segmentIds: Sequence[str] | None = None,
    featuresTableNode=None,
    *,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> DicomExport:
    """Write ``outFolder/seg.dcm`` (and ``outFolder/sr.dcm`` with ``featuresTableNode``) for the segments of
    ``segmentationNode`` on the grid of ``referenceVolumeNode``, referring to the series of ``referenceFiles``.

    :param referenceFiles: the source series: its folder, or its files (e.g. from Slicer's DICOM database).
    :param algorithm: ``"AI"``, ``"threshold"`` or ``"manual"`` for every segment, or segment name → one of them.
    :param modelId: the model (AI) or method (threshold) that made the segments; ``modelVersion`` its version.
    :param segmentIds: the segments to export (IDs or unique names), in order; every segment by default.
    :param featuresTableNode: a features table node (``Segment``, ``Feature``, ``Value``) for the SR.
    :raises InputError: for an output folder inside the source series' folder, a segment or table the export
        cannot use, or only empty segments.
    :raises GeometryError: for a reference volume not on the source series' grid.
    """
    from VirtualBiopsy.dicom.referenceSeries import readReferenceSeries
    from VirtualBiopsy.dicom.segExport import SegmentSpec, exportSegmentation

    progress = progress or noProgress
    outFolder = pathlib.Path(outFolder)
    files = _referencePaths(referenceFiles)
    _refuseInsideSource(outFolder, files)
    progress(0.0, "Reading the source series")
    reference = readReferenceSeries(files if len(files) > 1 or files[0].is_file() else files[0])
    ids = [segmentIdOf(segmentationNode, name) for name in segmentIds] if segmentIds is not None else None
    chosen = [segment for segment in _segments(segmentationNode) if ids is None or segment[0] in ids]
    if ids is not None:
        chosen.sort(key=lambda segment: ids.index(segment[0]))
    if not chosen:
        raise InputError(f"Segmentation '{segmentationNode.GetName()}' has no segment to export; add a segment first.")
    specs, masks = [], []
    for index, (identifier, name) in enumerate(chosen):
        if cancel:
            cancel.raiseIfCancelled()
        progress(0.1 + 0.5 * index / len(chosen), f"Segment {name} ({index + 1}/{len(chosen)})")
        mask, _infos = segmentationToLabelmapImage(segmentationNode, referenceVolumeNode, [identifier])
        masks.append(sitk.Cast(mask != 0, sitk.sitkUInt8))
        kind = algorithm if isinstance(algorithm, str) else algorithm.get(name, "manual")
        automatic = kind != "manual"
        specs.append(
            SegmentSpec(
                name,
                index + 1,
                _category(name),
                kind,
                modelId if automatic else "",
                modelVersion if automatic else "",
            )
        )
    features = _features(featuresTableNode) if featuresTableNode is not None else None
    progress(0.65, "Writing the DICOM SEG")
    written = [outFolder / SEG_FILE]
    with atomicOutput(outFolder / SEG_FILE, overwrite) as staged:
        result = exportSegmentation(masks, reference, staged, specs)
        if features is not None:
            if cancel:
                cancel.raiseIfCancelled()
            progress(0.85, "Writing the structured report")
            _writeReport(features, result.segments, staged, reference, files)
            written.append(outFolder / SR_FILE)
    progress(1.0, f"{len(result.segments)} segment(s) written to {outFolder}")
    return DicomExport(written, [spec.name for spec in result.segments], list(result.skipped))


def _segments(segmentationNode) -> list[tuple[str, str]]:
    """``(segment ID, name)`` of every segment, in order."""
    if not isinstance(segmentationNode, slicer.vtkMRMLSegmentationNode):
        raise InputError(
            f"Expected a segmentation node, got {type(segmentationNode).__name__}; pass a vtkMRMLSegmentationNode."
        )
    segmentation = segmentationNode.GetSegmentation()
    ids = [segmentation.GetNthSegmentID(index) for index in range(segmentation.GetNumberOfSegments())]
    return [(identifier, str(segmentation.GetSegment(identifier).GetName())) for identifier in ids]


def _provenance(segmentationNode) -> dict:
    text = segmentationNode.GetAttribute(PROVENANCE_ATTRIBUTE)
    try:
        provenance = json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {}
    return provenance if isinstance(provenance, dict) else {}


def _category(name: str) -> str:
    lower = name.lower()
    if "oedema" in lower or "edema" in lower:
        return "oedema"
    if "necro" in lower:
        return "necrosis"
    return "tumour"


def _referencePaths(referenceFiles) -> list[pathlib.Path]:
    if isinstance(referenceFiles, (str, os.PathLike)):
        return [pathlib.Path(referenceFiles)]
    paths = [pathlib.Path(path) for path in referenceFiles]
    if not paths:
        raise InputError("No source series file was given; give the files (or the folder) of the source series.")
    return paths


def _refuseInsideSource(outFolder: pathlib.Path, files: list[pathlib.Path]) -> None:
    out = outFolder.expanduser().resolve()
    folders = {path.resolve() if path.is_dir() else path.resolve().parent for path in files}
    inside = sorted(str(folder) for folder in folders if out == folder or folder in out.parents)
    if inside:
        raise InputError(
            f"Output folder {outFolder} is inside the source series' folder {inside[0]}, which is never written; "
            "choose a folder outside it."
        )


def _features(tableNode) -> dict[str, dict[str, float]]:
    """Segment name → {feature → value} from a long features table node (non-finite values left out)."""
    if not isinstance(tableNode, slicer.vtkMRMLTableNode):
        raise InputError(f"Expected a features table node, got {type(tableNode).__name__}; pass a vtkMRMLTableNode.")
    table = tableNode.GetTable()
    present = [table.GetColumnName(index) for index in range(table.GetNumberOfColumns())]
    missing = [name for name in FEATURE_COLUMNS if name not in present]
    if missing:
        raise InputError(
            f"Features table '{tableNode.GetName()}' has no column {', '.join(missing)} (its columns: "
            f"{', '.join(present) or 'none'}); give the table of the Outcome module's Features section."
        )
    segments, names, values = (table.GetColumnByName(name) for name in FEATURE_COLUMNS)
    features: dict[str, dict[str, float]] = {}
    for row in range(table.GetNumberOfRows()):
        cell = values.GetVariantValue(row)
        value = cell.ToDouble() if cell.IsValid() else float("nan")
        if np.isfinite(value):
            features.setdefault(str(segments.GetValue(row)), {})[str(names.GetValue(row))] = float(value)
    return features


def _writeReport(features, segments, seg: pathlib.Path, reference, files: list[pathlib.Path]) -> None:
    from VirtualBiopsy.dicom.srExport import exportMeasurements

    exported = {spec.name for spec in segments}
    kept = {name: values for name, values in features.items() if name in exported}
    with _seriesFolder(reference, files) as folder:
        exportMeasurements(kept, seg, folder, seg.parent / SR_FILE, algorithmVersion=_pyradiomicsVersion())


@contextlib.contextmanager
def _seriesFolder(reference, files: list[pathlib.Path]) -> Iterator[pathlib.Path]:
    """A folder that holds the source series only: its own folder, or links to (copies of) its listed files.

    The SR reads the source series again by folder; the files of a DICOM database may share a folder with others.
    """
    if len(files) == 1 and files[0].is_dir():
        yield files[0]
        return
    with tempfile.TemporaryDirectory(prefix="VirtualBiopsy-series-") as folder:
        for index, dataset in enumerate(reference.datasets):
            target = pathlib.Path(folder) / f"{index:05d}.dcm"
            try:
                os.link(dataset.filename, target)
            except OSError:  # another file system or no hard links: a copy
                shutil.copyfile(dataset.filename, target)
        yield pathlib.Path(folder)


def _pyradiomicsVersion() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pyradiomics")
    except PackageNotFoundError:
        return "unknown"
