"""The text of VTK/MRML message collections, for error messages."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import slicer


def messageText(messages: "slicer.vtkMRMLMessageCollection") -> str:
    """The text of a ``vtkMRMLMessageCollection`` on one line, without VTK's source-file noise."""
    lines = []
    for line in messages.GetAllMessagesAsString().splitlines():
        line = re.sub(r"^[-\s]*(Error|Warning):\s*", "", line.strip())
        if not line or re.match(r"^(ERROR|WARNING): In .*, line \d+$", line):
            continue
        lines.append(re.sub(r"^\w+ \(0x[0-9a-fA-F]+\): ", "", line))
    return " ".join(lines)
