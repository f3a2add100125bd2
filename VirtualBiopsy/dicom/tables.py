"""Write an index: ``series.csv`` (one row per series), ``skipped.csv`` (files that are not DICOM images),
``manifest.csv`` (the draft pipeline manifest) and ``manifest-notes.csv`` (why a cell is empty).

The draft takes, per patient, one study (the one with the most usable classified
series; the earliest on a tie) and in it the best series per sequence: the highest
confidence among series without a blocking flag (:data:`BLOCKING`). A cell is the
series' folder (absolute: the export is outside ``DIR``; run the manifest with
``--data-root EXPORT``) only when that folder holds exactly that series; a series
spread over folders or sharing its folder with other series, like one with a
missing slice, leaves the cell empty and a note says why, so that the curator
can move its files into a folder of its own. The ``mask`` cell is the SEG or
RTSTRUCT file that references the drafted T1c series (else the first drafted
sequence), with a note naming it. Diffusion and perfusion series (DWI, ADC, DCE)
are noted, not drafted: the pipeline reads 3-D structural series. The tables carry the DICOM
PatientID (the curator must find the patient in the PACS) but never a patient
name, birth date or accession number; de-identify before data leaves the hospital.
"""

from __future__ import annotations

import pathlib

from VirtualBiopsy.dicom.index import DicomIndex, SeriesRow
from VirtualBiopsy.files import writeTextAtomically

#: Flags that keep a series out of the draft manifest.
BLOCKING = (
    "localizer", "secondary_capture", "missing_geometry", "mixed_orientations", "mixed_sizes",
    "duplicated_positions", "missing_slice", "uneven_spacing", "undecodable", "shared_series_uid",
    "spread_folders", "shared_folder", "several_echoes", "several_acquisitions", "no_pixel_data", "truncated_pixels",
    "reference_missing", "frame_of_reference_mismatch",
)  # fmt: skip
#: Objects that can give a patient's mask, in order of preference.
MASK_MODALITIES = ("SEG", "RTSTRUCT")
#: Manifest columns, in order (those no patient has are left out).
MANIFEST_SEQUENCES = ("T1c", "T1", "T2", "FLAIR", "CT")
#: Classes that ``virtual-biopsy run`` does not read yet (multi-volume or derived series): noted, not drafted.
NOT_DRAFTED = ("DWI", "ADC", "DCE")
SERIES_COLUMNS = (
    "patient_id", "study_uid", "series_uid", "modality", "description", "sequence", "confidence", "reason", "flags",
    "flag_reasons", "files", "folder", "series_number", "rows", "columns", "pixel_spacing", "slice_thickness",
    "slice_spacing", "orientation", "repetition_time", "echo_time", "inversion_time", "flip_angle",
    "field_strength", "contrast_agent", "b_values", "time_points", "references",
)  # fmt: skip


def writeIndex(index: DicomIndex, out: pathlib.Path) -> dict[str, pathlib.Path]:
    """Write the four tables into ``out`` (created) and return their paths by name."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest, notes = draftManifest(index)
    tables = {
        "series": [SERIES_COLUMNS] + [_seriesCells(row) for row in index.series],
        "skipped": [("path", "reason")] + list(index.skipped),
        "manifest": manifest,
        "manifest-notes": [("patient", "sequence", "series_uid", "note")] + notes,
    }
    paths = {}
    for name, rows in tables.items():
        paths[name] = out / f"{name}.csv"
        writeTextAtomically(_csv(rows), paths[name])
    return paths


def draftManifest(index: DicomIndex) -> tuple[list[tuple], list[tuple]]:
    """The draft manifest's rows (header first) and the notes ``(patient, sequence, series_uid, note)``."""
    patients: dict[str, list[SeriesRow]] = {}
    for row in index.series:
        patients.setdefault(row.patientId, []).append(row)
    chosen: dict[str, dict[str, str]] = {}
    notes: list[tuple] = []
    for patient, rows in patients.items():
        studies: dict[str, list[SeriesRow]] = {}
        for row in rows:
            studies.setdefault(row.studyUid, []).append(row)
        study = min(
            studies,
            key=lambda uid: (-len({r.sequence for r in studies[uid] if _usable(r)}), studies[uid][0].studyDate, uid),
        )
        if len(studies) > 1:
            notes.append(
                (patient, "", "", f"{len(studies) - 1} other stud(ies) not drafted; the draft uses study {study}")
            )
        chosen[patient] = {}
        for sequence in MANIFEST_SEQUENCES:
            candidates = [r for r in studies[study] if r.sequence == sequence]
            usable = sorted(
                (r for r in candidates if _usable(r)), key=lambda r: (-r.confidence, len(r.flags), r.seriesUid)
            )
            if usable:
                chosen[patient][sequence] = _cellOf(index, usable[0])
            for row in candidates:
                if not _usable(row):
                    blocking = ", ".join(f"{name}: {row.flags[name]}" for name in row.flags if name in BLOCKING)
                    notes.append((patient, sequence, row.seriesUid, f"left out ({blocking})"))
        for row in studies[study]:
            if row.sequence in NOT_DRAFTED:
                notes.append(
                    (patient, row.sequence, row.seriesUid,
                     f"not drafted: 'virtual-biopsy run' reads 3-D structural series ({', '.join(MANIFEST_SEQUENCES)}); "
                     f"this {row.sequence} series is in series.csv ({';'.join(row.folders)})")
                )  # fmt: skip
        _draftMask(index, patient, rows, chosen[patient], notes)
    columns = [s for s in MANIFEST_SEQUENCES if any(s in cells for cells in chosen.values())]
    table: list[tuple] = [("patient", *columns, "mask")]
    table += [(p, *(cells.get(s, "") for s in columns), cells.get("mask", "")) for p, cells in chosen.items()]
    return table, notes


