"""Give a segmentation one named, coloured segment per model label, with standard terminology tags."""

from __future__ import annotations

from collections.abc import Sequence

import slicer

#: Category of Slicer's terminology used when a label gives only its type code: tumours and lesions
#: ("Morphologically Altered Structure", SNOMED CT 49755003).
ALTERED_STRUCTURE = "SCT^49755003^Morphologically Altered Structure"
_CONTEXT = "Segmentation category and type - 3D Slicer General Anatomy list"
_ANATOMY_CONTEXT = "Anatomic codes - DICOM master list"


def terminologyEntry(code: str) -> str:
    """Slicer's ``TerminologyEntry`` tag for a label's terminology.

    A full entry (``context~category~type~modifier~anatomicContext~region~regionModifier``) is kept as
    it is; a single ``scheme^value^meaning`` code becomes the type, in the category "Morphologically
    Altered Structure". Empty stays empty.
    """
    code = code.strip()
    if not code or "~" in code:
        return code
    return f"{_CONTEXT}~{ALTERED_STRUCTURE}~{code}~^^~{_ANATOMY_CONTEXT}~^^~^^"


def completeModelSegments(
    segmentationNode: "slicer.vtkMRMLSegmentationNode",
    labels: Sequence[tuple[int, str, tuple[float, float, float], str]],
) -> None:
    """Name, colour and tag the segments of a segmentation imported from a model's label map, add an empty
    segment for each label the model did not find, and order the segments by label value.

    :param labels: ``(value, name, colour, terminology)`` of each model label.
    """
    segmentation = segmentationNode.GetSegmentation()
    byValue = {}
    for index in range(segmentation.GetNumberOfSegments()):
        identifier = segmentation.GetNthSegmentID(index)
        byValue[segmentation.GetSegment(identifier).GetLabelValue()] = identifier
    for position, (value, name, color, terminology) in enumerate(sorted(labels)):
        identifier = byValue.get(value)
        if identifier is None:
            identifier = segmentation.AddEmptySegment("", name, list(color))
        segment = segmentation.GetSegment(identifier)
        segment.SetName(name)
        segment.SetColor(*color)
        tag = terminologyEntry(terminology)
        if tag:
            segment.SetTag(slicer.vtkSegment.GetTerminologyEntryTagName(), tag)
        segmentation.SetSegmentIndex(identifier, position)
