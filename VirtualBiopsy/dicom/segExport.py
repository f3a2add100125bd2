"""Export segmentations as DICOM SEG (highdicom) referring to the source series.

Each segment is described by a :class:`SegmentSpec`: its name, the labelmap value it comes from, its category
(coded with SNOMED CT, :data:`CATEGORIES`) and how it was made: ``"AI"`` segments are ``AUTOMATIC`` with an
algorithm identification ("Virtual Biopsy <modelId>", the model version, family "Artificial Intelligence"),
``"manual"`` (reviewed or edited) segments are ``MANUAL``. The mask must lie on the source series' grid (or on
the same grid stored left-handed, flipped along ``k``, or a part of its lattice such as a ``.seg.nrrd`` cropped
to its extent, which is padded exactly); with ``resample=True`` it is resampled onto it (nearest neighbour, linear
for probabilities). Empty segments are skipped and named in the result (and the
log); a SEG with no non-empty segment is refused. The output is the same for the same inputs except for the
UIDs (series and instance unless ``seriesUid``/``sopInstanceUid`` are given, tracking, dimension organization)
and the content, instance creation and contribution dates and times.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
from collections.abc import Sequence

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.dicom.referenceSeries import ReferenceSeries, readReferenceSeries
from VirtualBiopsy.errors import GeometryError, InputError, requirePackage
from VirtualBiopsy.files import atomicOutput
from VirtualBiopsy.imageGeometry import gridDifferences

logger = logging.getLogger(__name__)

#: Segment categories: (category code, type code), SNOMED CT (value, meaning).
CATEGORIES = {
    "tumour": (("49755003", "Morphologically Abnormal Structure"), ("108369006", "Neoplasm")),
    "oedema": (("49755003", "Morphologically Abnormal Structure"), ("79654002", "Edema")),
    "necrosis": (("49755003", "Morphologically Abnormal Structure"), ("6574001", "Necrosis")),
    "tissue": (("85756007", "Tissue"), ("85756007", "Tissue")),
}
#: How a segment was made → the DICOM algorithm family (CID 7162) of automatic ones; manual segments have none.
ALGORITHM_FAMILIES = {
    "AI": ("123110", "Artificial Intelligence"),
    "threshold": ("123105", "Histogram Analysis"),
    "manual": None,
}
ALGORITHM_TYPES = tuple(ALGORITHM_FAMILIES)
MANUFACTURER = "Virtual Biopsy"
SEG_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"


@dataclasses.dataclass(frozen=True)
class SegmentSpec:
    """One segment to export.

    :ivar name: the segment label shown by viewers (at most 64 characters).
    :ivar label: its value in the labelmap (ignored for a list of masks).
    :ivar category: a key of :data:`CATEGORIES`.
    :ivar algorithm: ``"AI"`` (our model made it), ``"threshold"`` (our threshold method) or ``"manual"`` (drawn
        or edited by a person).
    :ivar modelId: the model's id (AI segments) or the method's name (threshold).
    :ivar modelVersion: the model's version (AI segments) or Virtual Biopsy's (threshold).
    """

    name: str
    label: int = 1
    category: str = "tumour"
    algorithm: str = "AI"
    modelId: str = ""
    modelVersion: str = ""


@dataclasses.dataclass
class ExportedSegmentation:
    """What :func:`exportSegmentation` wrote: the file, the segments in it (numbered from 1) and the skipped ones."""

    path: pathlib.Path
    segments: list[SegmentSpec]
    skipped: list[str]
    sopInstanceUid: str
    seriesUid: str


def exportSegmentation(
    labelmapOrMasks: sitk.Image | Sequence[sitk.Image],
    referenceFolder: str | pathlib.Path | ReferenceSeries,
    outPath: str | pathlib.Path,
    segments: Sequence[SegmentSpec],
    *,
    fractional: bool = False,
    resample: bool = False,
    seriesNumber: int = 300,
    seriesDescription: str = "Virtual Biopsy segmentation",
    seriesUid: str | None = None,
    sopInstanceUid: str | None = None,
    overwrite: bool = False,
) -> ExportedSegmentation:
    """Write the segments as one DICOM SEG (BINARY, or FRACTIONAL probabilities) that refers to the source series.

    :param labelmapOrMasks: a labelmap (segments by ``SegmentSpec.label``) or one mask per segment (binary, or
        probabilities in [0, 1] with ``fractional=True``).
    :param referenceFolder: the source series' folder (or a :class:`ReferenceSeries` already read).
    :param resample: resample masks that are not on the reference grid instead of refusing them.
    :raises InputError: for bad segment specifications, probabilities outside [0, 1] or only empty segments.
    :raises GeometryError: for a mask on another grid (without ``resample``).
    """
    hd = requirePackage("highdicom")
    reference = (
        referenceFolder if isinstance(referenceFolder, ReferenceSeries) else readReferenceSeries(referenceFolder)
    )
    _checkSpecs(segments)
    arrays = _segmentArrays(labelmapOrMasks, segments, reference, fractional, resample)
    kept = [(spec, array) for spec, array in zip(segments, arrays) if np.any(array > 0)]
    skipped = [spec.name for spec, array in zip(segments, arrays) if not np.any(array > 0)]
    if skipped:
        logger.warning("DICOM SEG export: skipped empty segment(s) %s", ", ".join(skipped))
    if not kept:
        raise InputError(
            f"Every segment to export is empty ({', '.join(skipped)}): no voxel is set on the reference grid. "
            "Check the labelmap's values against the segments' labels, or export another segmentation."
        )
    pixels = np.stack([array for _, array in kept], axis=-1)
    descriptions = [_description(hd, number, spec) for number, (spec, _) in enumerate(kept, start=1)]
    seg = hd.seg.Segmentation(
        source_images=reference.datasets,
        pixel_array=pixels.astype(np.float32) if fractional else pixels.astype(np.uint8),
        segmentation_type="FRACTIONAL" if fractional else "BINARY",
        segment_descriptions=descriptions,
        series_instance_uid=seriesUid or hd.UID(),
        series_number=seriesNumber,
        sop_instance_uid=sopInstanceUid or hd.UID(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        manufacturer_model_name="Virtual Biopsy",
        software_versions=_softwareVersion(),
        device_serial_number="0",
        fractional_type="PROBABILITY",
        max_fractional_value=255,
        content_description=seriesDescription[:64],
        content_label="SEGMENTATION",
        series_description=seriesDescription[:64],
    )
    with atomicOutput(outPath, overwrite) as staged:
        seg.save_as(staged, enforce_file_format=True)
    return ExportedSegmentation(
        path=pathlib.Path(outPath),
        segments=[spec for spec, _ in kept],
        skipped=skipped,
        sopInstanceUid=str(seg.SOPInstanceUID),
        seriesUid=str(seg.SeriesInstanceUID),
    )


def segmentsFromFile(
    path: str | pathlib.Path, algorithm: str, modelId: str = "", modelVersion: str = "", category: str = "tumour"
) -> tuple[list[sitk.Image], list[SegmentSpec]]:
    """One binary mask and one :class:`SegmentSpec` per segment of a labelmap file or a Slicer ``.seg.nrrd``.

    A ``.seg.nrrd`` gives its segments' names, label values and layers (``Segment<i>_Name``, ``_LabelValue``,
    ``_Layer``, read as SimpleITK metadata); a plain labelmap gives ``Segment_<value>`` for each value present.

    :raises InputError: for a file SimpleITK cannot read or a labelmap with no segment.
    """
    path = pathlib.Path(path)
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as error:
        raise InputError(
            f"Segmentation {path} cannot be read ({str(error).strip().splitlines()[-1]}); give a labelmap "
            "(NRRD, NIfTI, MHA) or a Slicer .seg.nrrd."
        ) from error
    components = image.GetNumberOfComponentsPerPixel()
    layers = [sitk.VectorIndexSelectionCast(image, index) for index in range(components)] if components > 1 else [image]
    named = []
    index = 0
    while image.HasMetaDataKey(f"Segment{index}_Name"):
        layer = int(image.GetMetaData(f"Segment{index}_Layer")) if image.HasMetaDataKey(f"Segment{index}_Layer") else 0
        label = (
            int(image.GetMetaData(f"Segment{index}_LabelValue"))
            if image.HasMetaDataKey(f"Segment{index}_LabelValue")
            else index + 1
        )
        named.append((image.GetMetaData(f"Segment{index}_Name"), layer, label))
        index += 1
    if not named:
        values = np.unique(sitk.GetArrayViewFromImage(layers[0]))
        named = [(f"Segment_{int(value)}", 0, int(value)) for value in values if value != 0]
    if not named:
        raise InputError(f"Segmentation {path} has no segment (every voxel is 0); export a segmentation with a label.")
    masks, specs = [], []
    for name, layer, label in named:
        if not 0 <= layer < len(layers):
            raise InputError(
                f"Segmentation {path}: segment {name!r} is on layer {layer}, but the file has {len(layers)}."
            )
        masks.append(sitk.Cast(layers[layer] == label, sitk.sitkUInt8))
        specs.append(
            SegmentSpec(
                name,
                label,
                category,
                algorithm,
                modelId if algorithm == "AI" else "",
                modelVersion if algorithm == "AI" else "",
            )
        )
    return masks, specs


def _checkSpecs(segments: Sequence[SegmentSpec]) -> None:
    if not segments:
        raise InputError("No segment to export: give at least one SegmentSpec.")
    names = [spec.name for spec in segments]
    for spec in segments:
        if not spec.name or len(spec.name) > 64:
            raise InputError(f"Segment name {spec.name!r} must have 1 to 64 characters (DICOM LO); rename the segment.")
        if spec.category not in CATEGORIES:
            raise InputError(
                f"Segment {spec.name!r}: category {spec.category!r} is unknown; use one of {', '.join(CATEGORIES)}."
            )
        if spec.algorithm not in ALGORITHM_TYPES:
            raise InputError(
                f"Segment {spec.name!r}: algorithm {spec.algorithm!r} is unknown; use 'AI' (with modelId and "
                "modelVersion), 'threshold' or 'manual'."
            )
        if spec.algorithm != "manual" and not (spec.modelId and spec.modelVersion):
            raise InputError(
                f"Segment {spec.name!r} is an AI segment without a model id and version (got {spec.modelId!r}, "
                f"{spec.modelVersion!r}); give both (--model-id ID --model-version V) or mark it manual (--manual)."
            )
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InputError(f"Segment names must be unique; {', '.join(duplicates)} appear more than once. Rename them.")


def _segmentArrays(source, segments, reference: ReferenceSeries, fractional: bool, resample: bool) -> list[np.ndarray]:
    """One array (k, j, i) per segment on the reference grid: uint8 0/1, or float probabilities."""
    if isinstance(source, sitk.Image):
        if fractional:
            raise InputError(
                "A fractional (probability) SEG needs one probability image per segment, not a labelmap; "
                "give a list of float images in [0, 1] or export a binary SEG."
            )
        labelmap = onReferenceGrid(source, reference.grid, "segmentation", resample, sitk.sitkNearestNeighbor)
        return [(labelmap == spec.label).astype(np.uint8) for spec in segments]
    masks = list(source)
    if len(masks) != len(segments):
        raise InputError(f"{len(masks)} mask(s) for {len(segments)} segment(s); give one mask per segment.")
    arrays = []
    for spec, mask in zip(segments, masks):
        interpolator = sitk.sitkLinear if fractional else sitk.sitkNearestNeighbor
        array = onReferenceGrid(mask, reference.grid, f"mask of segment {spec.name!r}", resample, interpolator)
        if fractional:
            array = array.astype(np.float64)
            if not np.all(np.isfinite(array)) or array.min() < 0 or array.max() > 1:
                raise InputError(
                    f"Mask of segment {spec.name!r}: probabilities must lie in [0, 1]; found "
                    f"[{np.nanmin(array):.4g}, {np.nanmax(array):.4g}]. Scale or clip the probability map."
                )
            arrays.append(array)
        else:
            arrays.append((array != 0).astype(np.uint8))
    return arrays


def onReferenceGrid(image: sitk.Image, grid: sitk.Image, what: str, resample: bool, interpolator: int) -> np.ndarray:
    """The voxels of ``image`` as an array (k, j, i) on ``grid``: as they are, flipped along ``k`` (the same grid
    stored left-handed), or resampled when ``resample`` is true.

    :raises GeometryError: for another grid without ``resample``, naming both grids and the fix.
    """
    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise GeometryError(f"The {what} must be a 3D scalar image; got {image.GetDimension()}D, "
                            f"{image.GetNumberOfComponentsPerPixel()} component(s).")  # fmt: skip
    if not gridDifferences(grid, image, what=what):
        return sitk.GetArrayFromImage(image)
    flipped = sitk.Flip(image, (False, False, True))
    if not gridDifferences(grid, flipped, what=what):
        return sitk.GetArrayFromImage(flipped)
    if resample or _sameLattice(grid, image):
        # On the same lattice (e.g. a .seg.nrrd cropped to its extent) nearest-neighbour resampling is exact.
        array = sitk.GetArrayFromImage(sitk.Resample(image, grid, sitk.Transform(), interpolator, 0.0))
        if resample or np.count_nonzero(array) == np.count_nonzero(sitk.GetArrayViewFromImage(image)):
            return array
    differences = [text.replace("(image)", "(reference series)") for text in gridDifferences(grid, image, what=what)]
    raise GeometryError(
        f"The {what} does not lie on the reference series' grid: {'; '.join(differences)}. Resample it onto the reference series (--resample-mask, or "
        "resample=True) or give the reference series it was drawn on."
    )


def _sameLattice(grid: sitk.Image, image: sitk.Image) -> bool:
    """Whether ``image``'s voxel centres are voxel centres of ``grid`` (same spacing and direction, origin shifted by
    whole voxels)."""
    direction = np.array(grid.GetDirection()).reshape(3, 3)
    sameAxes = np.allclose(grid.GetSpacing(), image.GetSpacing(), atol=1e-4) and np.allclose(
        grid.GetDirection(), image.GetDirection(), atol=1e-4
    )
    shift = direction.T @ (np.array(image.GetOrigin()) - np.array(grid.GetOrigin())) / np.array(grid.GetSpacing())
    return bool(sameAxes and np.allclose(shift, np.round(shift), atol=1e-3))


def _description(hd, number: int, spec: SegmentSpec):
    category, kind = CATEGORIES[spec.category]
    family = ALGORITHM_FAMILIES[spec.algorithm]
    automatic = family is not None
    algorithm = None
    if family is not None:
        algorithm = hd.AlgorithmIdentificationSequence(
            name=f"Virtual Biopsy {spec.modelId}"[:64],
            version=spec.modelVersion[:64],
            family=hd.sr.CodedConcept(family[0], "DCM", family[1]),
        )
    return hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=spec.name,
        segmented_property_category=hd.sr.CodedConcept(category[0], "SCT", category[1]),
        segmented_property_type=hd.sr.CodedConcept(kind[0], "SCT", kind[1]),
        algorithm_type="AUTOMATIC" if automatic else "MANUAL",
        algorithm_identification=algorithm,
        tracking_uid=hd.UID(),
        tracking_id=spec.name,
    )


def _softwareVersion() -> str:
    try:
        from importlib.metadata import version

        return f"virtual-biopsy {version('virtual-biopsy')}"[:64]
    except Exception:  # not installed (a source checkout): still a valid SEG
        return "virtual-biopsy"
