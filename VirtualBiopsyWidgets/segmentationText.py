"""Texts of the Segmentation module's panel (3D Slicer only): the chosen model's details, the review's summary."""

from __future__ import annotations

import slicer
from slicer import vtkMRMLTableNode
from slicer.i18n import tr as _


def modelDetails(entry) -> str:
    """The chosen model's description, intended use and, for a catalogue model, its source and licence."""
    lines = [entry.description, _("Intended use: {use}").format(use=entry.intendedUse) if entry.intendedUse else ""]
    if entry.isCatalogue:
        lines.append(_("Licence: {licence}. From: {url}").format(licence=entry.licence, url=entry.download.url))
    return "\n".join(line for line in lines if line)


def reviewSummary(table: vtkMRMLTableNode) -> str:
    """One line per segment: its change, DSC and the volume added and removed."""
    frame = slicer.util.dataframeFromTable(table)
    return "\n".join(
        _("{segment}: {change}, DSC {dsc:.3f}, +{added:.2f} ml / -{removed:.2f} ml").format(
            segment=row["Segment"],
            change=row["Change"],
            dsc=float(row["DSC"]),
            added=float(row["Added (ml)"]),
            removed=float(row["Removed (ml)"]),
        )
        for _index, row in frame.iterrows()
    )
