"""The charts' one-pass layout (harness.report.layout): with long labels nothing is cut off at the
figure's edge and no label runs into another, in every grid the report draws."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from itertools import combinations

import numpy as np
import pytest
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter
from matplotlib.transforms import Bbox

from harness.judge.gates import GateResult
from harness.report import RunResult
from harness.report.chart_style import figure, header, labels, si, to_png, usd
from harness.report.charts import draw_figures, render_charts
from harness.report.layout import place
from tests.unit.report.synthetic import outage_run

TOLERANCE_PX = 0.5  # anti-aliasing: a box may touch the edge or its neighbour by half a pixel


def _boxes(fig: Figure) -> list[tuple[str, Bbox]]:
    """(group, window extent) of every text drawn around the frames: tick labels, axis labels, titles,
    legends and the texts and annotations not clipped to their axes, after a draw."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    found: list[tuple[str, Bbox]] = []
    for i, ax in enumerate(fig.axes):
        if not ax.axison:
            groups = {}
        else:
            groups = {
                "xticks": _drawn_tick_labels(ax.xaxis),
                "yticks": _drawn_tick_labels(ax.yaxis),
                "xlabel": [ax.xaxis.label],
                "ylabel": [ax.yaxis.label],
                "xoffset": [ax.xaxis.offsetText],
                "yoffset": [ax.yaxis.offsetText],
            }
        groups["title"] = [ax.title, ax._left_title, ax._right_title]  # type: ignore[attr-defined]
        groups["text"] = [t for t in ax.texts if not (t.get_clip_on() and t.get_clip_path() is not None)]
        for group, texts in groups.items():
            for text in texts:
                if text.get_visible() and text.get_text().strip():
                    found.append((f"{i}:{group}", text.get_window_extent(renderer)))
        if ax.legend_ is not None:
            found.append((f"{i}:legend", ax.legend_.get_window_extent(renderer)))
    return found


def _drawn_tick_labels(axis: Axis) -> list[Text]:
    """The tick labels the draw prints: those of ticks inside the view limits (the axis keeps others)."""
    low, high = sorted(axis.get_view_interval())
    slack = (high - low) * 1e-9
    ticks = [*axis.get_major_ticks(), *axis.get_minor_ticks()]
    return [t.label1 for t in ticks if low - slack <= t.get_loc() <= high + slack]


def _overlap(a: Bbox, b: Bbox) -> bool:
    return min(a.x1, b.x1) - max(a.x0, b.x0) > TOLERANCE_PX and min(a.y1, b.y1) - max(a.y0, b.y0) > TOLERANCE_PX


def assert_laid_out(fig: Figure) -> None:
    """Every text inside the figure; no two texts of different groups (x ticks, y label, legend …) overlap.

    Annotations sit over the plot by design, so they are held to the figure's edge only.
    """
    boxes = _boxes(fig)
    edge = fig.bbox
    for group, box in boxes:
        assert box.x0 >= edge.x0 - TOLERANCE_PX, (group, box, "cut at a side")
        assert box.x1 <= edge.x1 + TOLERANCE_PX, (group, box, "cut at a side")
        assert box.y0 >= edge.y0 - TOLERANCE_PX, (group, box, "cut at top/bottom")
        assert box.y1 <= edge.y1 + TOLERANCE_PX, (group, box, "cut at top/bottom")
    framing = [(g, b) for g, b in boxes if not g.endswith(":text")]
    for (g1, b1), (g2, b2) in combinations(framing, 2):
        assert g1 == g2 or not _overlap(b1, b2), (g1, b1, g2, b2)


