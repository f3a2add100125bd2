"""What the report needs from the run's settings and ``cohort/analyses.csv``: whether an analysis ran (and if not,
why), the survival columns and their unit, the sequence segmented on.

Settings are read from the run's ``pipeline.yaml`` as ``docs/cohort-run.md`` lays them out
(``analyses: {cox: {enabled: …}}``, ``segment: {sequence: …}``).
"""

from __future__ import annotations

import re

import pandas as pd

from VirtualBiopsy.cohort.report.runFolder import ANALYSES, RunFolder

#: Time units recognised in a clinical column's name (e.g. ``time_months``, ``OS_days``).
_UNITS = {"day": "days", "week": "weeks", "month": "months", "year": "years"}


def analysisSettings(run: RunFolder, name: str) -> dict:
    """The settings section of the analysis ``name`` (empty when the run's settings do not give it)."""
    settings = run.settings or {}
    analyses = settings.get("analyses")
    section = analyses.get(name) if isinstance(analyses, dict) else None
    return section if isinstance(section, dict) else {}


def analysisEnabled(run: RunFolder, name: str) -> bool | None:
    """Whether the settings enable the analysis ``name``; ``None`` when they do not say (or are absent)."""
    settings = run.settings or {}
    analyses = settings.get("analyses")
    if isinstance(analyses, dict):
        if analyses.get("enabled") is False:
            return False
        section = analyses.get(name)
        if isinstance(section, dict) and "enabled" in section:
            return bool(section["enabled"])
    return None


def analysisAbsence(run: RunFolder, name: str, title: str) -> str | None:
    """Why the analysis ``name`` has no results to show, as a sentence starting with ``title``; ``None`` when it
    is recorded as done in ``cohort/analyses.csv`` (or not recorded but enabled: its files decide)."""
    record = _record(run.analyses, name)
    if record is not None:
        status = str(record.get("status", ""))
        error = "" if pd.isna(record.get("error")) else str(record.get("error", ""))
        if status == "done":
            return None
        if status == "failed":
            return f"{title}: failed: {error or 'no reason recorded'} (from {ANALYSES})."
        return f"{title}: {status or 'not run'}{': ' + error if error else ''} (from {ANALYSES})."
    enabled = analysisEnabled(run, name)
    if enabled is False:
        return f"{title}: not run (disabled in settings)."
    if run.analyses is None:
        return f"{title}: not run yet ({ANALYSES} is absent: the cohort analyses have not finished)."
    return None if enabled else f"{title}: not run (not listed in {ANALYSES})."


def missingOutputs(run: RunFolder, title: str, files: list[str]) -> str | None:
    """A sentence naming the absent output files of an analysis, or ``None`` when every one exists."""
    absent = [f for f in files if not (run.folder / f).is_file()]
    if not absent:
        return None
    unreadable = [run.problems[f] for f in absent if f in run.problems]
    why = "; ".join(unreadable) if unreadable else f"{', '.join(absent)} not found"
    return f"{title}: output missing ({why})."


def survivalColumns(run: RunFolder) -> tuple[str, str, str]:
    """The clinical time and event columns and the time axis label (with the unit, when the settings or the
    column's name give it)."""
    section = analysisSettings(run, "clusters")
    timeColumn = str(section.get("timeColumn") or "time")
    eventColumn = str(section.get("eventColumn") or "event")
    unit = section.get("timeUnit")
    if not unit:
        match = re.search("(day|week|month|year)", timeColumn.lower())
        unit = _UNITS[match.group(1)] if match else None
    label = f"Time ({unit})" if unit else f"Time (clinical column '{timeColumn}'; unit not stated)"
    return timeColumn, eventColumn, label


def segmentationSequence(run: RunFolder, summary: dict) -> str | None:
    """The sequence the case was segmented on: the settings' ``segment.sequence``, else the case's first harmonized
    or acquired sequence."""
    segment = (run.settings or {}).get("segment")
    if isinstance(segment, dict) and segment.get("sequence"):
        return str(segment["sequence"])
    for images in (summary.get("harmonized"), summary.get("images")):
        if isinstance(images, dict) and images:
            return str(next(iter(images)))
    return None


def _record(analyses: pd.DataFrame | None, name: str) -> dict | None:
    if analyses is None or "analysis" not in analyses.columns:
        return None
    rows = analyses[analyses["analysis"].astype(str) == name]
    return None if rows.empty else rows.iloc[-1].to_dict()
