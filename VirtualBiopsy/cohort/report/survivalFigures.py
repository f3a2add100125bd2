"""Kaplan–Meier figure of the report: the outcome stage's figure (curves with 95 % bands and censoring marks, the
numbers at risk under the plot, the log-rank p in the title), at the report's width, as a data URI."""

from __future__ import annotations

from VirtualBiopsy.cohort.report.figureStyle import pngDataUri
from VirtualBiopsy.outcome.kaplanMeier import KaplanMeierResult
from VirtualBiopsy.outcome.survivalFigure import kaplanMeierFigure as outcomeKaplanMeierFigure
from VirtualBiopsy.outcome.survivalFigure import logRankText

__all__ = ["kaplanMeierFigure", "logRankText"]


def kaplanMeierFigure(result: KaplanMeierResult, times: list[float], timeLabel: str, title: str) -> str:
    """The curves of ``result`` with the numbers at risk at ``times`` (those of the table the page shows)."""
    figure = outcomeKaplanMeierFigure(result, title, timeLabel, times=list(times), width=9.0, fontSize=10)
    return pngDataUri(figure)
