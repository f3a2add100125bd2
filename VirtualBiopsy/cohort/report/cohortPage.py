"""The cohort page (``report/index.html``): every section in order, each shown or explained when absent."""

from __future__ import annotations

import logging
from collections.abc import Callable

from VirtualBiopsy.cohort.report import html
from VirtualBiopsy.cohort.report.analysisSections import (
    classificationSection,
    coxSection,
    gradCamSection,
    kaplanMeierSection,
    shapleySection,
)
from VirtualBiopsy.cohort.report.cohortSections import (
    casesSection,
    failuresSection,
    featuresSection,
    harmonizationSection,
    qcSection,
    segmentationQaSection,
)
from VirtualBiopsy.cohort.report.runFolder import RunFolder
from VirtualBiopsy.cohort.runCompletion import incompleteRunNotice

logger = logging.getLogger(__name__)

#: The sections of the cohort page: anchor, title, builder.
SECTIONS: list[tuple[str, str, Callable[[RunFolder], str]]] = [
    ("cases", "Cases", casesSection),
    ("qc", "Quality-control flags", qcSection),
    ("failures", "Failures", failuresSection),
    ("segmentation-qa", "Segmentation QA", segmentationQaSection),
    ("harmonization", "Harmonization effect", harmonizationSection),
    ("features", "Feature exploration", featuresSection),
    ("survival", "Survival by cluster (Kaplan–Meier)", kaplanMeierSection),
    ("cox", "Cox model", coxSection),
    ("classification", "Classifier comparison", classificationSection),
    ("shapley", "Shapley values", shapleySection),
    ("gradcam", "CNN and Grad-CAM", gradCamSection),
]


def guarded(title: str, builder: Callable[[RunFolder], str], run: RunFolder) -> str:
    """The section's HTML, or a notice saying why it could not be shown (a file the run wrote in an unexpected
    form must not stop the rest of the report)."""
    try:
        return builder(run)
    except (ValueError, LookupError, TypeError, ArithmeticError, OSError) as error:
        logger.warning("Report section %s could not be shown: %s", title, error)
        return html.notice(f"{title}: could not be shown ({type(error).__name__}: {error}).", "failed")


def cohortPage(run: RunFolder) -> str:
    """The HTML of the cohort page."""
    manifest = (run.run or {}).get("manifest") or {}
    source = manifest.get("path") if isinstance(manifest, dict) else manifest
    intro = [
        html.paragraph(f"Run folder: {run.folder}" + (f"; manifest: {source}" if source else "") + ".", small=True)
    ]
    if not run.complete:
        intro.append(html.notice(incompleteRunNotice(run.folder), "failed"))
    if run.run is None:
        intro.append(html.notice("run.json is absent: the run folder does not say which manifest and settings it ran."))
    if run.settings is None:
        intro.append(
            html.notice(
                "pipeline.yaml is absent: the run's settings are unknown; disabled stages cannot be told apart from unfinished ones."
            )
        )
    for problem in run.problems.values():
        intro.append(html.notice(problem, "failed"))
    versions = (run.provenance or {}).get("versions")
    if isinstance(versions, dict) and versions:
        shown = ", ".join(f"{name} {version}" for name, version in list(versions.items())[:8])
        intro.append(html.paragraph(f"Versions: {shown}.", small=True))
    sections = [html.section(anchor, title, guarded(title, builder, run)) for anchor, title, builder in SECTIONS]
    navigation = [(f"#{anchor}", title.split(" (")[0]) for anchor, title, _ in SECTIONS]
    return html.page("Virtual Biopsy cohort report", run.folder.name, navigation, "\n".join(intro + sections))
