"""Apply the confidentiality profile to one pydicom dataset, recursing into sequences.

:func:`deidentifyDataset` changes the dataset in place and returns what it changed as ``(action, keyword, tag)``
entries (never a value): the report counts the files of each entry. Patient ID and Patient's Name become the
patient's keyed pseudonym; every UID that is not a standard one becomes its keyed ``2.25.`` UID (the file meta's
Media Storage SOP Instance UID follows the new SOP Instance UID); private attributes are removed unless safe-listed;
dates are removed, or shifted by the patient's keyed whole-day offset with the Modified Dates option.
"""

from __future__ import annotations

import re
from typing import Any

from VirtualBiopsy.dicom.deidentify.dates import shiftValue
from VirtualBiopsy.dicom.deidentify.profile import (
    NEVER_SHIFTED,
    SAFE_PRIVATE,
    STANDARD_UID_ROOT,
    ProfileOptions,
    isClassUid,
    resolvedAction,
)
from VirtualBiopsy.dicom.deidentify.pseudonyms import Pseudonyms

#: Secondary Capture Image Storage and its multi-frame variants (…1.7.1 to …1.7.4).
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
#: Attributes whose values are identifiers; the Clean Descriptors option removes their words from descriptions.
IDENTIFYING = (
    "PatientName", "OtherPatientNames", "PatientBirthName", "PatientMotherBirthName", "PatientID", "OtherPatientIDs",
    "AccessionNumber", "PatientBirthDate", "IssuerOfPatientID", "MedicalRecordLocator",
)  # fmt: skip
#: File meta attributes removed: they name the sending and receiving systems.
META_REMOVED = (
    "SourceApplicationEntityTitle", "SendingApplicationEntityTitle", "ReceivingApplicationEntityTitle",
    "SourcePresentationAddress", "SendingPresentationAddress", "ReceivingPresentationAddress", "PrivateInformation",
    "PrivateInformationCreatorUID",
)  # fmt: skip
_DUMMY_TEXT = "ANONYMIZED"
_DUMMY: dict[str, Any] = {
    "DA": "19000101", "DT": "19000101000000", "TM": "000000", "AS": "000Y", "IS": "0", "DS": "0", "AT": 0,
    "US": 0, "SS": 0, "UL": 0, "SL": 0, "UV": 0, "SV": 0, "FL": 0.0, "FD": 0.0,
    "OB": b"\x00\x00", "OW": b"\x00\x00", "OD": b"\x00" * 8, "OF": b"\x00" * 4, "OL": b"\x00" * 4, "OV": b"\x00" * 8,
    "UN": b"\x00\x00", "UR": "",
}  # fmt: skip
_TEXT_VRS = {"LO", "SH", "ST", "LT", "UT", "UC", "PN", "CS"}
Entry = tuple[str, str, str]


def burnedInReason(dataset: Any) -> str | None:
    """Why ``dataset`` may show identifiers in its pixels (Burned In Annotation YES, a SECONDARY or screen-save
    Image Type, a Secondary Capture SOP class), or ``None``."""
    if str(dataset.get("BurnedInAnnotation", "") or "").strip().upper() == "YES":
        return "BurnedInAnnotation is YES"
    imageType = _values(dataset.get("ImageType"))
    if any(value.upper() == "SECONDARY" or "SCREEN" in value.upper() for value in imageType):
        return "ImageType says SECONDARY or SCREEN SAVE (a capture of a screen may show identifiers)"
    sopClass = str(dataset.get("SOPClassUID", "") or "")
    if sopClass == SECONDARY_CAPTURE or sopClass.startswith(SECONDARY_CAPTURE + "."):
        return "a Secondary Capture image (a capture of a screen may show identifiers)"
    return None


def patientKeyOf(dataset: Any) -> str:
    """The identifier a patient's pseudonym and date shift derive from: Patient ID, else Patient's Name."""
    return _text(dataset.get("PatientID")) or _text(dataset.get("PatientName"))


