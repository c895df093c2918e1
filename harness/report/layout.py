"""Where a chart's axes go: margins worked out once from the chart's own labels, instead of tight layout.

matplotlib's tight layout finds the margins by placing and measuring every tick label of every axis,
twice per figure, and drawing the figure then does it all once more: a third of a report's time. The
report's charts are small grids (one axes, two stacked, a wide and a narrow one side by side) with
the same decorations everywhere, so :func:`place` computes each margin directly, in points:

* the tick labels: the strings the axis's formatters print for the final limits, measured with the
  renderer's font metrics (no tick artist is made or moved), after the tick's length and pad;
* the axis labels (their own extent and ``labelpad``), and a formatter's offset text ("1e6");
* every text the axes holds outside its frame and does not clip: the title, the legend above the
  plot, an annotation near an edge — each one's overhang past the frame;

then sets the subplot parameters in one step, with :data:`PAD_PT` around the outermost text and
between neighbouring axes. Every text lies inside the figure and no label runs into a neighbour's;
``tests/unit/report/test_chart_layout.py`` checks it with long labels.
"""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib import cbook
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.backend_bases import RendererBase
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.text import Text
from matplotlib.transforms import ScaledTranslation

__all__ = ["PAD_PT", "Room", "place", "room_around"]

#: between the outermost text and the figure's edge, and between two axes (tight layout's pad=0.8)
PAD_PT = 8.0


@dataclass(frozen=True, slots=True)
class Room:
    """Points needed outside an axes' frame on each side for its ticks, labels, title and legend.

    ``below_ticks`` and ``left_of_ticks``: points from the frame to the far side of the x and y tick
    labels, where the axis labels go.
    """

    left: float
    right: float
    top: float
    bottom: float
    below_ticks: float = 0.0
    left_of_ticks: float = 0.0


def place(fig: Figure) -> None:
    """Set the margins and gaps of ``fig``'s subplot grid so every label fits, measuring each once.

    Call once every artist is on the figure (after ``header``); the figure needs a canvas.
    """
    axes = [ax for ax in fig.axes if ax.get_subplotspec() is not None]
    if not axes:
        return
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    rooms = {id(ax): room_around(ax, renderer) for ax in axes}
    nrows, ncols = axes[0].get_subplotspec().get_gridspec().get_geometry()  # type: ignore[union-attr]

    def spans(ax: Axes) -> tuple[range, range]:
        spec = ax.get_subplotspec()
        assert spec is not None
        return spec.rowspan, spec.colspan

    def most(values: list[float]) -> float:
        return max(values, default=0.0)

    def room(side: str, axis: int, end: str, at: int) -> float:
        """The most room on ``side`` among the axes whose rows (``axis`` 0) or columns (1) ``end`` at ``at``."""
        return most([getattr(rooms[id(ax)], side) for ax in axes if getattr(spans(ax)[axis], end) == at])

    left = PAD_PT + room("left", 1, "start", 0)
    right = PAD_PT + room("right", 1, "stop", ncols)
    top = PAD_PT + room("top", 0, "start", 0)
    bottom = PAD_PT + room("bottom", 0, "stop", nrows)
    wgap = most([room("right", 1, "stop", c) + room("left", 1, "start", c) + PAD_PT for c in range(1, ncols)])
    hgap = most([room("bottom", 0, "stop", r) + room("top", 0, "start", r) + PAD_PT for r in range(1, nrows)])
    width_pt, height_pt = (v * 72.0 for v in fig.get_size_inches())
    for ax in axes:
        _pin_axis_labels(ax, rooms[id(ax)])
    fig.subplots_adjust(
        left=left / width_pt, right=1.0 - right / width_pt, bottom=bottom / height_pt, top=1.0 - top / height_pt,
        wspace=_space(wgap, ncols, width_pt - left - right), hspace=_space(hgap, nrows, height_pt - top - bottom),
    )  # fmt: skip


def _space(gap_pt: float, cells: int, total_pt: float) -> float:
    """GridSpec's wspace/hspace (a fraction of the mean cell) that leaves ``gap_pt`` between cells."""
    if cells < 2:
        return 0.0
    return gap_pt * cells / max(total_pt - gap_pt * (cells - 1), 1.0)


def room_around(ax: Axes, renderer: RendererBase) -> Room:
    """What ``ax`` needs outside its frame, in points, wherever the frame ends up."""
    to_pt = 72.0 / ax.figure.dpi
    left = right = top = bottom = x_band = y_band = 0.0
    if ax.axison:
        x_width, x_height = _tick_label_size(ax.xaxis, renderer, to_pt)
        y_width, y_height = _tick_label_size(ax.yaxis, renderer, to_pt)
        x_band, y_band = _tick_band(ax.xaxis, x_height), _tick_band(ax.yaxis, y_width)
        bottom = x_band + _label_room(ax.xaxis, renderer, to_pt, vertical=True)
        left = y_band + _label_room(ax.yaxis, renderer, to_pt, vertical=False)
        # a formatter's offset or scale ("1e6"): under the x tick labels' right end, over the y axis's top
        bottom = max(bottom, x_band + _offset_room(ax.xaxis, renderer, to_pt))
        top = _offset_room(ax.yaxis, renderer, to_pt)
        # the end tick labels are centred on the frame's edges and stick out by half their size
        left = max(left, x_width / 2)
        right = x_width / 2
        top = max(top, y_height / 2)
    frame = ax.get_window_extent(renderer)
    for artist in _outer_texts(ax):
        box = artist.get_window_extent(renderer)
        left = max(left, (frame.x0 - box.x0) * to_pt)
        right = max(right, (box.x1 - frame.x1) * to_pt)
        top = max(top, (box.y1 - frame.y1) * to_pt)
        bottom = max(bottom, (frame.y0 - box.y0) * to_pt)
    return Room(left, right, top, bottom, x_band, y_band)


