"""How every chart of the report looks: one size, one palette, one axes style, and the shared marks.

:func:`figure` makes a styled figure on matplotlib's Agg canvas (no pyplot, no global state) and
:func:`to_png` renders it with no timestamp, so the same run gives byte-identical charts.
:func:`header` puts the title and the legend above the plot, :func:`shade` draws the fault windows
(red bands) and the breaker's open periods (purple hatching), :func:`time_axis` the shared x axis,
:func:`si` and :func:`usd` the tick labels. What each chart draws is in :mod:`harness.report.charts`.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter, MaxNLocator

from harness.report.layout import place
from harness.report.series import Period
from harness.report.timeline import Grid

__all__ = [
    "DPI",
    "HEIGHT_IN",
    "PALETTE",
    "PNG_COMPRESS_LEVEL",
    "STATUS_COLOURS",
    "TIME_LABEL",
    "WIDTH_IN",
    "PlainLogFormatter",
    "empty",
    "figure",
    "header",
    "labels",
    "shade",
    "si",
    "style",
    "time_axis",
    "to_png",
    "usd",
]

#: one palette for every chart (and the HTML page's accents)
PALETTE = {
    "blue": "#2563eb",
    "navy": "#1e3a8a",
    "orange": "#ea580c",
    "amber": "#d97706",
    "green": "#16a34a",
    "red": "#dc2626",
    "purple": "#7c3aed",
    "gray": "#6b7280",
    "ink": "#111827",
    "grid": "#e5e7eb",
}
STATUS_COLOURS = {
    "2xx": PALETTE["green"],
    "429": PALETTE["amber"],
    "other 4xx": PALETTE["purple"],
    "5xx": PALETTE["red"],
    "transport": PALETTE["gray"],
}

WIDTH_IN = 11.0  # every chart is this wide …
HEIGHT_IN = 3.6  # … and this tall per panel
DPI = 110  # 1210 px wide: sharp at the page's 1100 px column
#: zlib's fastest level for the PNGs: the same pixels, a third less time encoding than the default 6,
#: files about a sixth larger (charts are flat colours and lines: they compress well either way)
PNG_COMPRESS_LEVEL = 1
TIME_LABEL = "time since run start (s)"


def figure(rows: int = 1) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN * rows if rows == 1 else 2.6 * rows + 0.6), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(rows, 1, i + 1) for i in range(rows)]
    for ax in axes:
        style(ax)
    return fig, axes


def style(ax: Axes) -> None:
    ax.set_facecolor("white")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#9ca3af")
    ax.grid(True, color=PALETTE["grid"], linewidth=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(colors="#4b5563", labelsize=9)


def to_png(fig: Figure) -> tuple[bytes, int, int]:
    place(fig)  # margins from the labels, measured once (tight layout measured every tick label thrice)
    buf = io.BytesIO()
    # no "Software" stamp: the same run gives byte-identical charts
    fig.savefig(
        buf, format="png", dpi=DPI, facecolor="white", metadata={"Software": None},
        pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL},
    )  # fmt: skip
    width, height = (round(v) for v in fig.get_size_inches() * DPI)
    return buf.getvalue(), width, height


def labels(ax: Axes, xlabel: str, ylabel: str) -> None:
    ax.set_xlabel(xlabel, fontsize=10, color="#374151")
    ax.set_ylabel(ylabel, fontsize=10, color="#374151")


def header(ax: Axes, title: str | None) -> None:
    """The title on the left, then the legend in rows between the title and the plot, so it hides no data.

    Call last, once every labelled artist is drawn. ``title`` None keeps room for the legend only.
    """
    handles, _names = ax.get_legend_handles_labels()
    rows = 0
    if handles:
        # one row when it fits the axes' width, else as few rows as fit (measured, not guessed)
        renderer = ax.figure.canvas.get_renderer()  # type: ignore[attr-defined]
        room = ax.get_window_extent(renderer).width
        for rows in range(1, len(handles) + 1):
            ncol = math.ceil(len(handles) / rows)
            legend = ax.legend(
                loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=ncol, fontsize=8.5, frameon=False,
                handlelength=1.6, columnspacing=1.4, borderaxespad=0.15, borderpad=0.0,
            )  # fmt: skip
            if legend.get_window_extent(renderer).width <= room:
                break
        rows = math.ceil(len(handles) / ncol)
    pad = 8 + 15 * rows
    if title is not None:
        # y=1.0: the title stays where pad puts it, above the frame; the draw would otherwise measure the
        # y axis's tick labels once more to check whether anything sits on top of the frame (nothing does)
        ax.set_title(title, loc="left", fontsize=12, fontweight="bold", color=PALETTE["ink"], pad=pad, y=1.0)
    elif rows:
        ax.set_title(" ", fontsize=2, pad=pad, y=1.0)


def shade(ax: Axes, faults: Sequence[Period], breakers: Sequence[Period] = (), text_span: float = 0.0) -> None:
    """Fault windows as red bands, breaker open periods as purple hatching.

    With ``text_span`` (the run's length) each fault window wide enough to hold it gets its label on top.
    """
    for i, p in enumerate(faults):
        ax.axvspan(p.start, p.end, color=PALETTE["red"], alpha=0.09, lw=0, label="fault window" if i == 0 else None)
        if text_span and p.end - p.start >= 0.04 * text_span:
            ax.text(
                (p.start + p.end) / 2, 0.97, p.label, transform=ax.get_xaxis_transform(), ha="center", va="top",
                fontsize=8, color=PALETTE["red"], clip_on=True,
            )  # fmt: skip
    seen: set[str] = set()
    for p in breakers:
        label = "breaker open" if p.label == "open" else "breaker half-open"
        first = label not in seen
        seen.add(label)
        if p.label == "open":
            ax.axvspan(p.start, p.end, facecolor="none", edgecolor=PALETTE["purple"], hatch="///", alpha=0.35, lw=0,
                       label=label if first else None)  # fmt: skip
        else:
            ax.axvspan(p.start, p.end, color=PALETTE["purple"], alpha=0.18, lw=0, label=label if first else None)


def time_axis(ax: Axes, grid: Grid) -> None:
    # a little room after the last bucket, so a burst at the very end is drawn inside the frame
    ax.set_xlim(grid.start, grid.end + max(grid.width, 0.015 * (grid.end - grid.start)))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=12, steps=[1, 2, 2.5, 5, 10]))


def si(value: float, _pos: object = None) -> str:
    """Compact tick label: 2.4M, 850k, 12."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


class PlainLogFormatter(LogFormatter):
    """The minor ticks of a log axis as plain numbers (0.3, 2, 40), picked as matplotlib picks them.

    matplotlib's default writes them as 3×10⁻¹ in mathtext, which reads worse beside the plain major
    labels and parses slowly.
    """

    def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
        return f"{x:g}"


def usd(value: float, _pos: object = None) -> str:
    return f"${value:,.2f}" if abs(value) >= 10 else f"${value:.4g}"


def empty(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", fontsize=11, color=PALETTE["gray"])
