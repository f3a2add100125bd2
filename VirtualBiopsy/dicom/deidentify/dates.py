"""Whole-day shifts of DICOM dates (DA) and date-times (DT); times of day are kept."""

from __future__ import annotations

import datetime
import re
from typing import Any

_DATE = re.compile(r"^(\d{4})\.?(\d{2})\.?(\d{2})$")


def shiftDate(value: str, days: int) -> str:
    """``value`` (``YYYYMMDD``, or the old ``YYYY.MM.DD``) moved by ``days``, as ``YYYYMMDD``; ``""`` for a value that
    is not a full date (it cannot be shifted exactly, so it is removed)."""
    match = _DATE.match(value.strip())
    if match is None:
        return ""
    try:
        date = datetime.date(*(int(part) for part in match.groups()))
    except ValueError:
        return ""
    try:
        return (date + datetime.timedelta(days=days)).strftime("%Y%m%d")
    except OverflowError:
        return ""


def shiftDateTime(value: str, days: int) -> str:
    """A DT value (``YYYYMMDDHHMMSS.FFFFFF&ZZXX``) with its date part moved by ``days`` and the rest kept; ``""`` for a
    value without a full date."""
    text = value.strip()
    if len(text) < 8 or not text[:8].isdigit():
        return ""
    shifted = shiftDate(text[:8], days)
    return shifted + text[8:] if shifted else ""


def shiftValue(value: Any, vr: str, days: int) -> Any:
    """A DA or DT element value (one string or several) shifted by ``days``."""
    shift = shiftDate if vr == "DA" else shiftDateTime
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return [shift(str(item), days) for item in value]
    return shift(str(value), days) if value not in (None, "") else value
