"""One input file: read it whole, refuse what must not be written, de-identify it and write it atomically.

The output is ``OUT/<patient pseudonym>/<study UID>/<series UID>/<SOP instance UID>.dcm`` (all pseudonymous: the
input's names may carry identifiers). It is written to a hidden temporary file in its folder and linked to its
final name, which never replaces an existing file: a second file with the same SOP Instance UID is skipped, and
with ``resume`` a file already written with the same bytes counts as done. Pixel data are not touched: the
written Pixel Data element holds the input's bytes.
"""

from __future__ import annotations

import dataclasses
import errno
import io
import os
import pathlib
import warnings
from typing import Any

from VirtualBiopsy.dicom.deidentify.dataset import burnedInReason, deidentifyDataset, patientKeyOf
from VirtualBiopsy.dicom.deidentify.profile import ProfileOptions
from VirtualBiopsy.dicom.deidentify.pseudonyms import Pseudonyms
from VirtualBiopsy.errors import requirePackage
from VirtualBiopsy.files.atomicFiles import makeTemporaryFile

DICOMDIR_CLASS = "1.2.840.10008.1.3.10"
#: Prefix and suffix of the temporary files written next to outputs (removed by a resumed run).
TEMPORARY_PREFIX, TEMPORARY_SUFFIX = ".deid-", ".partial"
#: Why a file was not written, by reason code (the code goes to the report that leaves the hospital).
REASONS = {
    "not_dicom": "not a DICOM file (no DICOM preamble and no SOP Class/Instance UID): not copied",
    "dicomdir": "a DICOMDIR: its directory records repeat patient names and ids; not copied (it is not needed)",
    "unreadable": "a DICOM file that cannot be read whole (truncated or corrupt): not copied",
    "truncated": "the pixel data are shorter than Rows x Columns x frames needs (a truncated file): not copied",
    "no_pixel_data": "an image header without pixel data (a truncated file?): not copied",
    "no_sop_instance_uid": "a DICOM file without SOP Instance UID: not copied",
    "burned_in": "may show identifiers in its pixels (burned-in annotation); give --allow-burned-in to write it",
    "duplicate": "its output exists with other content (another file with the same SOP Instance UID, or an "
    "earlier run with other options or another key): not written",
    "link": "a symbolic link: not followed",
    "cannot_deidentify": "an attribute value could not be read or written back (a malformed element): not copied",
}


@dataclasses.dataclass
class FileOutcome:
    """What happened to one input file: ``status`` is written, resumed, flagged (written, burned-in) or skipped."""

    relative: str
    status: str
    reason: str = ""
    detail: str = ""
    output: str = ""
    changes: frozenset = frozenset()


def processFile(
    inFolder: pathlib.Path, outFolder: pathlib.Path, relative: str, pseudonyms: Pseudonyms, options: ProfileOptions,
    resume: bool,
) -> FileOutcome:  # fmt: skip
    """De-identify ``inFolder/relative`` into ``outFolder``; every refusal is an outcome, never an exception."""
    path = inFolder / relative
    if path.is_symlink():
        return FileOutcome(relative, "skipped", "link")
    dataset, problem = readInput(path)
    if dataset is None:
        reason, detail = problem
        return FileOutcome(relative, "skipped", reason, detail)
    burnedIn = burnedInReason(dataset)
    if burnedIn and not options.allowBurnedIn:
        return FileOutcome(relative, "skipped", "burned_in", burnedIn)
    patient = pseudonyms.patient(patientKeyOf(dataset))
    try:
        changes = deidentifyDataset(dataset, pseudonyms, options)
        parts = [patient] + [_uidText(dataset, keyword) for keyword in ("StudyInstanceUID", "SeriesInstanceUID")]
        output = pathlib.PurePosixPath(*parts, f"{dataset.SOPInstanceUID}.dcm")
        buffer = io.BytesIO()
        dataset.save_as(buffer, enforce_file_format=True)
    except Exception as error:  # a value pydicom cannot convert or encode: this file only is skipped
        return FileOutcome(relative, "skipped", "cannot_deidentify", f"{type(error).__name__}: {error}")
    status = _writeOnce(outFolder / output, buffer.getvalue(), resume)
    if status == "duplicate":
        return FileOutcome(relative, "skipped", "duplicate", f"output {output} exists")
    if burnedIn:
        return FileOutcome(relative, "flagged", "burned_in", burnedIn, str(output), frozenset(changes))
    return FileOutcome(relative, status, "", "", str(output), frozenset(changes))