def deidentifyDataset(dataset: Any, pseudonyms: Pseudonyms, options: ProfileOptions) -> set[Entry]:
    """De-identify ``dataset`` (a pydicom Dataset, with its ``file_meta``) in place.

    :returns: the ``(action, keyword, "(GGGG,EEEE)")`` entries of what changed.
    """
    patientKey = patientKeyOf(dataset)
    shift = pseudonyms.dayShift(patientKey) if options.retainDates == "shift" else None
    context = _Context(pseudonyms, options, shift, identifierWords(dataset))
    _apply(dataset, context, depth=0)
    pseudonym = pseudonyms.patient(patientKey)
    # the name as a family name alone ("VB-…^"): a single-component name is a retired form that validators flag
    for keyword, value in (("PatientID", pseudonym), ("PatientName", f"{pseudonym}^")):
        if _text(dataset.get(keyword)) != value:
            context.record("D", keyword, _tagOf(keyword))
        setattr(dataset, keyword, value)
    _mark(dataset, options)
    meta = getattr(dataset, "file_meta", None)
    if meta is not None:
        for keyword in META_REMOVED:
            if keyword in meta:
                delattr(meta, keyword)
                context.record("X", keyword, _tagOf(keyword))
        if "SOPInstanceUID" in dataset:
            meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    return context.changes


def identifierWords(dataset: Any) -> set[str]:
    """The upper-case identifier words of ``dataset`` (whole values, name parts, dates in common formats)."""
    words: set[str] = set()
    for keyword in IDENTIFYING:
        for value in _values(dataset.get(keyword)):
            text = value.strip().upper()
            if len(text) >= 2:
                words.add(text)
            words.update(part for part in re.split(r"[\^=\s,]+", text) if len(part) >= 2)
            if keyword == "PatientBirthDate" and re.fullmatch(r"\d{8}", text):
                y, m, d = text[:4], text[4:6], text[6:]
                words.update({f"{y}-{m}-{d}", f"{d}/{m}/{y}", f"{m}/{d}/{y}", f"{y}.{m}.{d}", f"{d}.{m}.{y}"})
    words.discard("")
    return words


def cleanText(text: str, words: set[str]) -> str:
    """``text`` without the words that are, or contain, an identifier word (of 3 characters or more)."""
    kept = []
    for token in text.split():
        upper = token.upper()
        bare = upper.strip(".,;:()[]{}\"'_-")
        if bare in words or any(len(word) >= 3 and word in upper for word in words):
            continue
        kept.append(token)
    return " ".join(kept)


class _Context:
    def __init__(self, pseudonyms: Pseudonyms, options: ProfileOptions, shift: int | None, words: set[str]):
        self.pseudonyms, self.options, self.shift, self.words = pseudonyms, options, shift, words
        self.changes: set[Entry] = set()

    def record(self, action: str, keyword: str, tag: str) -> None:
        self.changes.add((action, keyword, tag))


def _apply(dataset: Any, context: _Context, depth: int) -> None:
    privateTags = []
    for tag in list(dataset.keys()):
        if tag.is_private:
            privateTags.append(tag)
            continue
        if tag.element == 0 or tag.group in (0x0002, 0xFFFE):
            continue
        if _repeatingRemoved(tag):
            del dataset[tag]
            context.record(
                "X",
                "CurveData" if tag.group & 0xFF00 == 0x5000 else "Overlay",
                f"({tag.group & 0xFF00:04X},{tag.element:04X})",
            )
            continue
        element = dataset[tag]
        keyword = element.keyword or ""
        if depth == 0 and keyword in ("PatientID", "PatientName"):
            continue
        _treat(dataset, tag, element, keyword, context, depth)
    _private(dataset, privateTags, context)


