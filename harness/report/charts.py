"""The report's charts, drawn with matplotlib's Agg canvas (no pyplot, no global state, no display).

:func:`render_charts` turns a :class:`RunResult` into a list of :class:`Chart` (PNG bytes plus a
title and a one-sentence caption); :mod:`harness.report.html` embeds them and saves them as files.
Every time chart shares one x axis (seconds since the run start), one size, one palette, and shows
the fault windows (red bands) and, where it matters, the breaker's open periods (purple hatching);
those shared looks are in :mod:`harness.report.chart_style`.
Bucket widths adapt to the run's length (see :mod:`harness.report.timeline`) and the axis says which.

Example::

    for chart in render_charts(result):
        (out_dir / chart.filename).write_bytes(chart.png)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from harness.judge.columns import LogColumns
from harness.report.chart_style import (
    DPI,
    HEIGHT_IN,
    PALETTE,
    STATUS_COLOURS,
    TIME_LABEL,
    WIDTH_IN,
    PlainLogFormatter,
    empty,
    figure,
    header,
    labels,
    shade,
    si,
    style,
    time_axis,
    to_png,
    usd,
)
from harness.report.result import RunResult
from harness.report.series import (
    STATUS_CLASSES,
    Period,
    arrival_series,
    attempts_series,
    breaker_periods,
    cost_series,
    fault_periods,
    latency_series,
    quota_series,
    run_columns,
    run_span,
    status_mix,
)
from harness.report.timeline import FloatArray, Grid, grid_for

__all__ = ["CHARTS", "Chart", "draw_figures", "render_charts"]


@dataclass(frozen=True, slots=True)
class Chart:
    """One rendered chart: a file stem, a title, a one-sentence caption and the PNG."""

    name: str  # file stem: "arrivals" → chart-arrivals.png
    title: str
    caption: str  # how to read it, one sentence
    png: bytes
    width: int  # pixels
    height: int

    @property
    def filename(self) -> str:
        return f"chart-{self.name}.png"

    def __repr__(self) -> str:
        return f"Chart({self.name!r}, {self.width}x{self.height}, {len(self.png)} bytes)"


# -- the charts --------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Context:
    result: RunResult
    cols: LogColumns  # the run's logs as columns, read once (by the judge) for every chart
    span: float  # seconds from t0 to the last event
    faults: list[Period]
    breakers: list[Period]


def _grid(ctx: _Context, min_width_s: float, max_buckets: int) -> Grid:
    """Buckets from 0 past the run's last event: the last arrival is drawn, never on the axis's edge."""
    grid = grid_for(ctx.span, min_width_s, max_buckets)
    if grid.end <= ctx.span + 1e-9:  # an event exactly at the end would fall outside [start, end)
        grid = Grid(grid.width, grid.count + 1, grid.start)
    return grid


def _arrivals(ctx: _Context, title: str) -> tuple[Figure, str]:
    grid = _grid(ctx, 0.1, 1200)
    s = arrival_series(ctx.result, grid, ctx.cols)
    fig, (ax,) = figure()
    shade(ax, ctx.faults, ctx.breakers, text_span=ctx.span)
    fine = grid.width <= 0.1 + 1e-9
    if fine:
        ax.stairs(s.peak, grid.edges, fill=True, color=PALETTE["blue"], alpha=0.85, label="arrivals per 100 ms")
        ylabel = "arrivals per 100 ms"
    else:
        ax.stairs(s.peak, grid.edges, fill=True, color=PALETTE["blue"], alpha=0.35, label="busiest 100 ms in bucket")
        ax.stairs(s.mean, grid.edges, color=PALETTE["navy"], lw=1.2, label="mean per 100 ms")
        ylabel = f"arrivals per 100 ms ({grid.label()} buckets)"
    top = float(s.peak.max(initial=0.0))
    failing = False
    if s.herd_gate is not None:
        top = max(top, s.herd_gate)
        peak_note = f", herd peak {s.herd_peak:g}" if s.herd_peak is not None else ""
        failing = s.herd_peak is not None and s.herd_peak > s.herd_gate
        ax.axhline(s.herd_gate, color=PALETTE["amber"], ls=":", lw=1.0)
        for i, w in enumerate(s.herd_windows):
            ax.hlines(
                s.herd_gate, w.start, w.end, colors=PALETTE["amber"], linestyles="--", lw=2.2,
                label=f"herd gate {s.herd_gate:g} in [t1, t1+W]{peak_note}" if i == 0 else "_nolegend_",
            )  # fmt: skip
        if s.herd_peak is not None and s.herd_peak_at is not None:
            colour = PALETTE["red"] if failing else PALETTE["amber"]
            verdict = f"over the gate of {s.herd_gate:g}" if failing else f"under the gate of {s.herd_gate:g}"
            late = s.herd_peak_at > 0.6 * grid.end  # written leftwards, so it stays over the plot
            ax.annotate(
                f"herd peak {s.herd_peak:g} at {s.herd_peak_at:.1f} s ({verdict})",
                (s.herd_peak_at + 0.05, s.herd_peak),  # the middle of the busiest 100 ms
                xytext=(-12 if failing or late else 10, 14), textcoords="offset points", fontsize=8.5, color=colour,
                ha="right" if late else "left",
                arrowprops={"arrowstyle": "->", "color": colour, "lw": 1.0},
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.9},
            )  # fmt: skip
    ceiling = max(1.0, top) * 1.18
    if s.herd_gate is not None:
        # a burst far above the gate and the herd (everyone's first attempt, say) would flatten the
        # recovery the gate is about: clip the axis above both and say where the burst went
        focus = max(s.herd_gate, s.herd_peak or 0.0) * 2.5
        if top > focus * 1.6:
            ceiling = focus
            at = float(grid.edges[int(np.argmax(s.peak))])
            late = at > 0.6 * grid.end
            ax.annotate(
                f"↑ {top:,.0f} at {at:.1f} s (axis clipped)", (at, focus), xytext=(-8 if late else 8, -14),
                textcoords="offset points", fontsize=8.5, color=PALETTE["navy"], ha="right" if late else "left",
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.85},
            )  # fmt: skip
    ax.set_ylim(0, ceiling)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    time_axis(ax, grid)
    labels(ax, TIME_LABEL, ylabel)
    header(ax, title)
    per = "per 100 ms" if fine else f"per 100 ms (the busiest and the mean 100 ms of each {grid.label()} bucket)"
    parts = [f"Every attempt that reached the provider, counted {per}, from the run's start to its last arrival"]
    if ctx.faults:
        parts.append("red bands are fault windows")
    if ctx.breakers:
        parts.append("purple hatching is when the client's breaker was open")
    if s.herd_gate is not None:
        parts.append(
            "the dashed amber line is the herd gate, which arrivals in any sliding 100 ms window must stay under "
            "during the W seconds after each recovery; the arrow marks the busiest such window"
            + (" (over the gate: the herd)" if failing else "")
        )
    caption = "; ".join(parts) + "."
    return fig, caption


def _latency(ctx: _Context, title: str) -> tuple[Figure, str]:
    grid = _grid(ctx, 0.5, 120)
    s = latency_series(ctx.result, grid, ctx.cols)
    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    FigureCanvasAgg(fig)
    ax, dist = fig.subplots(1, 2, width_ratios=(3, 1))
    for a in (ax, dist):
        style(a)
    shade(ax, ctx.faults, ctx.breakers)
    x = grid.centers
    lines = (
        (s.latency, s.latencies, "latency", PALETTE["blue"]),
        (s.ttft, s.ttfts, "time to first token", PALETTE["orange"]),
    )
    drawn = [(rows, values, name, colour) for rows, values, name, colour in lines if values.size]
    for rows, values, name, colour in drawn:
        sparse = int(np.isfinite(rows[0]).sum()) < 8  # a few buckets: big markers, or a lone point is invisible
        ax.plot(x, rows[0], color=colour, lw=1.6, marker="o" if sparse else ".", ms=6 if sparse else 3,
                label=f"{name} p50")  # fmt: skip
        ax.plot(x, rows[1], color=colour, lw=1.2, ls="--", marker="_" if sparse else None, ms=10,
                label=f"{name} p99")  # fmt: skip
        share = np.arange(1, values.size + 1) / values.size
        dist.step(values, share, where="post", color=colour, lw=1.8)
    if drawn:
        values = np.concatenate([v for _, v, _, _ in drawn])
        positive = values[values > 0]
        if positive.size and positive.max() / positive.min() > 30:
            ax.set_yscale("log")
            dist.set_xscale("log")
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))
            dist.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))
            ax.yaxis.set_minor_formatter(PlainLogFormatter())
            dist.xaxis.set_minor_formatter(PlainLogFormatter())
        else:
            top = float(values.max()) * 1.15 or 1.0
            ax.set_ylim(0, top)
            dist.set_xlim(0, top)
        dist.set_ylim(0, 1.03)
        dist.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.0%}"))
    else:
        empty(ax, "no successful requests")
    time_axis(ax, grid)
    labels(ax, f"{TIME_LABEL}, when the answer arrived ({grid.label()} buckets)", "seconds")
    labels(dist, "seconds", "share of answers at most this fast")
    dist.set_title("distribution", loc="left", fontsize=10, color="#374151", y=1.0)
    header(ax, title)
    ttft_note = " and of time to first token for streamed requests (orange, by when the first token arrived)"
    caption = (
        f"Left: percentiles (p50 solid, p99 dashed) of end-to-end latency (blue){ttft_note if s.streamed else ''}, "
        f"over the {s.requests:,} successful requests grouped by when their answer arrived ({grid.label()} "
        "buckets); gaps are buckets in which no answer arrived. Right: the whole distribution (the share of "
        "answers at most that slow), which reads the same when every request started at once."
    )
    return fig, caption


def _attempts(ctx: _Context, title: str) -> tuple[Figure, str]:
    s = attempts_series(ctx.result, ctx.cols)
    fig, (ax,) = figure()
    x = np.asarray(s.attempts, dtype=np.float64)
    bars = [(name, values, colour) for name, values, colour in (
        ("seen by the provider", s.provider, PALETTE["blue"]),
        ("recorded by the client", s.client, PALETTE["orange"]),
    ) if values is not None]  # fmt: skip
    width = 0.8 / max(1, len(bars))
    peak = 0
    for i, (name, values, colour) in enumerate(bars):
        offset = (i - (len(bars) - 1) / 2) * width
        ax.bar(x + offset, values, width=width * 0.95, color=colour, alpha=0.85, label=name)
        peak = max(peak, *values)
    # one label per attempt count, above its bars: "313" when both logs agree, "313 / 310" when not
    # (two labels on neighbouring bars run together into "313313")
    for j, at in enumerate(s.attempts):
        values = [v[j] for _, v, _ in bars]
        if not any(values):
            continue
        text = f"{values[0]:,}" if len(set(values)) == 1 else " / ".join(f"{v:,}" for v in values)
        ax.annotate(text, (at, max(values)), xytext=(0, 3), textcoords="offset points", ha="center", va="bottom",
                    fontsize=8, color="#374151")  # fmt: skip
    if not bars:
        empty(ax, "no attempts recorded")
    if s.limit is not None:
        ax.axvline(s.limit + 0.5, color=PALETTE["red"], ls="--", lw=1.2, label=f"attempt limit ({s.limit})")
    nonzero = [v for _, values, _ in bars for v in values if v > 0]
    if nonzero and max(nonzero) / min(nonzero) > 50:
        ax.set_yscale("log")
        ax.set_ylim(0.7, peak * 3)
        ax.yaxis.set_major_formatter(FuncFormatter(si))
    else:
        ax.set_ylim(0, max(1, peak) * 1.15)
    ax.set_xticks(s.attempts)
    ax.set_xlim(-0.6, max(s.attempts[-1], s.limit or 0) + 0.9)
    labels(ax, "attempts (0: refused before reaching the provider)", "logical requests")
    header(ax, title)
    both = len(bars) == 2
    caption = (
        "How many logical requests took 0, 1, 2 … attempts"
        + (", as the provider's log saw them (blue) and as the client recorded them (orange; it also counts "
           "attempts its breaker refused locally); one number above a pair means both logs agree, two are "
           "provider / client" if both else "")
        + (f"; the dashed line is the client's limit of {s.limit} attempts, and a pile-up at it means retries ran out"
           if s.limit is not None else "")
        + "."
    )  # fmt: skip
    return fig, caption


def _quota(ctx: _Context, title: str) -> tuple[Figure, str]:
    grid = _grid(ctx, 0.1, 600)
    s = quota_series(ctx.result, grid, cols=ctx.cols)
    fig, (ax_t, ax_r) = figure(rows=2)
    panels: tuple[tuple[Axes, FloatArray, FloatArray, float | None, str, str], ...] = (
        (ax_t, s.tokens_served, s.tokens_offered, s.quota_tpm, "tokens", "tokens / min"),
        (ax_r, s.requests_served, s.requests_offered, s.quota_rpm, "requests", "requests / min"),
    )
    for ax, served, offered, quota, what, unit in panels:
        shade(ax, ctx.faults)
        ax.stairs(served, grid.edges, fill=True, color=PALETTE["green"], alpha=0.55, label=f"{what} served (2xx)")
        if not np.array_equal(served, offered):
            ax.stairs(offered, grid.edges, color=PALETTE["gray"], lw=1.0, label=f"{what} offered (refusals included)")
        top = float(offered.max(initial=0.0))
        if quota is not None and math.isfinite(quota) and quota > 0:
            ax.axhline(quota, color=PALETTE["red"], ls="--", lw=1.6, label=f"quota {si(quota)} {unit}")
            top = max(top, quota)
        ax.set_ylim(0, max(1.0, top) * 1.2)
        ax.yaxis.set_major_formatter(FuncFormatter(si))
        ax.set_ylabel(f"{unit}\n(trailing {s.window_s:g} s)", fontsize=10, color="#374151")
        time_axis(ax, grid)
    header(ax_t, title)
    header(ax_r, None)
    ax_r.set_xlabel(f"{TIME_LABEL} (highest value within each {grid.label()} bucket)", fontsize=10, color="#374151")
    quotas = [q for q in (s.quota_tpm, s.quota_rpm) if q is not None and math.isfinite(q) and q > 0]
    against = (
        "against the provider's configured quota (dashed red)"
        if quotas
        else "; this scenario sets no provider quota, so there is no quota line"
    )
    caption = (
        f"Load in the trailing {s.window_s:g} s as a provider quota counts it (tokens are prompt + max_tokens, "
        "OpenAI's rule), for attempts the provider served (green) and for every attempt it received, refusals "
        f"included (gray, where it differs), {against}; the first minute shows the window filling up."
    ).replace(", ;", ";")
    return fig, caption


def _cost(ctx: _Context, title: str) -> tuple[Figure, str]:
    grid = _grid(ctx, 0.1, 600)
    s = cost_series(ctx.result, grid, ctx.cols)
    fig, (ax,) = figure()
    shade(ax, ctx.faults)
    gap = s.provider_total - s.client_total
    ax.step(s.at, s.provider, where="post", color=PALETTE["blue"], lw=2.4, alpha=0.8,
            label=f"provider bill (${s.provider_total:.6f})")  # fmt: skip
    ax.step(s.at, s.client, where="post", color=PALETTE["orange"], lw=1.4, ls="--",
            label=f"client ledger (${s.client_total:.6f})")  # fmt: skip
    ax.fill_between(s.at, s.client, s.provider, step="post", color=PALETTE["red"], alpha=0.15, lw=0,
                    label=f"gap ${gap:.6f}")  # fmt: skip
    ax.set_ylim(0, max(1e-6, float(max(s.provider.max(initial=0.0), s.client.max(initial=0.0)))) * 1.15)
    ax.yaxis.set_major_formatter(FuncFormatter(usd))
    time_axis(ax, grid)
    labels(ax, TIME_LABEL, "cumulative USD")
    header(ax, title)
    caption = (
        "Cumulative spend as the client's ledger charged it (at each answer) and as the provider billed it (at the "
        "end of each attempt); the shaded gap is money the client did not account for, such as streams cut midway "
        "that the provider still bills."
    )
    return fig, caption


def _status(ctx: _Context, title: str) -> tuple[Figure, str]:
    grid = _grid(ctx, 0.2, 240)
    mix = status_mix(ctx.result, grid, ctx.cols)
    fig, (ax,) = figure()
    shade(ax, ctx.faults, ctx.breakers)
    base = np.zeros(grid.count)
    for name in STATUS_CLASSES:
        values = mix[name]
        if values.any():
            ax.stairs(base + values, grid.edges, baseline=base.copy(), fill=True, color=STATUS_COLOURS[name],
                      alpha=0.85, label=name)  # fmt: skip
            base = base + values
    if not base.any():
        empty(ax, "no attempts reached the provider")
    ax.set_ylim(0, max(1.0, float(base.max(initial=0.0))) * 1.18)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    time_axis(ax, grid)
    labels(ax, TIME_LABEL, f"attempts per {grid.label()}")
    header(ax, title)
    caption = (
        f"Attempts reaching the provider per {grid.label()}, stacked by the status it answered (transport: the "
        "connection failed before any status, e.g. a reset or silence)."
    )
    return fig, caption


#: the ladder's steps as the degradation chart colours them, best first
STEP_COLOURS = {
    "primary": PALETTE["green"],
    "cache": PALETTE["blue"],
    "cheaper": PALETTE["amber"],
    "static": PALETTE["purple"],
    "error": PALETTE["red"],
}


def _degradation(ctx: _Context, title: str) -> tuple[Figure, str]:
    timeline = ctx.result.metrics.get("degradation_timeline")
    assert isinstance(timeline, dict)
    width = float(timeline["bucket_s"])
    steps: dict[str, list[int]] = timeline["steps"]
    buckets = max((len(v) for v in steps.values()), default=0)
    totals = np.zeros(buckets)
    for counts in steps.values():
        totals = totals + np.asarray(counts, dtype=float)
    edges = np.arange(buckets + 1) * width
    fig, (ax,) = figure()
    shade(ax, ctx.faults, ctx.breakers)
    base = np.zeros(buckets)
    safe = np.where(totals > 0, totals, 1.0)
    for step, colour in STEP_COLOURS.items():
        share = np.asarray(steps.get(step, [0] * buckets), dtype=float) / safe
        if share.any():
            ax.stairs(base + share, edges, baseline=base.copy(), fill=True, color=colour, alpha=0.85, label=step)
            base = base + share
    last = max((i for i in range(buckets) if totals[i] > 0), default=None)
    ends_degraded = last is not None and totals[last] > steps.get("primary", [0] * buckets)[last]
    climb = _mark_recovery(ax, ctx, float(edges[last]) if ends_degraded and last is not None else None)
    failed = [g for g in ctx.result.gates if g.name.startswith("degradation_") and not g.passed]
    if failed:
        text = "\n".join(f"FAILED: {g.name} = {format_gate_value(g.value)} (gate {g.op} {g.threshold})" for g in failed)
        ax.text(0.01, 0.04, text, transform=ax.transAxes, ha="left", va="bottom", fontsize=9, color="white",
                bbox={"facecolor": PALETTE["red"], "edgecolor": "none", "pad": 4}, linespacing=1.4)  # fmt: skip
    ax.set_ylim(0, 1.18)
    ax.set_xlim(0, float(edges[-1]) if buckets else 1.0)
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel(f"share of requests per {width:g} s")
    header(ax, title + (" — gate failed" if failed else ""))
    caption = (
        f"Share of the requests begun in each {width:g} s served by each step of the degradation ladder (primary: "
        "the normal path; cache, cheaper model, static answer; error: no step could serve it); red bands are "
        "faults, hatching the breaker's open periods"
        + climb
        + (", and the red box names the ladder's gates that failed." if failed else ".")
    )
    return fig, caption


def _mark_recovery(ax: Axes, ctx: _Context, degraded_from: float | None) -> str:
    """A dashed line where the run's last outage ended, labelled with how long answers took to be back on
    the primary path for good (``degradation_return_s``); the caption's words for it ("" without an outage).

    ``degraded_from``: the start of the run's last bucket when it still holds a request the primary did
    not serve (else None): a return measured up to there is the run's end, not a climb back."""
    outages = ctx.result.facts.outages
    if not outages:
        return ""
    ended = max(stop for _, stop in outages) - ctx.result.facts.t0
    ax.axvline(ended, color=PALETTE["ink"], ls="--", lw=1.1, label="last outage ends")
    back = ctx.result.metrics.get("degradation_return_s")
    if not isinstance(back, int | float):
        return "; the dashed line is the end of the last outage"
    if degraded_from is not None and ended + back >= degraded_from:
        words = "not back on the primary by the end"
    elif back == 0:
        words = "no answer degraded after it"
    else:
        words = f"back on the primary {back:.1f} s later"
    ax.text(ended, 1.09, f" {words}", ha="left", va="center", fontsize=8.5, color=PALETTE["ink"], clip_on=True)
    return f"; the dashed line is the end of the last outage, labelled with how answers climbed back ({words})"