def readInput(path: pathlib.Path) -> tuple[Any, tuple[str, str]]:
    """The whole dataset of ``path`` with a file meta that names its transfer syntax, or ``None`` and
    ``(reason code, detail)``."""
    pydicom = requirePackage("pydicom")
    try:
        dataset = pydicom.dcmread(path)
    except pydicom.errors.InvalidDicomError:
        try:  # a DICOM dataset without the Part 10 preamble (e.g. pydicom's rtstruct.dcm)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                dataset = pydicom.dcmread(path, force=True)
                _ = dataset.get("SOPClassUID"), dataset.get("SOPInstanceUID")
        except Exception as error:
            return None, ("not_dicom", f"{type(error).__name__}: {error}")
        if not dataset.get("SOPClassUID") or not dataset.get("SOPInstanceUID"):
            return None, ("not_dicom", "no DICOM preamble and no SOP Class/Instance UID")
        _completeMeta(dataset)
    except Exception as error:
        return None, ("unreadable", f"{type(error).__name__}: {error}")
    meta = getattr(dataset, "file_meta", None)
    storageClass = str(getattr(meta, "MediaStorageSOPClassUID", "") or "")
    if storageClass == DICOMDIR_CLASS or path.name.upper() == "DICOMDIR" or "DirectoryRecordSequence" in dataset:
        return None, ("dicomdir", "directory records")
    try:
        problem = _incomplete(dataset)
    except Exception as error:
        return None, ("unreadable", f"{type(error).__name__}: {error}")
    if problem is not None:
        return None, problem
    return dataset, ("", "")


def _incomplete(dataset: Any) -> tuple[str, str] | None:
    if not str(dataset.get("SOPInstanceUID", "") or "").strip():
        return "no_sop_instance_uid", ""
    if "PixelData" not in dataset:
        if "Rows" in dataset and "FloatPixelData" not in dataset and "DoubleFloatPixelData" not in dataset:
            return "no_pixel_data", "Rows present, Pixel Data absent"
        return None
    syntax = dataset.file_meta.TransferSyntaxUID
    if syntax is None or syntax.is_compressed:
        return None
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    bits = (
        int(dataset.BitsAllocated) * int(dataset.Rows) * int(dataset.Columns) * int(dataset.get("SamplesPerPixel", 1))
    )
    need = (bits * frames + 7) // 8
    have = len(dataset.PixelData)
    return ("truncated", f"Pixel Data holds {have} bytes, {need} needed") if have < need else None


def _completeMeta(dataset: Any) -> None:
    """Give a dataset read without file meta the meta a Part 10 file needs (its own encoding kept)."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    meta = getattr(dataset, "file_meta", None) or FileMetaDataset()
    implicit, little = dataset.original_encoding
    if "TransferSyntaxUID" not in meta:
        meta.TransferSyntaxUID = (
            ImplicitVRLittleEndian if implicit else (ExplicitVRLittleEndian if little else ExplicitVRBigEndian)
        )
    meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.file_meta = meta


def _uidText(dataset: Any, keyword: str) -> str:
    value = str(dataset.get(keyword, "") or "").strip()
    return value or f"no-{keyword}"


def _writeOnce(path: pathlib.Path, data: bytes, resume: bool) -> str:
    """Write ``data`` to ``path`` atomically without replacing a file: ``written``, ``resumed`` (the same bytes
    were there) or ``duplicate``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return "resumed" if resume and path.read_bytes() == data else "duplicate"
    handle, temporary = makeTemporaryFile(path.parent, TEMPORARY_PREFIX, TEMPORARY_SUFFIX)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        try:
            os.link(temporary, path)
        except FileExistsError:
            return "resumed" if resume and path.read_bytes() == data else "duplicate"
        except OSError as error:  # a file system without hard links: rename, after the check above
            if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                raise
            os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return "written"