def _treat(dataset: Any, tag: Any, element: Any, keyword: str, context: _Context, depth: int) -> None:
    vr = element.VR.split(" or ")[0]
    tagText = f"({tag.group:04X},{tag.element:04X})"
    action = resolvedAction(keyword, context.options) if keyword else None
    if keyword == "PatientID":  # inside a sequence: the pseudonym of that id
        if _text(element.value):
            element.value = context.pseudonyms.patient(_text(element.value))
            context.record("D", keyword, tagText)
        return
    if vr in ("DA", "DT", "TM") and context.shift is not None and keyword not in NEVER_SHIFTED:
        if vr != "TM" and not element.is_empty:
            shifted = shiftValue(element.value, vr, context.shift)
            if shifted != element.value:
                element.value = shifted
                context.record("C", keyword, tagText)
        return
    if vr == "UI" and action not in ("X", "Z"):
        _replaceUids(element, keyword, tagText, context)
        return
    if vr in ("DA", "DT") and action is None:
        action = "Z"  # a date the table does not name still dates the patient's visit
    if vr == "SQ":
        if action == "X":
            del dataset[tag]
            context.record("X", keyword, tagText)
        elif action == "Z":
            if len(element.value):
                element.value = []
                context.record("Z", keyword, tagText)
        else:
            for item in element.value:
                _apply(item, context, depth + 1)
        return
    if action == "X":
        del dataset[tag]
        context.record("X", keyword, tagText)
    elif action in ("Z", "U") and not element.is_empty:
        element.value = element.empty_value
        context.record("Z", keyword, tagText)
    elif action == "D":
        element.value = _DUMMY.get(vr, _DUMMY_TEXT)
        context.record("D", keyword, tagText)
    elif action == "C" and vr in _TEXT_VRS and not element.is_empty:
        values = _values(element.value)
        cleaned = [cleanText(value, context.words) for value in values]
        if cleaned != values:
            element.value = cleaned if len(cleaned) > 1 else cleaned[0]
            context.record("C", keyword, tagText)


def _replaceUids(element: Any, keyword: str, tagText: str, context: _Context) -> None:
    if isClassUid(keyword) or element.is_empty:
        return
    values = _values(element.value)
    replaced = [
        value if not value or value.startswith(STANDARD_UID_ROOT) else context.pseudonyms.uid(value) for value in values
    ]
    if replaced != values:
        element.value = replaced if len(replaced) > 1 else replaced[0]
        context.record("U", keyword, tagText)


def _private(dataset: Any, tags: list[Any], context: _Context) -> None:
    """Remove private attributes except the safe-listed ones (with the Retain Safe Private option) and the
    private creators of kept ones."""
    keptCreators = set()
    creators = []
    for tag in tags:
        if 0x0010 <= tag.element <= 0x00FF:
            creators.append(tag)
            continue
        creatorTag = (tag.group << 16) | (tag.element >> 8)
        creator = _text(dataset[creatorTag].value) if creatorTag in dataset and tag.element > 0xFF else ""
        if context.options.safePrivate and (tag.group, creator, tag.element & 0xFF) in SAFE_PRIVATE:
            keptCreators.add(creatorTag)
            continue
        del dataset[tag]
        context.record("X", "private", f"({tag.group:04X},xx{tag.element & 0xFF:02X})")
    for tag in creators:
        if int(tag) not in keptCreators:
            del dataset[tag]
            context.record("X", "PrivateCreator", f"({tag.group:04X},00xx)")


def _mark(dataset: Any, options: ProfileOptions) -> None:
    """Patient Identity Removed, De-identification Method (+ Code Sequence), Longitudinal Temporal Information."""
    from pydicom.dataset import Dataset

    dataset.PatientIdentityRemoved = "YES"
    codes = options.methodCodes()
    dataset.DeidentificationMethod = ["VirtualBiopsy keyed pseudonyms (HMAC-SHA256)"] + [
        meaning for _, meaning in codes
    ]
    items = []
    for value, meaning in codes:
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
        items.append(item)
    dataset.DeidentificationMethodCodeSequence = items
    dataset.LongitudinalTemporalInformationModified = "MODIFIED" if options.retainDates == "shift" else "REMOVED"


def _repeatingRemoved(tag: Any) -> bool:
    group = tag.group & 0xFF00
    return group == 0x5000 or (group == 0x6000 and tag.element in (0x3000, 0x4000))


def _tagOf(keyword: str) -> str:
    from pydicom.datadict import tag_for_keyword

    tag = tag_for_keyword(keyword) or 0
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _values(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return [str(item) for item in value]
    return [str(value)]


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()
