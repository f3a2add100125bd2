"""``virtual-biopsy dicom import-series`` and ``dicom import-rtstruct``: a DICOM series or RTSTRUCT to files."""

from __future__ import annotations

import argparse
import pathlib

LABELMAP_EXTENSIONS = (".nrrd", ".nhdr", ".nii", ".nii.gz", ".mha", ".mhd")


def addParser(actions) -> None:
    """Add the ``import-series`` and ``import-rtstruct`` actions to the ``dicom`` parser's ``actions``."""
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
    import numpy as np
    import SimpleITK as sitk

    from VirtualBiopsy.dicom.rtstruct import readRtstructRois
    from VirtualBiopsy.files import atomicOutput, requireExtension, writeImage

    extension = requireExtension(arguments.out, (".seg.nrrd", *LABELMAP_EXTENSIONS), "--out segmentation file")
    _requireOutside(arguments.out, arguments.reference)
    rois = readRtstructRois(arguments.rtstruct, arguments.reference)
    if extension == ".seg.nrrd":
        _writeSegmentation(arguments, rois)
    else:
        labels = np.zeros(sitk.GetArrayViewFromImage(rois[0].mask).shape if rois else (1, 1, 1), dtype=np.uint16)
        for value, roi in enumerate(rois, start=1):
            labels[sitk.GetArrayViewFromImage(roi.mask) != 0] = value
        image = sitk.GetImageFromArray(labels)
        if rois:
            image.CopyInformation(rois[0].mask)
        with atomicOutput(arguments.out, arguments.overwrite) as staged:
            writeImage(image, staged)
    for value, roi in enumerate(rois, start=1):
        voxels = int(sitk.GetArrayViewFromImage(roi.mask).sum())
        print(f"{value}\t{roi.name}\t{voxels} voxels")
    print(f"{len(rois)} ROIs: {arguments.out}")
    return 0


def _writeSegmentation(arguments: argparse.Namespace, rois) -> None:
    from VirtualBiopsy.mrml.dicomNodes import loadRtstructNode
    from VirtualBiopsy.mrml.scene import createScene
    from VirtualBiopsy.mrml.storage import saveNode

    scene = createScene()
    node = loadRtstructNode(arguments.rtstruct, arguments.reference, scene, rois=rois)
    saveNode(node, arguments.out, overwrite=arguments.overwrite)


def _requireOutside(out: pathlib.Path, source: pathlib.Path) -> None:
    from VirtualBiopsy.errors import InputError

    folder, target = source.resolve(), out.resolve()
    if folder.is_dir() and (target == folder or folder in target.parents):
        raise InputError(
            f"--out {out} is inside the DICOM folder {source}, which is never written; give a path outside it."
        )
