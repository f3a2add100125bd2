"""Slices through a patient's tumour: the segmentation sequence with the automatic segmentation's and the reference
mask's outlines, axial, coronal and sagittal through the tumour's centre of mass."""

from __future__ import annotations

import pathlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.cohort.report.figureStyle import (
    REFERENCE_COLOR,
    SEGMENTATION_COLOR,
    newFigure,
    pngDataUri,
    styled,
)
from VirtualBiopsy.cohort.report.runFolder import RunFolder
from VirtualBiopsy.cohort.report.runSettings import segmentationSequence
from VirtualBiopsy.errors import InputError


@dataclass
class TumourImages:
    """A case's image and masks on the segmentation's grid, oriented LPS (array axes k, j, i = S, P, L)."""

    sequence: str
    imagePath: pathlib.Path
    image: np.ndarray
    segmentation: np.ndarray
    reference: np.ndarray | None
    spacing: tuple[float, float, float]

    @property
    def volumeMm3(self) -> float:
        """The segmentation's volume (voxel count × voxel volume)."""
        return float(self.segmentation.sum()) * float(np.prod(self.spacing))


def readTumourImages(run: RunFolder, summary: dict) -> TumourImages:
    """Read the case's segmentation, its sequence (as acquired, else harmonized) and the reference mask
    (resampled onto the segmentation's grid, nearest neighbour).

    :raises InputError: when the segmentation or the image is absent or unreadable.
    """
    segmentationPath = run.path(summary.get("segmentation"))
    if segmentationPath is None or not segmentationPath.is_file():
        raise InputError(f"the segmentation {summary.get('segmentation') or '(none recorded)'} is absent")
    sequence = segmentationSequence(run, summary)
    candidates = [
        run.path((summary.get(key) or {}).get(sequence)) for key in ("images", "harmonized") if sequence is not None
    ]
    imagePath = next((p for p in candidates if p is not None and p.exists()), None)
    if imagePath is None:
        raise InputError(
            f"no readable {sequence or 'segmentation'} image (looked for {', '.join(map(str, candidates))})"
        )
    try:
        segmentation = sitk.ReadImage(str(segmentationPath))
        image = _readImage(imagePath)
    except RuntimeError as error:
        raise InputError(f"cannot read the images: {str(error).strip().splitlines()[-1]}") from error
    image = sitk.Resample(image, segmentation, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    reference = None
    referencePath = run.path(summary.get("reference"))
    if referencePath is not None and referencePath.is_file():
        try:
            mask = sitk.ReadImage(str(referencePath))
            reference = sitk.Resample(
                mask, segmentation, sitk.Transform(), sitk.sitkNearestNeighbor, 0, mask.GetPixelID()
            )
        except RuntimeError:
            reference = None

    def oriented(item: sitk.Image) -> np.ndarray:
        return sitk.GetArrayFromImage(sitk.DICOMOrient(item, "LPS"))

    orientedSegmentation = sitk.DICOMOrient(segmentation, "LPS")
    return TumourImages(
        sequence=sequence or "",
        imagePath=imagePath,
        image=oriented(image),
        segmentation=sitk.GetArrayFromImage(orientedSegmentation) > 0,
        reference=None if reference is None else oriented(reference) > 0,
        spacing=tuple(float(s) for s in orientedSegmentation.GetSpacing()),  # type: ignore[arg-type]
    )


def tumourCentre(images: TumourImages) -> tuple[int, int, int]:
    """The (k, j, i) voxel at the centre of mass of the segmentation (else of the reference, else the middle)."""
    for mask in (images.segmentation, images.reference):
        if mask is not None and mask.any():
            return tuple(int(round(v)) for v in np.argwhere(mask).mean(axis=0))  # type: ignore[return-value]
    return tuple(int(n // 2) for n in images.segmentation.shape)  # type: ignore[return-value]


@styled
def tumourSlicesFigure(images: TumourImages, title: str) -> str:
    """Axial, coronal and sagittal slices through the tumour's centre with both outlines."""
    from matplotlib.lines import Line2D

    k, j, i = tumourCentre(images)
    sx, sy, sz = images.spacing
    nz, ny, nx = images.image.shape
    inside = images.image[images.image != 0]
    low, high = np.percentile(inside if inside.size else images.image, [1, 99])
    planes: list[tuple[str, Any, tuple[float, float, float, float], str, str, str]] = [
        ("Axial", np.s_[k, :, :], (0, nx * sx, ny * sy, 0), "upper", "right → left (mm)", "anterior → posterior (mm)"),
        ("Coronal", np.s_[:, j, :], (0, nx * sx, 0, nz * sz), "lower", "right → left (mm)", "inferior → superior (mm)"),
        (
            "Sagittal",
            np.s_[:, :, i],
            (0, ny * sy, 0, nz * sz),
            "lower",
            "anterior → posterior (mm)",
            "inferior → superior (mm)",
        ),
    ]
    figure, axes = newFigure(12.5, 4.6, 1, 3)
    for axis, (name, index, extent, origin, xLabel, yLabel) in zip(axes[0], planes):
        axis.imshow(images.image[index], cmap="gray", vmin=low, vmax=high, extent=extent, origin=origin)
        for mask, color in ((images.segmentation, SEGMENTATION_COLOR), (images.reference, REFERENCE_COLOR)):
            if mask is not None and mask[index].any():
                axis.contour(
                    mask[index].astype(float),
                    levels=[0.5],
                    colors=[color],
                    linewidths=1.6,
                    extent=extent,
                    origin=origin,
                )
        axis.set_title(name)
        axis.set_xlabel(xLabel)
        axis.set_ylabel(yLabel)
        axis.grid(False)
    handles = [Line2D([], [], color=SEGMENTATION_COLOR, linewidth=2, label="automatic segmentation")]
    if images.reference is not None:
        handles.append(Line2D([], [], color=REFERENCE_COLOR, linewidth=2, label="reference mask"))
    handles.append(Line2D([], [], linestyle="none", label=title))
    figure.legend(handles=handles, loc="outside upper center", ncols=len(handles), frameon=False)
    return pngDataUri(figure)


def _readImage(path: pathlib.Path) -> sitk.Image:
    """A volume file, or the series of a DICOM folder, as float."""
    if path.is_dir():
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(path)))
        return sitk.Cast(reader.Execute(), sitk.sitkFloat32)
    return sitk.ReadImage(str(path), sitk.sitkFloat32)
