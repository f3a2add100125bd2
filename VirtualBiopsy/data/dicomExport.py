"""A hospital-like DICOM export of virtual patients, with the ground truth of what was planted.

Every patient has a study with a 3-plane localizer, T1, T1c, T2, FLAIR, a DWI
(b = 0, 500, 1000 in one series) and an ADC map; patient 0 also has a follow-up
study whose T1c slices are spread over two folders. Each first study has an
RTSTRUCT (ROI "GTV", the ground-truth tumour) drawn on its T1c series. Patient
``k`` is scanned on an axis-aligned grid (``k % 3 == 0``), an oblique one (1)
or a left-handed one (2).
Planted problems: patient 1's FLAIR misses its middle slice; patient 2's T1
carries a contrast agent under a pre-contrast description and its T2 a slice
thickness half its spacing. The T1 series reuse the T1c voxels (only headers
differ: the indexer never reads pixels). A text file and a DICOMDIR stray sit at
the top. Patient 0 carries :data:`~.dicomWriter.PLANTED_IDENTIFIERS`.
"""

from __future__ import annotations

import pathlib
import shutil
from typing import Any

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.data.dicomRtstruct import writeRtstruct
from VirtualBiopsy.data.dicomWriter import (
    B_VALUES,
    DWI_ADC,
    PLANTED_IDENTIFIERS,
    PROTOCOLS,
    SeriesHeader,
    obliqueDirection,
    uid,
    writeLocalizer,
    writeSeries,
)
from VirtualBiopsy.data.scanner import SITES
from VirtualBiopsy.data.virtualCase import generateCase
from VirtualBiopsy.errors import InputError, requirePackage

#: Series of every study, in series-number order: (planted class, source image).
STUDY_SERIES = (("localizer", "T1c"), ("T1", "T1c"), ("T1c", "T1c"), ("T2", "T2"), ("FLAIR", "FLAIR"))


def identifiersOf(index: int) -> tuple[str, str, str, str]:
    """Name, birth date, accession number and patient id of patient ``index`` (0: the planted ones)."""
    name, birth, accession, patient = PLANTED_IDENTIFIERS
    if index == 0:
        return name, birth, accession, patient
    return f"{name}{index}", f"1950010{index % 9 + 1}", f"{accession}-{index}", f"{patient[:-4]}{1000 + index}"


def writeHospitalExport(folder: pathlib.Path, patients: int = 3, seed: int = 0, size: int = 40) -> dict:
    """Write the export under ``folder`` (created; must not exist or be empty) and return its ground truth.

    :returns: ``{"series": {seriesUid: {"patient", "study", "folder" (relative), "sequence", "flags" (set),
        "bValues", "files"} (the RTSTRUCTs also with "references", the series UID they are drawn on)}, "skipped": {relative path: reason word}, "identifiers": [...]}``.
    :raises InputError: for a folder that holds files already.
    """
    folder = pathlib.Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise InputError(f"DICOM export folder {folder} is not empty; give a new or empty folder.")
    folder.mkdir(parents=True, exist_ok=True)
    truth: dict = {"series": {}, "skipped": {}, "identifiers": []}
    for index in range(patients):
        case = generateCase(index, seed, size)
        name, birth, accession, patientId = identifiersOf(index)
        truth["identifiers"] += [name, birth, accession]
        site = next(site for site in SITES if site.name == case.site)
        images = {key: _placed(image, index) for key, image in case.images.items()}
        studies: list[tuple[str, tuple[tuple[str, str], ...]]] = [
            ("20240115", STUDY_SERIES + (("DWI", "T2"), ("ADC", "T2")))
        ]
        if index == 0:
            studies.append(("20240601", (("T1c", "T1c"), ("FLAIR", "FLAIR"))))
        for studyIndex, (date, series) in enumerate(studies):
            studyUid = uid(seed, index, studyIndex, "study")
            frame = uid(seed, index, studyIndex, "frame")
            for number, (kind, source) in enumerate(series, start=1):
                header = SeriesHeader(
                    name, patientId, birth, accession, studyUid, uid(seed, index, studyIndex, number), frame, number,
                    PROTOCOLS[kind], site.fieldStrength, date,
                )  # fmt: skip
                relative = f"PAT{index + 1:03d}/STUDY{studyIndex + 1}/SER{number:02d}"
                entry: dict[str, Any] = {"patient": patientId, "study": studyUid, "folder": relative, "sequence": kind,
                         "flags": set(), "bValues": None}  # fmt: skip
                paths = _writeKind(kind, images, source, folder / relative, header, index, entry)
                if index == 0 and studyIndex == 1 and kind == "T1c":
                    spread = folder / f"{relative}B"
                    spread.mkdir()
                    for path in paths[::2]:
                        shutil.move(path, spread / path.name)
                    entry["flags"].add("spread_folders")
                entry["files"] = len(paths)
                truth["series"][header.seriesUid] = entry
            if studyIndex == 0:
                _writeTumourOutline(folder, index, case.mask, truth)
    _writeStrays(folder, truth)
    return truth


