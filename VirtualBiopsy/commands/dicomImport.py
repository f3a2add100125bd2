"""``virtual-biopsy dicom import-series``, ``import-rtstruct`` and ``import-seg``: a DICOM series, RTSTRUCT or
DICOM SEG to files."""

from __future__ import annotations

import argparse
import pathlib

LABELMAP_EXTENSIONS = (".nrrd", ".nhdr", ".nii", ".nii.gz", ".mha", ".mhd")


def addParser(actions) -> None:
    """Add the ``import-series``, ``import-rtstruct`` and ``import-seg`` actions to the ``dicom`` parser's
    ``actions``."""
    series = actions.add_parser(
        "import-series",
        help="read one DICOM series folder (classic, enhanced multi-frame, compressed) into a volume file",
        description="Read the DICOM series in FOLDER with exact geometry (oblique, left-handed, multi-frame, "
        "compressed transfer syntaxes) and write it to --out. Incomplete or irregular series are refused with every "
        "problem listed; a gantry-tilted series is refused unless --resample-tilt is given. FOLDER is never written.",
    )
    series.add_argument("folder", type=pathlib.Path, metavar="FOLDER", help="the series' folder")
    series.add_argument("--out", type=pathlib.Path, required=True, metavar="IMAGE", help="volume file to write")
    series.add_argument(
        "--resample-tilt",
        action="store_true",
        help="resample a gantry-tilted series onto an orthogonal grid (linear interpolation) instead of refusing it",
    )
    series.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    series.set_defaults(run=runSeries)
    rtstruct = actions.add_parser(
        "import-rtstruct",
        help="rasterise an RTSTRUCT's ROIs on its reference series' grid",
        description="Rasterise every ROI of RTSTRUCT on the grid of the series in --reference (which it must "
        "reference) and write --out: a .seg.nrrd Slicer segmentation with the ROI names and colours, or a labelmap "
        "(.nrrd, .nii.gz, ...) with values 1..N in the file's ROI order (the mapping is printed; a voxel in several "
        "ROIs gets the later one's value).",
    )
    rtstruct.add_argument("rtstruct", type=pathlib.Path, metavar="RTSTRUCT", help="the RT Structure Set file")
    rtstruct.add_argument("--reference", type=pathlib.Path, required=True, metavar="SERIES_FOLDER")
    rtstruct.add_argument("--out", type=pathlib.Path, required=True, metavar="SEG", help=".seg.nrrd or labelmap file")
    rtstruct.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    rtstruct.set_defaults(run=runRtstruct)
    seg = actions.add_parser(
        "import-seg",
        help="read a DICOM SEG's segments (on its reference series' grid with --reference)",
        description="Read every segment of a DICOM SEG (binary; fractional ones at 0.5) and write --out: a .seg.nrrd "
        "Slicer segmentation with the segment labels as names, or a labelmap (.nrrd, .nii.gz, ...) with values 1..N "
        "in segment-number order (the mapping is printed; a voxel in several segments gets the later one's value). "
        "With --reference the segments lie on that series' grid (the SEG must be on its frame of reference); "
        "without, on the grid the SEG's frames span.",
    )
    seg.add_argument("seg", type=pathlib.Path, metavar="SEG", help="the DICOM Segmentation file")
    seg.add_argument("--reference", type=pathlib.Path, default=None, metavar="SERIES_FOLDER")
    seg.add_argument("--out", type=pathlib.Path, required=True, metavar="OUT", help=".seg.nrrd or labelmap file")
    seg.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    seg.set_defaults(run=runSeg)


