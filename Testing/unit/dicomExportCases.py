"""Source series with a known answer for the DICOM export tests (SEG, SR, parametric maps).

Series are written by the virtual cohort's writer (:func:`VirtualBiopsy.data.dicomWriter.writeSeries`), whose
geometry is exact; masks are boxes at known voxels. dcmqi's converters and ``dciodvfy`` decode and validate the
exported objects independently of highdicom.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
import SimpleITK as sitk

from VirtualBiopsy.data.dicomWriter import PROTOCOLS, SeriesHeader, obliqueDirection, uid, writeSeries

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
LEFT_HANDED = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
DIRECTIONS = {"axial": AXIAL, "oblique": obliqueDirection(20.0), "left-handed": LEFT_HANDED}
SIZE = (20, 18, 8)


def sourceImage(direction=AXIAL, size=SIZE) -> sitk.Image:
    """An Int16 MR-like volume (seeded noise) on an anisotropic grid with ``direction``."""
    array = np.random.default_rng(3).integers(0, 1000, size=size[::-1]).astype(np.int16)
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((0.9, 1.1, 3.3))
    image.SetOrigin((-12.5, 30.25, 7.125))
    image.SetDirection(direction)
    return image


def header(number: int = 1, frame: str = "f") -> SeriesHeader:
    """A T2 series header of the planted patient (frame of reference from ``frame``)."""
    return SeriesHeader("DOE^JANE", "NHS-943-476-5919", "19230101", "ACC-7731", uid("study"), uid("series", number),
                        uid(frame), number, PROTOCOLS["T2"])  # fmt: skip


def writeReference(folder: pathlib.Path, direction=AXIAL, number: int = 1, frame: str = "f") -> sitk.Image:
    """Write the source series into ``folder``; return the source volume (its grid is the mask's grid)."""
    image = sourceImage(direction)
    writeSeries([image], folder, header(number, frame))
    return image


def labelmap(image: sitk.Image) -> sitk.Image:
    """Labels 1 (3×6×8 voxels), 2 (2×4×4) and nothing of 3, on ``image``'s grid."""
    array = np.zeros(image.GetSize()[::-1], np.uint8)
    array[2:5, 3:9, 4:12] = 1
    array[4:6, 10:14, 5:9] = 2
    result = sitk.GetImageFromArray(array)
    result.CopyInformation(image)
    return result


def onGridOf(mask: sitk.Image, grid: sitk.Image) -> np.ndarray:
    """``mask``'s voxels resampled (nearest neighbour) onto ``grid``: comparisons in physical space."""
    return sitk.GetArrayFromImage(sitk.Resample(mask, grid, sitk.Transform(), sitk.sitkNearestNeighbor, 0.0))


def dcmqiTool(name: str) -> str:
    """The path of one of dcmqi's converters (its wheel ships them); skip when dcmqi is not installed."""
    candidates = [pathlib.Path(sys.executable).parent / name, shutil.which(name)]
    try:
        import dcmqi  # noqa: F401

        candidates.append(pathlib.Path(dcmqi.__file__).parent / "bin" / name)
    except ImportError:
        pass
    for candidate in candidates:
        if candidate and pathlib.Path(candidate).is_file():
            return str(candidate)
    pytest.skip(f"dcmqi's {name} is not installed: python -m pip install dcmqi (the 'test' extra)")


def dciodvfyErrors(path: pathlib.Path) -> tuple[list[str], list[str]]:
    """(error lines, warning lines) of ``dciodvfy PATH``; skip when dicom3tools is not installed."""
    if shutil.which("dciodvfy") is None:
        pytest.skip("install dicom3tools: sudo apt-get install -y dicom3tools")
    result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=120)
    lines = (result.stdout + result.stderr).splitlines()
    return [line for line in lines if line.startswith("Error")], [line for line in lines if line.startswith("Warning")]