def _long_label_figures() -> list[Figure]:
    """The report's three grids, each with the longest labels a chart prints."""
    x = np.linspace(0.0, 3600.0, 400)  # an hour: four-digit time ticks at the right edge
    one, (ax,) = figure()
    for k in range(7):  # more legend entries than fit a row
        ax.plot(x, 1e6 * (k + 1) * (1 + np.sin(x / 300 + k)), label=f"a long series name number {k} (requests)")
    ax.yaxis.set_major_formatter(FuncFormatter(usd))  # "$14,000,000.00": the widest tick labels
    ax.annotate("a note written rightwards from the very last point", (x[-1], 1e6), xytext=(10, 14),
                textcoords="offset points", fontsize=8.5, ha="left")  # fmt: skip
    labels(ax, "time since run start (s), when the answer arrived (15 s buckets)", "cumulative USD")
    header(ax, "A long title for a chart: client ledger vs provider bill — gate failed")

    two, axes = figure(rows=2)
    for i, ax in enumerate(axes):
        ax.stairs(np.abs(np.sin(x[:-1] / 50)) * 3e7, x, fill=True, label=f"tokens served (2xx) {i}")
        ax.axhline(2.4e7, ls="--", label="quota 24M tokens / min")
        ax.yaxis.set_major_formatter(FuncFormatter(si))
        ax.set_ylabel("tokens / min\n(trailing 60 s)")
    header(axes[0], "Tokens and requests per minute against the quota")
    header(axes[1], None)
    axes[1].set_xlabel("time since run start (s) (highest value within each 100 ms bucket)")

    side = Figure(figsize=(11.0, 3.6), dpi=110)
    FigureCanvasAgg(side)
    left, right = side.subplots(1, 2, width_ratios=(3, 1))
    left.plot(x, 1e-3 + x / 100, label="latency p50")
    left.set_yscale("log")
    right.step(np.sort(x), np.linspace(0, 1, x.size), where="post")
    right.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.0%}"))
    labels(left, "time since run start (s), when the answer arrived (30 s buckets)", "seconds")
    labels(right, "seconds", "share of answers at most this fast")
    right.set_title("distribution", loc="left", fontsize=10, y=1.0)
    header(left, "Latency and time to first token")
    return [one, two, side]


def _offset_figure() -> Figure:
    """Millions on plain axes, no title, legend or x label: the offset texts ("1e6" over the y axis,
    "+1e6" under the x tick labels) are the outermost texts."""
    fig, (ax,) = figure()
    ax.bar([1e6, 1e6 + 1, 1e6 + 2], [5.2e6, 2.5e6, 1.3e5])  # and "+1e6" under the x axis
    ax.set_xlim(1e6 - 0.6, 1e6 + 2.6)
    ax.set_ylabel("logical requests")
    ax.yaxis.offsetText.set_fontsize(20)  # taller than the margin's pad: it must be given room of its own
    return fig


@pytest.mark.parametrize("index", [0, 1, 2, 3], ids=["one axes", "two rows", "side by side", "offsets"])
def test_long_labels_fit_the_figure_and_keep_apart(index: int) -> None:
    fig = [*_long_label_figures(), _offset_figure()][index]
    place(fig)
    assert_laid_out(fig)


def test_the_check_catches_a_cut_label() -> None:
    fig = _long_label_figures()[0]
    place(fig)
    fig.subplots_adjust(left=0.02)  # the y tick labels and the y label now hang off the left edge
    with pytest.raises(AssertionError, match="cut at a side"):
        assert_laid_out(fig)


def test_an_annotation_past_the_frame_gets_room() -> None:
    fig = _long_label_figures()[0]
    place(fig)
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    note = ax.texts[-1].get_window_extent(renderer)
    assert note.x1 > ax.get_window_extent(renderer).x1  # it does stick out past the frame …
    assert note.x1 <= fig.bbox.x1  # … and the margin holds it


def _long_label_run() -> RunResult:
    """The synthetic outage run with six-figure bills, a failing degradation ladder and long notes."""
    run = outage_run(clients=60, duration_s=40.0, outage=(10.0, 25.0))
    records = [replace(r, cost_usd="1234.5678") for r in run.provider_records]
    outcomes = [replace(o, cost_usd=str(Decimal("987.654321"))) for o in run.outcomes]
    steps = {s: [40, 0, 3, 30] if s == "primary" else [0, 12, 30, 9] for s in ("primary", "cache", "static")}
    metrics = {
        **run.metrics,
        "degradation_timeline": {"bucket_s": 10.0, "steps": steps},
        "degradation_return_s": 12.5,
    }
    gates = [
        *run.gates,
        GateResult("degradation_static_share", "<=", 0.4123456, 0.05, False),
        GateResult("degradation_error_share", "==", 0.25, 0, False),
    ]
    return replace(run, provider_records=records, outcomes=outcomes, metrics=metrics, gates=gates)


def test_every_report_chart_with_long_labels_is_laid_out() -> None:
    run = _long_label_run()
    names = []
    for name, _title, fig, _caption in draw_figures(run):
        to_png(fig)  # lays the figure out as the report does
        assert_laid_out(fig)
        names.append(name)
    assert names[-1] == "degradation"
    assert all("could not be drawn" not in c.caption for c in render_charts(run))
