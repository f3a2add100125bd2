"""Generated hostile images for ``test_hostile_images.py``: tiny volumes and masks with known values, sheared
and oblique grids, masks beyond their image, DICOM series with corrupt, missing and duplicated slices.

Every writer returns the paths it wrote; nothing here reads a file back.
"""

from __future__ import annotations

import math
import pathlib

import numpy as np
import SimpleITK as sitk

#: A 16×16×16 grid of 1 mm voxels; the ROI is the centre 8×8×8 block (512 voxels).
SIZE = 16
ROI = (slice(4, 12), slice(4, 12), slice(4, 12))
ROI_VOXELS = 512

#: A 45° shear of the slice axis towards x: the true voxel volume is sqrt(1/2) of the product of the spacings.
SHEARED = (1.0, 0.0, math.sqrt(0.5), 0.0, 1.0, 0.0, 0.0, 0.0, math.sqrt(0.5))
#: A rotation by 30° about z (oblique but orthogonal) and a left-handed grid (slice axis reversed).
ROTATED = (
    math.cos(math.pi / 6),
    -math.sin(math.pi / 6),
    0.0,
    math.sin(math.pi / 6),
    math.cos(math.pi / 6),
    0.0,
    0,
    0,
    1,
)
LEFT_HANDED = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, -1.0)

#: Identifiers planted in DICOM headers (the harness's list): none may reach a message or an output.
PLANTED_NAME, PLANTED_ID = "DOE^JANE", "NHS-943-476-5919"


def image(
    voxels: np.ndarray,
    spacing: tuple[float, ...] = (1.0, 1.0, 1.0),
    direction: tuple[float, ...] | None = None,
    origin: tuple[float, ...] = (0.0, 0.0, 0.0),
) -> sitk.Image:
    """A SimpleITK image of ``voxels`` (KJI) with the given grid."""
    result = sitk.GetImageFromArray(voxels)
    result.SetSpacing(spacing)
    result.SetOrigin(origin)
    if direction is not None:
        result.SetDirection(direction)
    return result


def write(path: pathlib.Path, item: sitk.Image) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(item, str(path))
    return path


def roiMask(**grid) -> sitk.Image:
    """The 0/1 UInt8 mask of :data:`ROI` on the 16³ grid."""
    voxels = np.zeros((SIZE,) * 3, np.uint8)
    voxels[ROI] = 1
    return image(voxels, **grid)


def spreadValues(low: float, high: float, seed: int = 7) -> np.ndarray:
    """A 16³ float64 array whose ROI holds values from ``low`` to ``high`` (both present), random elsewhere in it."""
    rng = np.random.default_rng(seed)
    voxels = rng.uniform(low, high, (SIZE,) * 3).round()
    roi = voxels[ROI]
    roi.flat[0], roi.flat[1] = low, high
    voxels[ROI] = roi
    return voxels


def ctCase(folder: pathlib.Path) -> dict[str, pathlib.Path]:
    """A CT-range case: the ROI spans -1000 to 2999 HU (int16), 1 mm voxels."""
    voxels = spreadValues(-1000, 2999).astype(np.int16)
    return {"image": write(folder / "ct.nrrd", image(voxels)), "mask": write(folder / "mask.nrrd", roiMask())}


def sameVoxels(dtype: str) -> sitk.Image:
    """The same voxel values stored as ``dtype``: in the bottom of int8's range (-128..-60) for signed and real
    types, at the top of uint8's (187..255) for unsigned ones."""
    low, high = (187, 255) if dtype.startswith("uint") else (-128, -60)
    return image(spreadValues(low, high, seed=3).astype(dtype))


def parameterFile(path: pathlib.Path, text: str) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def maskOnGrid(size: int, spacing: float, origin: float, box: tuple[slice, ...]) -> sitk.Image:
    """A ``size``³ 0/1 mask of ``spacing`` mm voxels starting at ``origin`` mm, 1 on ``box`` (KJI)."""
    voxels = np.zeros((size,) * 3, np.uint8)
    voxels[box] = 1
    return image(voxels, spacing=(spacing,) * 3, origin=(origin,) * 3)


def dicomSeries(
    folder: pathlib.Path,
    slices: int = 16,
    spacing: float = 2.0,
    positions: list[float] | None = None,
    sizes: dict[int, int] | None = None,
) -> list[pathlib.Path]:
    """A DICOM MR series written slice by slice (``slice_000.dcm`` …), 8×8 pixels of 0.5 mm, ``spacing`` mm
    apart (or at ``positions``); ``sizes`` gives some slices another width. Each slice's value is its index."""
    folder.mkdir(parents=True, exist_ok=True)
    series = "1.2.826.0.1.3680043.2.1125.7.1"
    positions = positions if positions is not None else [spacing * index for index in range(slices)]
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    paths = []
    for index, z in enumerate(positions):
        width = (sizes or {}).get(index, 8)
        piece = sitk.GetImageFromArray(np.full((1, 8, width), index * 10, np.int16))
        piece.SetSpacing((0.5, 0.5, spacing))
        tags = {
            "0010|0010": PLANTED_NAME,
            "0010|0020": PLANTED_ID,
            "0020|000d": "1.2.826.0.1.3680043.2.1125.7",
            "0020|000e": series,
            "0008|0060": "MR",
            "0020|0013": str(index + 1),
            "0020|0032": f"0\\0\\{z:g}",
            "0020|0037": "1\\0\\0\\0\\1\\0",
            "0028|0030": "0.5\\0.5",
            "0008|0018": f"{series}.{index + 1}",
        }
        for tag, value in tags.items():
            piece.SetMetaData(tag, value)
        path = folder / f"slice_{index:03d}.dcm"
        writer.SetFileName(str(path))
        writer.Execute(piece)
        paths.append(path)
    return paths


def truncate(path: pathlib.Path, keep: int = 300) -> None:
    """Cut ``path`` to its first ``keep`` bytes (a corrupt copy)."""
    path.write_bytes(path.read_bytes()[:keep])
