"""HTML building blocks of the report: escaping, pages with inline CSS, tables, notices and inline images.

Every value that comes from the run folder goes through :func:`escape` (or :func:`table`, which escapes each cell).
"""

from __future__ import annotations

import html
import math
import numbers
from collections.abc import Callable, Iterable, Mapping

import pandas as pd

#: The report's style sheet (inline in every page: the report opens from disk, with no network).
CSS = """
:root { --ink: #1b1f24; --muted: #57606a; --line: #d0d7de; --accent: #0072B2; --bad: #b42318; --warn: #9a6700;
        --ok: #1a7f37; --panel: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--ink); background: #fff; }
header { background: #0b3954; color: #fff; padding: 14px 28px; }
header h1 { margin: 0; font-size: 22px; font-weight: 600; }
header p { margin: 2px 0 0; color: #d8e6f0; font-size: 13px; }
header a { color: #fff; }
nav { position: sticky; top: 0; background: #fff; border-bottom: 1px solid var(--line); padding: 6px 28px;
      font-size: 13px; z-index: 1; }
nav a { margin-right: 14px; color: var(--accent); text-decoration: none; white-space: nowrap; }
main { max-width: 1240px; margin: 0 auto; padding: 8px 28px 40px; }
section { margin-top: 26px; }
h2 { font-size: 19px; border-bottom: 2px solid var(--line); padding-bottom: 4px; margin: 0 0 10px; }
h3 { font-size: 16px; margin: 16px 0 6px; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: var(--panel); font-weight: 600; }
td.number { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.scroll { max-width: 100%; overflow-x: auto; }
figure { margin: 8px 0 16px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; max-width: 960px; }
.notice { border-left: 4px solid var(--muted); background: var(--panel); padding: 6px 12px; margin: 6px 0 12px; }
.notice.absent { border-color: var(--warn); }
.notice.failed { border-color: var(--bad); }
.status-done { color: var(--ok); font-weight: 600; }
.status-failed { color: var(--bad); font-weight: 600; }
.status-other { color: var(--warn); font-weight: 600; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 10px 0; }
.row { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 150px; background: var(--panel); }
.card b { display: block; font-size: 20px; }
.small { font-size: 13px; color: var(--muted); }
caption { text-align: left; caption-side: top; color: var(--muted); padding: 2px 0; white-space: nowrap; }
code { font-size: 12.5px; background: var(--panel); padding: 0 3px; }
"""


def escape(value: object) -> str:
    """``value`` as text, HTML-escaped (quotes included)."""
    return html.escape("" if value is None else str(value), quote=True)


def formatNumber(value: object, digits: int = 3) -> str:
    """A number with ``digits`` significant digits (whole numbers as such); empty for missing values."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if math.isinf(number):
        return "∞" if number > 0 else "−∞"
    if number.is_integer() and abs(number) < 1e4:
        return str(int(number))
    if 1e3 <= abs(number) < 1e8:
        return f"{number:,.0f}"
    return f"{number:.{digits}g}"


def page(title: str, subtitle: str, navigation: Iterable[tuple[str, str]], body: str) -> str:
    """A complete HTML page: escaped ``title``/``subtitle``, navigation links (href, label) and ``body`` (HTML)."""
    links = "\n".join(f'<a href="{escape(href)}">{escape(label)}</a>' for href, label in navigation)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"<header><h1>{escape(title)}</h1><p>{escape(subtitle)}</p></header>\n"
        f"<nav>{links}</nav>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def section(anchor: str, title: str, content: str) -> str:
    """A titled section with the anchor ``anchor``."""
    return f'<section id="{escape(anchor)}">\n<h2>{escape(title)}</h2>\n{content}\n</section>'


def notice(text: str, kind: str = "absent") -> str:
    """A notice box (``absent``, ``failed`` or ``info``) holding the escaped ``text``."""
    return f'<div class="notice {escape(kind)}">{escape(text)}</div>'


def paragraph(text: str, small: bool = False) -> str:
    """An escaped paragraph."""
    return f'<p class="small">{escape(text)}</p>' if small else f"<p>{escape(text)}</p>"


def link(href: str, text: str) -> str:
    """An escaped link."""
    return f'<a href="{escape(href)}">{escape(text)}</a>'


def statusLabel(status: str) -> str:
    """A case or analysis status, coloured."""
    kind = status if status in ("done", "failed") else "other"
    return f'<span class="status-{kind}">{escape(status)}</span>'


def figure(dataUri: str, alt: str, caption: str = "", width: int | None = None) -> str:
    """An inline image (a ``data:`` URI) with an escaped alternative text and caption."""
    size = f' width="{int(width)}"' if width else ""
    text = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{dataUri}" alt="{escape(alt)}"{size}>{text}</figure>'


def cards(items: Iterable[tuple[str, str]]) -> str:
    """Headline numbers: (label, value) pairs, both escaped."""
    return (
        '<div class="cards">'
        + "".join(f'<div class="card"><b>{escape(v)}</b>{escape(k)}</div>' for k, v in items)
        + "</div>"
    )


def table(
    frame: pd.DataFrame,
    digits: int = 3,
    cellHtml: Mapping[str, Callable[[object], str]] | None = None,
    caption: str = "",
) -> str:
    """``frame`` as an HTML table (its index is not shown): numbers formatted, every other cell escaped.

    :param cellHtml: column → function returning the HTML of a cell (for links and status labels); its result is
        not escaped again, so it must escape what it shows.
    """
    cellHtml = cellHtml or {}
    head = "".join(f"<th>{escape(column)}</th>" for column in frame.columns)
    rows = []
    for values in frame.itertuples(index=False, name=None):
        cells = []
        for column, value in zip(frame.columns, values):
            if column in cellHtml:
                cells.append(f"<td>{cellHtml[column](value)}</td>")
            elif isinstance(value, numbers.Number) and not isinstance(value, bool):
                cells.append(f'<td class="number">{escape(formatNumber(value, digits))}</td>')
            else:
                cells.append(f"<td>{escape('' if _missing(value) else value)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    title = f"<caption>{escape(caption)}</caption>" if caption else ""
    return (
        f'<div class="scroll"><table>{title}<thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
    )


def _missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def patientFileName(patient: str) -> str:
    """The file name of a patient's page: the id where it is a safe file name, else a safe form with a short hash
    of the id (two ids never share a page)."""
    import hashlib
    import re

    safe = re.sub(r"[^A-Za-z0-9_-]", "_", str(patient)) or "patient"
    if safe != str(patient):
        safe += "-" + hashlib.sha256(str(patient).encode("utf-8")).hexdigest()[:8]
    return f"{safe}.html"


def tag(name: str, text: str) -> str:
    """``<name>`` around the escaped ``text`` (e.g. a heading)."""
    return f"<{name}>{escape(text)}</{name}>"