def _pin_axis_labels(ax: Axes, room: Room) -> None:
    """Put the axis labels just past the tick labels, where matplotlib's draw would put them.

    Pinned, the draw does not lay out and measure every tick label once more to find that place.
    """
    if not ax.axison:
        return
    dpi_scale = ax.figure.dpi_scale_trans
    x_off = -(room.below_ticks + ax.xaxis.labelpad) / 72.0
    y_off = -(room.left_of_ticks + ax.yaxis.labelpad) / 72.0
    ax.xaxis.set_label_coords(0.5, 0.0, ax.transAxes + ScaledTranslation(0.0, x_off, dpi_scale))
    ax.yaxis.set_label_coords(0.0, 0.5, ax.transAxes + ScaledTranslation(y_off, 0.0, dpi_scale))


def _outer_texts(ax: Axes) -> list[Text | Legend]:
    """The axes' texts that may lie outside its frame: titles, the legend, unclipped texts and annotations."""
    found: list[Text] = [ax.title, ax._left_title, ax._right_title, *ax.texts]  # type: ignore[attr-defined]
    shown: list[Text | Legend] = [t for t in found if t.get_visible() and t.get_text() and not _clipped(t)]
    if ax.legend_ is not None and ax.legend_.get_visible():
        shown.append(ax.legend_)
    return shown


def _clipped(text: Text) -> bool:
    """True when the text is cut to a box or path (e.g. the frame): it never shows outside it."""
    return text.get_clip_on() and (text.get_clip_box() is not None or text.get_clip_path() is not None)


def _tick_label_size(axis: Axis, renderer: RendererBase, to_pt: float) -> tuple[float, float]:
    """The widest and the tallest tick label the axis will draw, in points (0, 0 when it draws none).

    The labels are the formatters' strings for the locators' ticks inside the view limits: the same
    strings the draw prints, measured without making or moving a tick artist.
    """
    low, high = sorted(axis.get_view_interval())
    slack = (high - low) * 1e-9
    strings: list[str] = []
    for locator, formatter in (
        (axis.get_major_locator(), axis.get_major_formatter()),
        (axis.get_minor_locator(), axis.get_minor_formatter()),
    ):
        locs = [v for v in locator() if low - slack <= v <= high + slack]
        strings += [s for s in formatter.format_ticks(locs) if s]
    if not strings:
        return 0.0, 0.0
    tick = axis.get_major_ticks(1)[0]
    if not tick.label1.get_visible():
        return 0.0, 0.0
    prop = tick.label1.get_fontproperties()
    sizes = [renderer.get_text_width_height_descent(s, prop, ismath=cbook.is_math_text(s)) for s in strings]
    # a label's box is at least a line tall: matplotlib sizes every line like "lp"
    line = renderer.get_text_width_height_descent("lp", prop, ismath=False)[1]
    return max(w for w, _, _ in sizes) * to_pt, max(line, *(h for _, h, _ in sizes)) * to_pt


def _offset_room(axis: Axis, renderer: RendererBase, to_pt: float) -> float:
    """Points the axis's offset text takes past its tick labels (its pad and height), 0 without one.

    Read after :func:`_tick_label_size`: formatting the ticks is what sets the formatter's offset.
    """
    text = axis.get_major_formatter().get_offset() if axis.offsetText.get_visible() else ""
    if not text:
        return 0.0
    prop = axis.offsetText.get_fontproperties()
    _, height, _ = renderer.get_text_width_height_descent(text, prop, ismath=cbook.is_math_text(text))
    return axis.OFFSETTEXTPAD + height * to_pt


def _tick_band(axis: Axis, label_size: float) -> float:
    """Points from the frame to the far side of the tick labels: tick length, pad, label."""
    tick = axis.get_major_ticks(1)[0]
    length = float(tick.get_tick_padding())
    pad = float(tick.get_pad())  # type: ignore[func-returns-value, arg-type]  # matplotlib's stub says None; it is the pad
    return length + pad + label_size if label_size else length


def _label_room(axis: Axis, renderer: RendererBase, to_pt: float, *, vertical: bool) -> float:
    """Points the axis label takes beyond the tick labels (its pad and its own height), 0 without one."""
    label = axis.label
    if not label.get_visible() or not label.get_text():
        return 0.0
    box = label.get_window_extent(renderer)
    size = box.height if vertical else box.width
    return axis.labelpad + size * to_pt
