"""Read our TID 1500 SR back into measurements per segment (the round trip of :mod:`.srExport`)."""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

from VirtualBiopsy.dicom.featureCodes import featureName
from VirtualBiopsy.errors import InputError, requirePackage

COMPREHENSIVE_3D_SR = "1.2.840.10008.5.1.4.1.1.88.34"
_MEASUREMENT_GROUP = "125007"
_TRACKING_IDENTIFIER = "112039"
_TRACKING_UID = "112040"
_REFERENCED_SEGMENT = "121191"
_SOURCE_SERIES = "121232"


@dataclasses.dataclass
class MeasurementGroup:
    """One measurement group: which segment, and its values by pyradiomics name (``volume_ml`` for the volume).

    :ivar unknown: measurements whose code is none of ours, as ``"scheme:code meaning"`` → value.
    """

    trackingIdentifier: str
    trackingUid: str
    segmentNumber: int | None
    segUid: str
    sourceSeriesUid: str
    values: dict[str, float]
    unknown: dict[str, float]


def readMeasurements(srPath: str | pathlib.Path) -> list[MeasurementGroup]:
    """The measurement groups of a TID 1500 SR, in document order.

    :raises InputError: for a file that is not DICOM, not a Comprehensive 3D SR, or truncated.
    """
    pydicom = requirePackage("pydicom")
    srPath = pathlib.Path(srPath)
    try:
        dataset = pydicom.dcmread(srPath)
        sopClass = str(dataset.get("SOPClassUID", ""))
        content = list(dataset.get("ContentSequence", []))
    except Exception as error:
        raise InputError(
            f"DICOM SR {srPath} cannot be read ({type(error).__name__}: {error}); the file is truncated or corrupt."
        ) from error
    if sopClass != COMPREHENSIVE_3D_SR:
        raise InputError(
            f"{srPath} is not a Comprehensive 3D SR (SOP class {sopClass or 'missing'}, expected "
            f"{COMPREHENSIVE_3D_SR}); give the sr.dcm that 'virtual-biopsy dicom export' wrote."
        )
    return [_group(item) for item in _walk(content) if _concept(item) == _MEASUREMENT_GROUP]


def _walk(items: list[Any]):
    for item in items:
        yield item
        yield from _walk(list(item.get("ContentSequence", [])))


def _concept(item: Any) -> str:
    names = item.get("ConceptNameCodeSequence")
    return str(names[0].CodeValue) if names else ""


def _group(container: Any) -> MeasurementGroup:
    group = MeasurementGroup("", "", None, "", "", {}, {})
    for item in container.get("ContentSequence", []):
        concept, kind = _concept(item), str(item.get("ValueType", ""))
        if concept == _TRACKING_IDENTIFIER:
            group.trackingIdentifier = str(item.TextValue)
        elif concept == _TRACKING_UID:
            group.trackingUid = str(item.UID)
        elif concept == _SOURCE_SERIES:
            group.sourceSeriesUid = str(item.UID)
        elif concept == _REFERENCED_SEGMENT:
            reference = item.ReferencedSOPSequence[0]
            group.segUid = str(reference.ReferencedSOPInstanceUID)
            group.segmentNumber = int(reference.ReferencedSegmentNumber)
        elif kind == "NUM":
            code = item.ConceptNameCodeSequence[0]
            measured = item.MeasuredValueSequence[0]
            value = float(measured.FloatingPointValue if "FloatingPointValue" in measured else measured.NumericValue)
            name = featureName(str(code.CodeValue), str(code.CodingSchemeDesignator), str(code.CodeMeaning))
            if name is None:
                group.unknown[f"{code.CodingSchemeDesignator}:{code.CodeValue} {code.CodeMeaning}"] = value
            else:
                group.values[name] = value
    return group
