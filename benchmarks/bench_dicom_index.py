"""Indexing a DICOM folder: ``indexFolder`` against a plain ``pydicom.dcmread`` loop over the same files.

The export (written once, cached under the system temp dir, or ``--folder``) is one
virtual patient's study (T1, T1c, T2, FLAIR, a DWI with 3 b-values, an ADC map;
160 single-frame MR files of ``--size``² int16 pixels) copied with new UIDs and
patient ids (by byte patching, same lengths) until it holds ``--files`` files.
Prints files/s of both, their ratio and whether both found the same series (the
plain loop's datasets grouped by SeriesInstanceUID). Run with
``.venv/bin/python benchmarks/bench_dicom_index.py`` (20,000 files of 256², about
2.6 GB) and ``--size 40`` for small files (where the pixel data costs pydicom little).
"""

import argparse
import pathlib
import tempfile
import time

import numpy as np
import pydicom
import SimpleITK as sitk

from VirtualBiopsy.data.dicomWriter import B_VALUES, PROTOCOLS, SeriesHeader, uid, writeSeries
from VirtualBiopsy.dicom.index import indexFolder, listFiles

SLICES = 20


def writeTemplate(folder: pathlib.Path, size: int) -> None:
    """One study of 160 files: T1, T1c, T2, FLAIR (20 slices each), DWI (3 × 20), ADC (20)."""
    rng = np.random.default_rng(0)
    voxels = rng.normal(400, 60, (SLICES, size, size)).astype(np.int16)
    image = sitk.GetImageFromArray(voxels)
    image.SetSpacing((240 / size, 240 / size, 5.0))
    study, frame = uid("bench", "study"), uid("bench", "frame")
    kinds = ("T1", "T1c", "T2", "FLAIR", "DWI", "ADC")
    for number, kind in enumerate(kinds, start=1):
        header = SeriesHeader(
            "BENCH^PATIENT", "BENCH-0000-0000", "19700101", "ACC-0000", study, uid("bench", number), frame, number,
            PROTOCOLS[kind],
        )  # fmt: skip
        volumes, perVolume = [image], None
        if kind == "DWI":
            volumes, perVolume = [image] * len(B_VALUES), [{"DiffusionBValue": float(b)} for b in B_VALUES]
        writeSeries(volumes, folder / f"SER{number:02d}", header, perVolume=perVolume)


def replicate(template: pathlib.Path, folder: pathlib.Path, files: int) -> None:
    """Copies of the template study, each with new UIDs and a new patient id, until ``files`` files exist."""
    sources = listFiles(template)
    originals = []
    for path in sources:
        dataset = pydicom.dcmread(path, stop_before_pixels=True)
        uids = {str(dataset[k].value) for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID",
                                                 "FrameOfReferenceUID")}  # fmt: skip
        originals.append((pathlib.Path(path), pathlib.Path(path).read_bytes(), uids))
    written, copy = 0, 0
    while written < files:
        copy += 1
        for path, data, uids in originals:
            if written == files:
                break
            for old in uids:
                data = data.replace(old.encode(), f"{old[:-6]}{copy:06d}".encode())
            data = data.replace(b"BENCH-0000-0000", f"BENCH-{copy:04d}-0000".encode())
            target = folder / f"PAT{copy:04d}" / path.relative_to(template)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            written += 1


def export(size: int, files: int) -> pathlib.Path:
    """The cached export of ``files`` files of ``size``² pixels (written on the first run)."""
    root = pathlib.Path(tempfile.gettempdir()) / "virtual-biopsy-bench-dicom-index" / f"{size}px-{files}"
    done = root / "complete"
    if not done.exists():
        print(f"writing {files} files of {size}×{size} pixels under {root} (once)")
        writeTemplate(root / "template", size)
        replicate(root / "template", root / "export", files)
        done.write_text("ok\n")
    return root / "export"


def plainLoop(paths: list[str]) -> tuple[float, set[str]]:
    """Seconds of ``pydicom.dcmread`` over ``paths`` and the series its datasets group into."""
    start = time.perf_counter()
    series: dict[str, list] = {}
    for path in paths:
        dataset = pydicom.dcmread(path)
        series.setdefault(str(dataset.SeriesInstanceUID), []).append(dataset)
    return time.perf_counter() - start, set(series)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=pathlib.Path, help="index this folder instead of the generated export")
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    arguments = parser.parse_args()
    folder = arguments.folder or export(arguments.size, arguments.files)
    paths = listFiles(folder)
    for path in paths:  # the page cache holds every file for both readers
        pathlib.Path(path).read_bytes()
    plainSeconds, plainSeries = plainLoop(paths)
    plainRate = len(paths) / plainSeconds
    print(f"{folder}: {len(paths)} files, {len(plainSeries)} series")
    print(f"plain pydicom.dcmread loop: {plainSeconds:.2f} s, {plainRate:,.0f} files/s")
    for workers in arguments.workers:
        seconds = []
        for _ in range(3):
            index = indexFolder(folder, workers=workers)
            seconds.append(index.seconds)
        same = {row.seriesUid for row in index.series} == plainSeries
        rate = len(paths) / min(seconds)
        print(
            f"indexFolder, {workers} worker(s): {min(seconds):.2f} s (best of 3), {rate:,.0f} files/s, "
            f"{rate / plainRate:.1f}× the plain loop; same {len(index.series)} series: {same}"
        )


if __name__ == "__main__":
    main()
