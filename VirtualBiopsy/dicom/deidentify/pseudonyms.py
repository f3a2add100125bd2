"""Keyed pseudonyms: patient ids, UIDs, date shifts and file tokens from HMAC-SHA256 with a secret key.

The same identifier gives the same pseudonym with the same key, in every file, series and run; another key gives
unrelated pseudonyms, and without the key a pseudonym cannot be traced back (nor checked against a guess).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac

#: Patient pseudonyms start with this (then 16 base32 characters).
PATIENT_PREFIX = "VB-"
#: Shifted dates move by a whole number of days in this range (inclusive), the same for all dates of a patient.
SHIFT_DAYS = (-365, -30)


class Pseudonyms:
    """The pseudonyms of one key."""

    def __init__(self, key: bytes) -> None:
        self._key = bytes(key)

    def _digest(self, kind: str, value: str) -> bytes:
        return hmac.new(self._key, f"{kind}:{value}".encode(), hashlib.sha256).digest()

    @functools.lru_cache(maxsize=4096)  # noqa: B019 (one instance per run)
    def patient(self, patientId: str) -> str:
        """``VB-`` and base32 of the first 10 bytes of HMAC(key, "patient:" + id): 19 characters."""
        return PATIENT_PREFIX + base64.b32encode(self._digest("patient", patientId)[:10]).decode("ascii")

    @functools.lru_cache(maxsize=65536)  # noqa: B019
    def uid(self, uid: str) -> str:
        """``2.25.`` and the integer of the first 16 bytes of HMAC(key, "uid:" + uid) (a UUID-derived UID root)."""
        return "2.25." + str(int.from_bytes(self._digest("uid", uid.strip().rstrip("\x00"))[:16], "big"))

    def dayShift(self, patientId: str) -> int:
        """The whole-day shift of every date of a patient, in :data:`SHIFT_DAYS`."""
        low, high = SHIFT_DAYS
        return low + int.from_bytes(self._digest("dates", patientId)[:4], "big") % (high - low + 1)

    def fileToken(self, relativePath: str) -> str:
        """A token naming an input file in reports that leave the hospital (its path may carry identifiers)."""
        return "file-" + self._digest("file", relativePath).hex()[:16]
