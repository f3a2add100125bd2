"""Provenance of an extraction: hashes of images and masks, package versions."""

from __future__ import annotations

import hashlib
import importlib.metadata
from typing import Any

import numpy as np
import SimpleITK as sitk

#: Packages whose versions go into every provenance record.
PACKAGES = ("virtual-biopsy", "pyradiomics", "SimpleITK", "numpy", "PyWavelets", "pykwalify")


def imageSha256(image: sitk.Image) -> str:
    """SHA-256 of an image's voxels (C order, little-endian, with their type) and geometry.

    Equal for two images with the same voxels and grid, whatever file they came from.
    """
    voxels = np.ascontiguousarray(sitk.GetArrayViewFromImage(image))
    digest = hashlib.sha256()
    digest.update(voxels.dtype.newbyteorder("<").str.encode())
    digest.update(repr((image.GetSize(), image.GetNumberOfComponentsPerPixel())).encode())
    for values in (image.GetSpacing(), image.GetOrigin(), image.GetDirection()):
        digest.update(np.asarray(values, dtype="<f8").tobytes())
    digest.update(voxels.astype(voxels.dtype.newbyteorder("<"), copy=False).tobytes())
    return digest.hexdigest()


def imageRecord(image: sitk.Image) -> dict[str, Any]:
    """Hash, pixel type and grid of an image, as plain values."""
    return {
        "sha256": imageSha256(image),
        "pixelType": image.GetPixelIDTypeAsString(),
        "size": list(image.GetSize()),
        "spacing": list(image.GetSpacing()),
        "origin": list(image.GetOrigin()),
        "direction": list(image.GetDirection()),
    }


def packageVersions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed versions of ``packages`` (``None`` when one is missing)."""
    versions: dict[str, str | None] = {}
    for name in packages:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions
