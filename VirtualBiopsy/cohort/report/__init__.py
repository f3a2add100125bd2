"""The HTML report of a cohort run (``virtual-biopsy report DIR``): a cohort page and one page per patient,
self-contained (figures and style inline, no script, no network), built from whatever the run folder holds."""

from VirtualBiopsy.cohort.report.build import buildReport
from VirtualBiopsy.cohort.report.runFolder import RunFolder, readRunFolder

__all__ = ["RunFolder", "buildReport", "readRunFolder"]