def format_gate_value(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


#: the charts in page order: (file stem, title, drawing function returning the figure and its caption)
CHARTS: tuple[tuple[str, str, Callable[[_Context, str], tuple[Figure, str]]], ...] = (
    ("arrivals", "Arrivals at the provider", _arrivals),
    ("latency", "Latency and time to first token", _latency),
    ("attempts", "Attempts per logical request", _attempts),
    ("quota", "Tokens and requests per minute against the quota", _quota),
    ("cost", "Cost: client ledger vs provider bill", _cost),
    ("status", "Status mix over time", _status),
)


def _unavailable(title: str, exc: Exception) -> tuple[Figure, str]:
    fig, (ax,) = figure()
    ax.set_axis_off()
    empty(ax, f"this chart could not be drawn ({type(exc).__name__})")
    header(ax, title)
    return fig, f"This chart could not be drawn from the run's records: {type(exc).__name__}: {exc}"


def draw_figures(result: RunResult) -> Iterator[tuple[str, str, Figure, str]]:
    """(file stem, title, figure, caption) per chart in page order, before rendering (e.g. to save as SVG).

    A chart that fails on odd records is replaced by a placeholder that says why, so the rest of the
    report (gates, metrics, other charts) is still written.
    """
    charts = CHARTS
    if isinstance(result.metrics.get("degradation_timeline"), dict):  # a run with a degradation ladder
        charts = (*CHARTS, ("degradation", "Degradation ladder over time", _degradation))
    try:
        cols = run_columns(result)  # the judge's columns: neither log is read again here
        span = run_span(result, cols)
    except Exception as exc:  # logs that cannot be read into columns: every chart says so, the page is written
        for name, title, _draw in charts:
            fig, caption = _unavailable(title, exc)
            yield name, title, fig, caption
        return
    span = span if math.isfinite(span) and span > 0 else 1.0
    # buckets are half-open: attempts arriving at the very end of the run (a herd released as the last
    # answers come back instantly, in virtual time) would fall past the last one and never be drawn
    span += 1e-6
    breakers = breaker_periods(result.events, result.facts.t0, span)
    ctx = _Context(result, cols, span, fault_periods(result), breakers)
    for name, title, draw in charts:
        try:
            fig, caption = draw(ctx, title)
        except Exception as exc:  # a report must not die at the end of a long run; the placeholder says why
            fig, caption = _unavailable(title, exc)
        yield name, title, fig, caption


def render_charts(result: RunResult) -> list[Chart]:
    """Every chart of the report as PNG, in page order."""
    charts = []
    for name, title, fig, caption in draw_figures(result):
        png, width, height = to_png(fig)
        charts.append(Chart(name, title, caption, png, width, height))
    return charts
