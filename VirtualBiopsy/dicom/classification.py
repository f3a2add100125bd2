"""Which sequence a series is: T1, T1c, T2, FLAIR, DWI, ADC, DCE, CT or unknown, with a confidence and the reason.

The DICOM attributes decide first (modality, ``ImageType`` ADC, diffusion b-values,
temporal positions, TR/TE/TI, contrast agent); the description second, and it
only raises or lowers the confidence when the attributes decided: attributes and
description agree 0.95, attributes alone 0.8, attributes against the description
0.6, description alone 0.5, neither 0 (``unknown``).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

SEQUENCES = ("T1", "T1c", "T2", "FLAIR", "DWI", "ADC", "DCE", "CT", "RTSTRUCT", "SEG", "SR", "unknown")
#: Objects that are not images: their class is their modality.
OBJECT_MODALITIES = ("RTSTRUCT", "SEG", "SR")
_POST = re.compile(r"POST|GAD|\+C\b|\bC\+|\bCE\b|CONTRAST|\bMPR\s*GD|\bGD\b")
_PRE = re.compile(r"\bPRE\b|NON[- ]?CONTRAST|WITHOUT|\bNC\b")


@dataclasses.dataclass(frozen=True)
class Classification:
    """A series' sequence class, confidence in [0, 1], reason, b-values (DWI) and time points (DCE)."""

    sequence: str
    confidence: float
    reason: str
    bValues: tuple[float, ...] = ()
    timePoints: int = 0


def classify(headers: list[dict[str, Any]]) -> Classification:
    """Classify the series whose file headers are ``headers`` (see the module's rules)."""
    first = headers[0]
    description = str(first.get("SeriesDescription", "") or first.get("ProtocolName", "")).upper()
    modality = str(first.get("Modality", ""))
    if modality in OBJECT_MODALITIES:
        return Classification(modality, 1.0, f"modality {modality}: an object that is not an image")
    bValues = tuple(sorted({float(b) for h in headers for b in _tuple(h.get("DiffusionBValue"))}))
    timePoints = len({h["TemporalPositionIdentifier"] for h in headers if "TemporalPositionIdentifier" in h})
    if "LOCALIZER" in [str(value).upper() for value in _tuple(first.get("ImageType"))]:
        return Classification("unknown", 0.95, "a localizer (ImageType LOCALIZER), not a diagnostic sequence")
    byAttributes, why = _fromAttributes(first, bValues, timePoints)
    byDescription = _fromDescription(description)
    if byAttributes is None and byDescription is None:
        return Classification(
            "unknown", 0.0, f"no deciding attribute ({why}) and description {description!r} names no sequence"
        )
    if byAttributes is None:
        return Classification(
            byDescription or "unknown", 0.5, f"description {description!r} only ({why})", bValues, timePoints
        )
    if byDescription == byAttributes:
        return Classification(byAttributes, 0.95, f"{why}; description {description!r} agrees", bValues, timePoints)
    if byDescription is None:
        return Classification(
            byAttributes, 0.8, f"{why}; description {description!r} names no sequence", bValues, timePoints
        )
    return Classification(
        byAttributes, 0.6, f"{why}; description {description!r} says {byDescription}", bValues, timePoints
    )


def _fromAttributes(header: dict[str, Any], bValues: tuple[float, ...], timePoints: int) -> tuple[str | None, str]:
    """The class the attributes give, and why (or ``None`` and what was missing)."""
    modality = header.get("Modality", "")
    imageType = [str(value).upper() for value in _tuple(header.get("ImageType"))]
    contrast = bool(header.get("ContrastBolusAgent"))
    if modality == "CT":
        return "CT", "modality CT"
    if "ADC" in imageType:
        return "ADC", "ImageType contains ADC"
    if bValues and max(bValues) > 0:
        return "DWI", f"diffusion b-values {', '.join(f'{b:g}' for b in bValues)}"
    if timePoints > 1:
        return "DCE", f"{timePoints} temporal positions" + (" with a contrast agent" if contrast else "")
    tr, te, ti = (_number(header.get(key)) for key in ("RepetitionTime", "EchoTime", "InversionTime"))
    if tr is None or te is None:
        return None, "no RepetitionTime/EchoTime"
    timing = f"TR {tr:g} ms, TE {te:g} ms" + (f", TI {ti:g} ms" if ti is not None else "")
    if ti is not None and ti >= 1500 and te >= 60:
        return "FLAIR", f"{timing} (long TI, long TE)"
    if te <= 30 and (tr <= 1200 or (ti is not None and ti < 1500)):
        if contrast:
            return "T1c", f"{timing} (T1-weighted) and contrast agent {header['ContrastBolusAgent']!r}"
        return "T1", f"{timing} (T1-weighted), no contrast agent"
    if tr >= 1500 and te >= 60:
        return "T2", f"{timing} (long TR, long TE)"
    return None, f"{timing} fit no rule"


def _fromDescription(description: str) -> str | None:
    """The class the series description names, if any."""
    if "ADC" in description or "APPARENT DIFF" in description:
        return "ADC"
    if re.search(r"DWI|DIFFUSION|TRACE|\bEP2D_DIFF", description):
        return "DWI"
    if re.search(r"DCE|PERFUSION|DYNAMIC|TWIST|VIBE.*DYN", description):
        return "DCE"
    if "FLAIR" in description:
        return "FLAIR"
    if re.search(r"T2", description):
        return "T2"
    if re.search(r"T1|MPRAGE|SPGR|BRAVO", description):
        return "T1c" if _POST.search(description) and not _PRE.search(description) else "T1"
    return None


def describesContrast(description: str) -> bool | None:
    """``True`` when a description says post-contrast, ``False`` pre-contrast, ``None`` neither."""
    text = description.upper()
    if _PRE.search(text):
        return False
    return True if _POST.search(text) else None


def _number(value: Any) -> float | None:
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


def _tuple(value: Any) -> tuple:
    return value if isinstance(value, tuple) else (() if value is None else (value,))
