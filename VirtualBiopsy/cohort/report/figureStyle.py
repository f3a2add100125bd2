"""The report's figure helpers: one style for every plot (matplotlib, Agg), PNG data URIs and feature units.

Figures are drawn at 100 dpi and sized in inches so that a full-width figure is about 1,000 px: legible at a
laptop's width (~1,300 px) without scaling the text.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import io
import re
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

#: Colour-blind-safe colours (Okabe–Ito), the same as the library's other figures.
COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
#: Colours of the automatic and the reference segmentation outlines.
SEGMENTATION_COLOR = "#FFB000"
REFERENCE_COLOR = "#00D5FF"
DPI = 100

_STYLE: dict[str, Any] = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
}

Plot = TypeVar("Plot", bound=Callable[..., Any])


@contextlib.contextmanager
def reportStyle() -> Iterator[None]:
    """Draw in the report's style (Agg backend, font sizes, colours)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from cycler import cycler

    settings: Any = {**_STYLE, "axes.prop_cycle": cycler(color=COLORS)}
    with matplotlib.rc_context(settings):
        yield


def styled(plot: Plot) -> Plot:
    """Decorate a plotting function so that it draws in :func:`reportStyle`."""

    @functools.wraps(plot)
    def wrapper(*args, **kwargs):
        with reportStyle():
            return plot(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def newFigure(width: float, height: float, rows: int = 1, columns: int = 1, **subplots):
    """A figure (``width`` × ``height`` inches, constrained layout) and its axes."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    return figure, figure.subplots(rows, columns, squeeze=False, **subplots)


def pngDataUri(figure) -> str:
    """The figure as a ``data:image/png;base64,…`` URI."""
    buffer = io.BytesIO()
    with reportStyle():
        figure.savefig(buffer, format="png", dpi=DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def pngFileDataUri(data: bytes) -> str:
    """The bytes of a PNG file as a data URI."""
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def isPng(data: bytes) -> bool:
    """Whether ``data`` starts with the PNG signature."""
    return data.startswith(b"\x89PNG\r\n\x1a\n")


def featureUnit(name: str) -> str:
    """The unit of a pyradiomics feature from its name: shape sizes in mm, mm² and mm³; others have none (on
    harmonized images, intensities and texture values are relative)."""
    base = name.rsplit("_", 1)[-1]
    if re.search("shape", name):
        if base in ("MeshVolume", "VoxelVolume"):
            return "mm³"
        if base == "SurfaceArea":
            return "mm²"
        if base == "SurfaceVolumeRatio":
            return "mm⁻¹"
        if "Diameter" in base or "AxisLength" in base:
            return "mm"
    return ""


def featureLabel(name: str) -> str:
    """A feature name with its unit, for an axis."""
    unit = featureUnit(name)
    return f"{name} ({unit})" if unit else f"{name} (no unit)"


def shortFeatureName(name: str, length: int = 48) -> str:
    """A feature name shortened for a tick label (``original_`` dropped, middle elided when still too long)."""
    short = name.replace("_original_", " ").replace("original_", "")
    return short if len(short) <= length else short[: length // 2 - 1] + "…" + short[-(length // 2) :]