def _draftMask(index: DicomIndex, patient: str, rows: list[SeriesRow], cells: dict[str, str], notes: list) -> None:
    """The ``mask`` cell: the SEG or RTSTRUCT file that references the drafted T1c series (or the first drafted
    sequence), with a note saying which; notes for the patient's objects that reference no drafted series."""
    objects = [row for row in rows if row.modality in MASK_MODALITIES]
    drafted = {
        row.seriesUid: row.sequence
        for row in rows
        if row.sequence in cells and _cellOf(index, row) == cells[row.sequence]
    }
    target = next((uid for sequence in MANIFEST_SEQUENCES for uid, s in drafted.items() if s == sequence), None)
    candidates = sorted(
        (row for row in objects if target in row.references and _usable(row, objects=True)),
        key=lambda row: (MASK_MODALITIES.index(row.modality), row.seriesUid),
    )
    if candidates and target is not None:
        chosen = candidates[0]
        cells["mask"] = str((index.folder / chosen.firstFile).resolve())
        notes.append(
            (patient, "mask", chosen.seriesUid,
             f"{chosen.modality} {chosen.firstFile} references the drafted {drafted[target]} series {target}")
        )  # fmt: skip
    for row in objects:
        if candidates and row is candidates[0]:
            continue
        if not _usable(row, objects=True):
            blocking = ", ".join(f"{name}: {row.flags[name]}" for name in row.flags if name in BLOCKING)
            notes.append((patient, "mask", row.seriesUid, f"{row.modality} left out ({blocking})"))
        elif target not in row.references:
            notes.append(
                (patient, "mask", row.seriesUid,
                 f"{row.modality} references {';'.join(row.references)}, not the drafted series {target or '(none)'}")
            )  # fmt: skip


def _cellOf(index: DicomIndex, row: SeriesRow) -> str:
    return str((index.folder / row.folders[0]).resolve())


def _usable(row: SeriesRow, objects: bool = False) -> bool:
    """A series the draft may use: classified, in one folder of its own and without a blocking flag (an object,
    a SEG or RTSTRUCT file, may share its folder)."""
    blocking = [name for name in row.flags if name in BLOCKING and not (objects and name == "shared_folder")]
    return (objects or (row.sequence in MANIFEST_SEQUENCES and len(row.folders) == 1)) and not blocking


def _seriesCells(row: SeriesRow) -> tuple:
    return (
        row.patientId, row.studyUid, row.seriesUid, row.modality, row.description, row.sequence, f"{row.confidence:g}",
        row.reason, ";".join(row.flags), "; ".join(f"{k}: {v}" for k, v in row.flags.items()), row.files,
        ";".join(row.folders), row.seriesNumber, row.rows, row.columns, _joined(row.pixelSpacing),
        row.sliceThickness, "" if row.sliceSpacing is None else f"{row.sliceSpacing:g}", _joined(row.orientation),
        row.repetitionTime, row.echoTime, row.inversionTime, row.flipAngle, row.fieldStrength, row.contrastAgent,
        _joined(row.bValues), row.timePoints or "", ";".join(row.references),
    )  # fmt: skip


def _joined(values) -> str:
    if values is None or values == ():
        return ""
    return "\\".join(
        f"{v:g}" if isinstance(v, float) else str(v) for v in (values if isinstance(values, tuple) else (values,))
    )


def _csv(rows: list) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow(["" if cell is None else cell for cell in row])
    return buffer.getvalue()