def runSeries(arguments: argparse.Namespace) -> int:
    """Read the series and write the volume."""
    from VirtualBiopsy.dicom.seriesVolume import readSeries
    from VirtualBiopsy.files import atomicOutput, requireExtension, writeImage

    requireExtension(arguments.out, LABELMAP_EXTENSIONS, "--out volume file")
    _requireOutside(arguments.out, arguments.folder)
    volume = readSeries(arguments.folder, resampleTilt=arguments.resample_tilt)
    with atomicOutput(arguments.out, arguments.overwrite) as staged:
        writeImage(volume.image, staged)
    image = volume.image
    tilt = f", gantry tilt of {volume.tiltDegrees:.3g}° resampled" if volume.tiltDegrees is not None else ""
    print(
        f"series {volume.seriesUid}: {'×'.join(map(str, image.GetSize()))} voxels of "
        f"{'×'.join(f'{value:.4g}' for value in image.GetSpacing())} mm{tilt}: {arguments.out}"
    )
    return 0


def runRtstruct(arguments: argparse.Namespace) -> int:
    """Rasterise the ROIs and write the segmentation or labelmap."""
    from VirtualBiopsy.dicom.rtstruct import readRtstructRois

    _requireOutputFile(arguments)
    rois = readRtstructRois(arguments.rtstruct, arguments.reference)
    _writeMasks(arguments, [(roi.name, roi.mask, roi.color) for roi in rois], "ROIs")
    return 0


def runSeg(arguments: argparse.Namespace) -> int:
    """Read the segments and write the segmentation or labelmap."""
    from VirtualBiopsy.dicom.segImport import readSegmentation
    from VirtualBiopsy.mrml.dicomNodes import binaryMask

    _requireOutputFile(arguments)
    segments = readSegmentation(arguments.seg, arguments.reference)
    _writeMasks(arguments, [(segment.name, binaryMask(segment.mask), None) for segment in segments], "segments")
    return 0


def _requireOutputFile(arguments: argparse.Namespace) -> None:
    from VirtualBiopsy.files import requireExtension

    requireExtension(arguments.out, (".seg.nrrd", *LABELMAP_EXTENSIONS), "--out segmentation file")
    if arguments.reference is not None:
        _requireOutside(arguments.out, arguments.reference)


def _writeMasks(arguments: argparse.Namespace, masks: list, kind: str) -> None:
    """Write ``(name, mask, colour)`` as a ``.seg.nrrd`` segmentation or a labelmap 1..N; print the mapping."""
    import numpy as np
    import SimpleITK as sitk

    from VirtualBiopsy.files import atomicOutput, extensionOf, writeImage

    if extensionOf(arguments.out) == ".seg.nrrd":
        from VirtualBiopsy.mrml.dicomNodes import segmentationNodeFromMasks
        from VirtualBiopsy.mrml.scene import createScene
        from VirtualBiopsy.mrml.storage import saveNode

        scene = createScene()
        node = segmentationNodeFromMasks(masks, scene, arguments.out.name.removesuffix(".seg.nrrd"))
        saveNode(node, arguments.out, overwrite=arguments.overwrite)
    else:
        labels = np.zeros(sitk.GetArrayViewFromImage(masks[0][1]).shape if masks else (1, 1, 1), dtype=np.uint16)
        for value, (_name, mask, _color) in enumerate(masks, start=1):
            labels[sitk.GetArrayViewFromImage(mask) != 0] = value
        image = sitk.GetImageFromArray(labels)
        if masks:
            image.CopyInformation(masks[0][1])
        with atomicOutput(arguments.out, arguments.overwrite) as staged:
            writeImage(image, staged)
    for value, (name, mask, _color) in enumerate(masks, start=1):
        print(f"{value}\t{name}\t{int(sitk.GetArrayViewFromImage(mask).sum())} voxels")
    print(f"{len(masks)} {kind}: {arguments.out}")


def _requireOutside(out: pathlib.Path, source: pathlib.Path) -> None:
    from VirtualBiopsy.errors import InputError

    folder, target = source.resolve(), out.resolve()
    if folder.is_dir() and (target == folder or folder in target.parents):
        raise InputError(
            f"--out {out} is inside the DICOM folder {source}, which is never written; give a path outside it."
        )
