"""Parametric maps (ADC, Ktrans, ...) as DICOM Parametric Map objects (highdicom), and back.

The map is stored as 32-bit float pixel data (Float Pixel Data) with an identity Real World Value Mapping (slope
1, intercept 0) that carries the quantity (coded, :data:`QUANTITIES`) and its UCUM unit, so values round-trip
exactly as float32. The map must lie on the source series' grid (or the same grid stored left-handed); with
``resample=True`` it is resampled onto it (linear). Non-finite voxels are refused.
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.dicom.multiFrameGeometry import frames, referencedGrid, sliceIndex
from VirtualBiopsy.dicom.referenceSeries import ReferenceSeries, readReferenceSeries
from VirtualBiopsy.dicom.segExport import MANUFACTURER, onReferenceGrid
from VirtualBiopsy.errors import InputError, requirePackage
from VirtualBiopsy.files import atomicOutput

PARAMETRIC_MAP_STORAGE = "1.2.840.10008.5.1.4.1.1.30"
#: quantity → ((code value, scheme, meaning), default unit).
QUANTITIES = {
    "ADC": (("113041", "DCM", "Apparent Diffusion Coefficient"), "um2/s"),
    "Ktrans": (("126312", "DCM", "Ktrans"), "/min"),
    "kep": (("126313", "DCM", "kep"), "/min"),
    "ve": (("126314", "DCM", "ve"), "1"),
}
#: UCUM units: code → meaning.
UNITS = {"um2/s": "um2/s", "mm2/s": "mm2/s", "/min": "/min", "1": "no units", "ms": "ms", "s": "s"}


@dataclasses.dataclass
class ImportedMap:
    """A parametric map read back: the image (Float32, LPS), the quantity and the unit (UCUM code)."""

    image: sitk.Image
    quantity: str
    unit: str


def exportParametricMap(
    mapImage: sitk.Image,
    referenceFolder: str | pathlib.Path | ReferenceSeries,
    outPath: str | pathlib.Path,
    quantity: str = "ADC",
    units: str | None = None,
    *,
    resample: bool = False,
    seriesNumber: int = 302,
    seriesUid: str | None = None,
    sopInstanceUid: str | None = None,
    overwrite: bool = False,
) -> pathlib.Path:
    """Write ``mapImage`` as a Parametric Map that refers to the source series.

    :param quantity: a key of :data:`QUANTITIES`.
    :param units: a key of :data:`UNITS` (default: the quantity's usual unit).
    :raises InputError: for an unknown quantity or unit, or non-finite voxels.
    :raises GeometryError: for a map on another grid (without ``resample``).
    """
    hd = requirePackage("highdicom")
    if quantity not in QUANTITIES:
        raise InputError(f"Quantity {quantity!r} is unknown; use one of {', '.join(QUANTITIES)}.")
    concept, defaultUnit = QUANTITIES[quantity]
    units = units or defaultUnit
    if units not in UNITS:
        raise InputError(f"Unit {units!r} of the {quantity} map is unknown; use one of {', '.join(UNITS)} (UCUM).")
    reference = (
        referenceFolder if isinstance(referenceFolder, ReferenceSeries) else readReferenceSeries(referenceFolder)
    )
    array = onReferenceGrid(
        sitk.Cast(mapImage, sitk.sitkFloat32), reference.grid, f"{quantity} map", resample, sitk.sitkLinear
    ).astype(np.float32)
    finite = np.isfinite(array)
    if not finite.all():
        raise InputError(
            f"The {quantity} map has {int((~finite).sum())} non-finite voxel(s) (NaN or infinite); a Parametric Map "
            "stores numbers only. Replace them (e.g. by 0) before exporting."
        )
    low, high = float(array.min()), float(array.max())
    mapping = hd.pm.RealWorldValueMapping(
        lut_label=quantity[:16],
        lut_explanation=concept[2][:64],
        unit=hd.sr.CodedConcept(units, "UCUM", UNITS[units]),
        value_range=(low, high),
        slope=1.0,
        intercept=0.0,
        quantity_definition=hd.sr.CodedConcept(*concept),
    )
    parametricMap = hd.pm.ParametricMap(
        source_images=reference.datasets,
        pixel_array=array,
        series_instance_uid=seriesUid or hd.UID(),
        series_number=seriesNumber,
        sop_instance_uid=sopInstanceUid or hd.UID(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        manufacturer_model_name="Virtual Biopsy",
        software_versions="virtual-biopsy",
        device_serial_number="0",
        contains_recognizable_visual_features=False,
        real_world_value_mappings=[mapping],
        voi_lut_transformations=[
            # LINEAR_EXACT: maps such as Ktrans (/min) span less than 1, which LINEAR windows may not.
            hd.VOILUTTransformation(
                window_center=(low + high) / 2, window_width=max(high - low, 1e-6), voi_lut_function="LINEAR_EXACT"
            )
        ],
        content_label=quantity.upper()[:16],
        content_description=f"{concept[2]} map"[:64],
        series_description=f"Virtual Biopsy {quantity} map"[:64],
    )
    parametricMap.Laterality = None  # General Series, type 2C: empty (dciodvfy asks for it; no paired organ is implied)
    with atomicOutput(outPath, overwrite) as staged:
        parametricMap.save_as(staged, enforce_file_format=True)
    return pathlib.Path(outPath)


def readParametricMap(path: str | pathlib.Path, referenceFolder: str | pathlib.Path | None = None) -> ImportedMap:
    """The map in the Parametric Map at ``path`` (real world values), on the reference grid when given.

    :raises InputError: for a file that is not a readable Parametric Map.
    :raises GeometryError: for a map on another frame of reference than the reference series.
    """
    pydicom = requirePackage("pydicom")
    path = pathlib.Path(path)
    try:
        dataset = pydicom.dcmread(path)
        sopClass = str(dataset.get("SOPClassUID", ""))
        if sopClass != PARAMETRIC_MAP_STORAGE:
            raise InputError(
                f"{path} is not a Parametric Map (SOP class {sopClass or 'missing'}, expected {PARAMETRIC_MAP_STORAGE})."
            )
        pixels = np.asarray(dataset.pixel_array, dtype=np.float64)
    except InputError:
        raise
    except Exception as error:
        raise InputError(
            f"Parametric Map {path} cannot be read ({type(error).__name__}: {error}); the file is truncated or corrupt."
        ) from error
    pixels = pixels.reshape(int(dataset.get("NumberOfFrames", 1)), int(dataset.Rows), int(dataset.Columns))
    geometry = frames(dataset, path)
    grid = referencedGrid(dataset, geometry, path, referenceFolder)
    volume = np.zeros(grid.GetSize()[::-1], np.float32)
    quantity, unit = "", ""
    for index, frame in enumerate(geometry):
        mapping = (
            frame.group.get("RealWorldValueMappingSequence") or _shared(dataset, "RealWorldValueMappingSequence")
        )[0]
        slope, intercept = float(mapping.RealWorldValueSlope), float(mapping.RealWorldValueIntercept)
        volume[sliceIndex(grid, frame, index + 1, path)] = pixels[index] * slope + intercept
        unit = str(mapping.MeasurementUnitsCodeSequence[0].CodeValue)
        definition = mapping.get("QuantityDefinitionSequence")
        if definition:
            code = str(definition[0].ConceptCodeSequence[0].CodeValue)
            quantity = next((name for name, (concept, _) in QUANTITIES.items() if concept[0] == code), code)
    image = sitk.GetImageFromArray(volume)
    image.CopyInformation(grid)
    return ImportedMap(image=image, quantity=quantity, unit=unit)


def _shared(dataset, keyword: str):
    shared = dataset.get("SharedFunctionalGroupsSequence")
    return shared[0].get(keyword) if shared else None
