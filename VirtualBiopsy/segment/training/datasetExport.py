"""Export training cases to an nnU-Net v2 raw dataset.

The dataset folder ``DatasetNNN_Name`` holds ``imagesTr/case_XXXX_000C.nii.gz``
(one file per sequence, channel ``C`` in :attr:`DatasetExport.sequences` order),
``labelsTr/case_XXXX.nii.gz``, ``dataset.json`` and ``cases.csv`` (case number ⇄
the source's patient identifier: file names never carry patient identifiers).

Every case is checked before any of its files is written: all sequences present,
3D scalar images on the mask's grid, mask labels known. A bad case is reported
in :attr:`DatasetExport.skipped` and the others go on. The folder is written in a
hidden sibling and appears complete or not at all.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import pathlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import GeometryError, InputError, VirtualBiopsyError
from VirtualBiopsy.files import readImageFile, stagedOutputFolder
from VirtualBiopsy.imageGeometry import gridDifferences, requireScalar3D
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress
from VirtualBiopsy.segment.training.config import DatasetExportConfig, datasetFolderName

__all__ = [
    "DatasetExport",
    "TrainingCase",
    "casesFromCohort",
    "checkedCase",
    "datasetFolderName",
    "datasetJson",
    "exportDataset",
]

if TYPE_CHECKING:
    from VirtualBiopsy.data.manifest import Cohort

logger = logging.getLogger(__name__)

FILE_ENDING = ".nii.gz"

#: A case's image or mask: a SimpleITK image, or a callable that reads it (so cases load one at a time).
ImageSource = sitk.Image | Callable[[], sitk.Image]


@dataclass
class TrainingCase:
    """One case to export.

    :ivar caseId: the source's identifier (patient id, node name); written only to ``cases.csv``.
    :ivar images: image (or image reader) by sequence name.
    :ivar mask: label map (or its reader) on the images' grid.
    :ivar problems: problems found while collecting the case (e.g. a missing file); the case is skipped.
    """

    caseId: str
    images: Mapping[str, ImageSource]
    mask: ImageSource | None
    problems: list[str] = field(default_factory=list)


@dataclass
class DatasetExport:
    """What :func:`exportDataset` wrote.

    :ivar folder: the dataset folder ``.../DatasetNNN_Name``.
    :ivar sequences: channel order (``channel_names`` of ``dataset.json``).
    :ivar labels: ``{name: value}`` as in ``dataset.json``.
    :ivar cases: ``(case number name, caseId)`` of the exported cases, e.g. ``("case_0000", "VB0001")``.
    :ivar skipped: ``(caseId, reason)`` of the cases left out.
    """

    folder: pathlib.Path
    sequences: list[str]
    labels: dict[str, int]
    cases: list[tuple[str, str]]
    skipped: list[tuple[str, str]]


def exportDataset(
    cases: Iterable[TrainingCase],
    outRoot: str | os.PathLike,
    config: DatasetExportConfig,
    *,
    caseCount: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> DatasetExport:
    """Write ``cases`` as the nnU-Net raw dataset ``outRoot/DatasetNNN_Name`` of ``config``.

    :param config: the dataset's id, name, channels (in order; every case must have them) and labels.
    :param caseCount: number of cases, for progress fractions when ``cases`` is a generator.
    :raises InputError: for a bad config, an existing non-empty dataset folder, or when no case passes
        the checks (nothing is written then).
    :raises CancelledError: when cancelled (nothing is written).
    """
    config.validate()
    labels = dict(config.labels)
    sequences = list(config.sequences)
    folder = pathlib.Path(outRoot).expanduser() / config.folderName()
    progress = progress or noProgress
    if caseCount is None and isinstance(cases, (list, tuple)):
        caseCount = len(cases)
    exported: list[tuple[str, str]] = []
    skipped: list[tuple[str, str]] = []
    with stagedOutputFolder(folder, "nnU-Net dataset folder") as staging:
        (staging / "imagesTr").mkdir()
        (staging / "labelsTr").mkdir()
        for index, case in enumerate(cases):
            if cancel:
                cancel.raiseIfCancelled()
            progress(index / caseCount if caseCount else 0.0, f"Exporting case {index + 1}")
            try:
                images, mask = checkedCase(case, sequences, set(labels.values()))
            except VirtualBiopsyError as error:
                logger.warning("Case %d (%s) skipped: %s", index + 1, case.caseId, error)
                skipped.append((case.caseId, str(error)))
                continue
            number = f"case_{len(exported):04d}"
            for channel, image in enumerate(images):
                sitk.WriteImage(image, str(staging / "imagesTr" / f"{number}_{channel:04d}{FILE_ENDING}"), True)
            sitk.WriteImage(mask, str(staging / "labelsTr" / f"{number}{FILE_ENDING}"), True)
            exported.append((number, case.caseId))
        if not exported:
            reasons = "; ".join(f"{caseId}: {reason}" for caseId, reason in skipped) or "no cases were given"
            raise InputError(f"No case could be exported to {folder} ({reasons}). Fix the cases and run again.")
        _writeJson(staging / "dataset.json", datasetJson(sequences, labels, len(exported)))
        _writeCasesCsv(staging / "cases.csv", exported)
    progress(1.0, f"Exported {len(exported)} case(s), skipped {len(skipped)}")
    return DatasetExport(folder, list(sequences), dict(labels), exported, skipped)


def datasetJson(sequences: Sequence[str], labels: Mapping[str, int], numTraining: int) -> dict:
    """The ``dataset.json`` content of an nnU-Net v2 raw dataset."""
    return {
        "channel_names": {str(channel): sequence for channel, sequence in enumerate(sequences)},
        "labels": dict(labels),
        "numTraining": int(numTraining),
        "file_ending": FILE_ENDING,
    }


def checkedCase(
    case: TrainingCase, sequences: Sequence[str], labelValues: set[int]
) -> tuple[list[sitk.Image], sitk.Image]:
    """The case's images (in ``sequences`` order) and mask (UInt8/UInt16), after every check.

    :raises InputError: for a missing sequence or mask, a reported problem, unknown or non-integer mask values.
    :raises GeometryError: for a non-3D or vector image, or an image off the mask's grid.
    """
    if case.problems:
        raise InputError("; ".join(case.problems))
    missing = [sequence for sequence in sequences if sequence not in case.images or case.images[sequence] is None]
    if missing:
        raise InputError(
            f"sequence(s) {', '.join(missing)} missing (the case has {', '.join(case.images) or 'none'}); "
            "add them or export without those sequences."
        )
    if case.mask is None:
        raise InputError("no mask (ground-truth segmentation); add the reviewed segmentation of this case.")
    mask = requireScalar3D(_load(case.mask), "mask")
    maskValues = sitk.GetArrayViewFromImage(mask)
    if not np.issubdtype(maskValues.dtype, np.integer) and not np.array_equal(maskValues, np.round(maskValues)):
        raise InputError(
            f"mask has non-integer values (pixel type {mask.GetPixelIDTypeAsString()}); "
            "give a label map with whole-number labels."
        )
    present = {int(value) for value in np.unique(maskValues)}
    unknown = sorted(present - labelValues)
    if unknown:
        raise InputError(
            f"mask has label value(s) {unknown} that dataset.json does not list "
            f"(known: {sorted(labelValues)}); relabel the mask or add the labels."
        )
    images = []
    for sequence in sequences:
        image = requireScalar3D(_load(case.images[sequence]), f"{sequence} image")
        differences = gridDifferences(image, mask)
        if differences:
            raise GeometryError(
                f"the {sequence} image is not on the mask's grid ({'; '.join(differences)}); "
                "resample it onto the mask grid first."
            )
        images.append(image)
    labelType = sitk.sitkUInt8 if max(labelValues) < 256 else sitk.sitkUInt16
    return images, sitk.Cast(mask, labelType)


def casesFromCohort(cohort: "Cohort", sequences: Sequence[str] | None = None) -> list[TrainingCase]:
    """One :class:`TrainingCase` per manifest row; files are read only when the case is exported.

    :param sequences: the sequences to use (all of the manifest's by default).
    """
    sequences = list(sequences or cohort.sequences)
    cases = []
    for row in cohort.cases:
        images = {name: _reader(row.sequences[name]) for name in sequences if name in row.sequences}
        cases.append(TrainingCase(row.patient, images, _reader(row.mask) if row.mask else None, list(row.problems)))
    return cases


def _reader(path: pathlib.Path) -> Callable[[], sitk.Image]:
    def read() -> sitk.Image:
        return readImageFile(path, "training")

    return read


def _load(source: ImageSource) -> sitk.Image:
    return source() if callable(source) and not isinstance(source, sitk.Image) else source


def _writeJson(path: pathlib.Path, content: dict) -> None:
    path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")


def _writeCasesCsv(path: pathlib.Path, exported: list[tuple[str, str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["case", "source"])
    writer.writerows(exported)
    path.write_text(buffer.getvalue(), encoding="utf-8")