def _writeKind(kind, images, source, target, header, index, entry) -> list[pathlib.Path]:
    """Write one planted series and record its class and flags in ``entry``."""
    image = images[source]
    if kind == "localizer":
        entry["flags"].add("localizer")
        return writeLocalizer(image, target, header)
    if kind == "DWI":
        entry["bValues"] = list(B_VALUES)
        volumes = [_diffusion(image, b) for b in B_VALUES]
        return writeSeries(volumes, target, header, perVolume=[{"DiffusionBValue": float(b)} for b in B_VALUES])
    if kind == "ADC":
        entry["flags"].add("derived")
        adc = sitk.Cast(sitk.Cast(image > 0, sitk.sitkInt16) * int(DWI_ADC * 1e6), sitk.sitkInt16)
        return writeSeries([adc], target, header)
    dropSlice = None
    if index == 1 and kind == "FLAIR":
        dropSlice = image.GetSize()[2] // 2
        entry["flags"].add("missing_slice")
    if index == 2 and kind == "T1":
        header.extra["ContrastBolusAgent"] = "GADOBUTROL"
        entry["sequence"] = "T1c"
        entry["flags"].add("contrast_description")
    if index == 2 and kind == "T2":
        header.extra["SliceThickness"] = f"{image.GetSpacing()[2] / 2:g}"
        entry["flags"].add("thickness_spacing")
    return writeSeries([image], target, header, dropSlice=dropSlice)


def _writeTumourOutline(folder: pathlib.Path, index: int, mask: sitk.Image, truth: dict) -> None:
    """The radiologist's outline of the tumour (ROI "GTV") as an RTSTRUCT on the first study's T1c series."""
    pydicom = requirePackage("pydicom")
    reference = next(
        (uid, entry) for uid, entry in truth["series"].items()
        if entry["patient"] == identifiersOf(index)[3] and entry["folder"].endswith("STUDY1/SER03")
    )  # fmt: skip
    relative = f"PAT{index + 1:03d}/STUDY1/SER90"
    (folder / relative).mkdir(parents=True)
    path = writeRtstruct(folder / relative / "RS00001", folder / reference[1]["folder"], {"GTV": _placed(mask, index)})
    written = pydicom.dcmread(path, stop_before_pixels=True)
    truth["series"][str(written.SeriesInstanceUID)] = {
        "patient": identifiersOf(index)[3], "study": reference[1]["study"], "folder": relative,
        "sequence": "RTSTRUCT", "flags": set(), "bValues": None, "files": 1, "references": reference[0],
    }  # fmt: skip


def _placed(image: sitk.Image, index: int) -> sitk.Image:
    """``image`` on patient ``index``'s grid: axis-aligned, oblique or left-handed."""
    placed = sitk.Image(image)
    if index % 3 == 1:
        placed.SetDirection(obliqueDirection(12.0))
    elif index % 3 == 2:
        placed.SetDirection((1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, -1.0))
    return placed


def _diffusion(image: sitk.Image, b: float) -> sitk.Image:
    """The diffusion-weighted signal at ``b`` of a tissue with ADC :data:`DWI_ADC`, from the b = 0 image."""
    array = sitk.GetArrayFromImage(image).astype(np.float64) * np.exp(-b * DWI_ADC)
    result = sitk.GetImageFromArray(np.round(array).astype(np.int16))
    result.CopyInformation(image)
    return result


def _writeStrays(folder: pathlib.Path, truth: dict) -> None:
    """A text file and a DICOMDIR (a directory record, not an image) at the top of the export."""
    pydicom = requirePackage("pydicom")
    (folder / "README.txt").write_text("Export from the virtual PACS.\n")
    meta = pydicom.dataset.FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.1.3.10"
    meta.MediaStorageSOPInstanceUID = uid("dicomdir", str(folder.name))
    meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    directory = pydicom.dataset.Dataset()
    directory.file_meta = meta
    directory.FileSetID = "VBEXPORT"
    directory.save_as(folder / "DICOMDIR", enforce_file_format=True)
    truth["skipped"] = {"README.txt": "not_dicom", "DICOMDIR": "dicomdir"}
