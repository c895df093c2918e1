"""What each chart of ``report.html`` plots, computed from a :class:`RunResult` (records in, arrays out).

Times are seconds since the run start (``facts.t0``), the x axis of every time chart. The provider's
request log gives arrivals, statuses, tokens against the quota and billed cost; the client's outcome
log gives latency, time to first token, attempts and the client's own cost; client events give the
breaker's open periods. Nothing here draws; :mod:`harness.report.charts` does.

The logs are not read here: every series takes them as columns (:func:`run_columns`), those the judge
read in its single pass over each log, so a report decodes neither log again for its charts.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import numpy as np

from harness.judge.columns import LogColumns, log_columns
from harness.records import ProviderRecord
from harness.report.result import ClientEvent, RunResult
from harness.report.timeline import (
    FloatArray,
    Grid,
    category_counts,
    cumulative_at,
    fine_peak_and_mean,
    percentiles,
    sliding_sum_peak,
)

__all__ = [
    "MONEY_LIMIT",
    "STATUS_CLASSES",
    "ArrivalSeries",
    "AttemptsSeries",
    "CostSeries",
    "LatencySeries",
    "Period",
    "QuotaSeries",
    "api_records",
    "arrival_series",
    "attempts_series",
    "breaker_periods",
    "busiest_window",
    "cost_series",
    "fault_periods",
    "latency_series",
    "money",
    "quota_series",
    "run_columns",
    "run_span",
    "status_class",
    "status_mix",
]

#: how attempts are grouped in the status mix, in stacking order (bottom first)
STATUS_CLASSES: tuple[str, ...] = ("2xx", "429", "other 4xx", "5xx", "transport")

# breaker states a client may report, normalised ("half-open" and "HALF_OPEN" are one state); others are ignored
_STATES = ("closed", "open", "half_open")
_SHADED_STATES = ("open", "half_open")


@dataclass(frozen=True, slots=True)
class Period:
    """A span of the run, in seconds since t0, with what it was (a fault label or a breaker state)."""

    start: float
    end: float
    label: str


#: no run spends this much; a bigger amount in a record is garbage, not money
MONEY_LIMIT = Decimal("1e15")


def money(value: object) -> Decimal:
    """A USD amount from a record field; anything unreadable, infinite or absurd counts as zero.

    A report is written at the end of a long run and must not die (or print a million digits) on one
    bad line; the judge's own totals are shown next to it in the metrics table.
    """
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return Decimal(0)
    return amount if amount.is_finite() and abs(amount) < MONEY_LIMIT else Decimal(0)


def api_records(result: RunResult) -> list[ProviderRecord]:
    """Provider records that are model calls (model listings are not load), as the judge counts them."""
    return [r for r in result.provider_records if r.api != "openai.models"]


def run_columns(result: RunResult) -> LogColumns:
    """The run's two logs as columns: the judge's, from its single pass over each, or, for a result built
    without them (or whose logs were replaced since), the logs read once each here. Read it once per
    report and hand it to every series (each series reads the logs itself when given none)."""
    given = result.columns
    if given is not None and given.reads(result.provider_records, result.outcomes):
        return given
    return log_columns(result.provider_records, result.outcomes, result.facts.issued_ids)


def run_span(result: RunResult, cols: LogColumns | None = None) -> float:
    """Seconds from t0 to the last thing that happened: the run's end, a record's end or an outcome's end."""
    cols = cols or run_columns(result)
    t0 = result.facts.t0
    ends = np.concatenate(([result.facts.t_end], cols.bill_end, cols.outcomes.t_end))
    finite = ends[np.isfinite(ends)]
    return max(0.0, (float(finite.max()) if finite.size else t0) - t0)


def status_class(status: int) -> str:
    """``200`` → ``"2xx"``, ``429`` → ``"429"``, ``503`` → ``"5xx"``, ``0`` → ``"transport"`` (no status)."""
    if 200 <= status < 300:
        return "2xx"
    if status == 429:
        return "429"
    if 500 <= status < 600:
        return "5xx"
    if status <= 0:
        return "transport"
    return "other 4xx"


def fault_periods(result: RunResult) -> list[Period]:
    """The scenario's fault windows, relative to t0."""
    t0 = result.facts.t0
    return [Period(start - t0, end - t0, label) for start, end, label in result.fault_windows if end >= start]


def _breaker_change(event: ClientEvent) -> str | None:
    """The state a breaker event moved to (``"closed→open"`` → ``"open"``), or None if it is not one."""
    if event.kind not in ("breaker", "breaker.state"):
        return None
    detail = event.detail.replace("->", "→")
    to = detail.rsplit("→", 1)[-1].strip().lower().replace("-", "_").replace(" ", "_")
    return to if to in _STATES else None


def breaker_periods(events: Iterable[ClientEvent], t0: float, end: float) -> list[Period]:
    """When any breaker was open or half-open, relative to t0; overlapping breakers are merged per state.

    A breaker still open at the end of the run is open until ``end`` (seconds since t0).
    """
    raw: list[Period] = []
    since: dict[str, tuple[float, str]] = {}  # breaker name → (when it left "closed", state)
    for event in sorted(events, key=lambda e: e.t):
        to = _breaker_change(event)
        if to is None:
            continue
        t = event.t - t0
        if event.name in since:
            start, state = since.pop(event.name)
            raw.append(Period(start, t, state))
        if to in _SHADED_STATES:
            since[event.name] = (t, to)
    raw += [Period(start, end, state) for start, state in since.values()]
    merged: list[Period] = []
    for state in _SHADED_STATES:
        for p in sorted((p for p in raw if p.label == state and p.end > p.start), key=lambda p: p.start):
            if merged and merged[-1].label == state and p.start <= merged[-1].end:
                merged[-1] = Period(merged[-1].start, max(merged[-1].end, p.end), state)
            else:
                merged.append(p)
    return merged


# -- arrivals ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ArrivalSeries:
    """Attempts reaching the provider: the most and the mean per 100 ms in each bucket of ``grid``."""

    grid: Grid
    peak: FloatArray  # most arrivals in one 100 ms sub-bucket (equals ``mean`` when the grid is 100 ms)
    mean: FloatArray  # mean arrivals per 100 ms
    herd_gate: float | None  # the gate on arrivals per 100 ms, None when the run has no herd gate
    herd_windows: list[Period]  # [t1, t1 + W] after each outage: where the gate applies
    herd_peak: float | None  # the judge's herd peak (sliding 100 ms window)
    herd_peak_at: float | None  # where the busiest 100 ms window in a herd window starts (s since t0)
    herd_peak_seen: int  # arrivals in that window, counted here from the log (the judge's own count)
    last_arrival: float | None  # the last attempt's arrival (s since t0): the x axis must reach past it


def arrival_series(result: RunResult, grid: Grid, cols: LogColumns | None = None) -> ArrivalSeries:
    t0 = result.facts.t0
    times = (cols or run_columns(result)).t - t0
    peak, mean = fine_peak_and_mean(times, grid)
    gate = _number(result.metrics.get("herd_gate_100ms"))
    cap = result.facts.backoff_cap_s or 8.0  # the judge's default cap W when the client's is unknown
    windows = [Period(end - t0, end - t0 + cap, "herd window") for _, end in result.facts.outages]
    windows = windows if gate is not None else []
    herd_peak = _number(result.metrics.get("herd_peak_100ms"))
    ordered = np.sort(times[np.isfinite(times)])
    seen, at = 0, None
    for w in windows:
        count, start = busiest_window(ordered, 0.1, w.start, w.end)
        if count > seen:
            seen, at = count, start
    last = float(ordered[-1]) if ordered.size else None
    return ArrivalSeries(grid, peak, mean, gate, windows, herd_peak, at, seen, last)


def busiest_window(ordered: FloatArray, width: float, start: float, end: float) -> tuple[int, float]:
    """The most points of sorted ``ordered`` in a window ``[s, s + width)`` with ``start ≤ s ≤ end``, and ``s``.

    As the judge's herd peak: windows need only start at a point (or at ``start``).
    """
    lo = int(np.searchsorted(ordered, start, side="left"))
    hi = int(np.searchsorted(ordered, end, side="right"))
    if hi <= lo:
        return 0, start
    starts = ordered[lo:hi]
    ends = np.searchsorted(ordered, starts + width, side="left")
    counts = ends - np.arange(lo, hi)
    best = int(np.argmax(counts))
    return int(counts[best]), float(starts[best])


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


# -- latency -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class LatencySeries:
    """p50 and p99 of latency and of time to first token per bucket, for successful requests."""

    grid: Grid
    latency: FloatArray  # shape (2, count): p50, p99 by completion time; NaN where no request completed
    ttft: FloatArray  # shape (2, count): p50, p99 over streamed requests, by first-token time
    requests: int  # successful requests plotted
    streamed: int  # of which streamed with a time to first token
    latencies: FloatArray  # every successful request's latency, sorted (the distribution panel)
    ttfts: FloatArray  # every streamed request's time to first token, sorted


def latency_series(result: RunResult, grid: Grid, cols: LogColumns | None = None) -> LatencySeries:
    """Grouped by when the answer arrived (``t_end``; first token for TTFT).

    Grouping by completion spreads a run in which every request starts at once (a herd, a batch)
    over the time its answers took, instead of piling every request into the first bucket.
    """
    t0 = result.facts.t0
    o = (cols or run_columns(result)).outcomes
    ok = o.ok
    t_end, t_start = o.t_end[ok], o.t_start[ok]
    timed = ok & o.timed
    ttft = o.ttft_s[timed]
    ends = t_end - t0
    lat = t_end - t_start
    s_firsts = o.t_start[timed] + ttft - t0
    qs = (50.0, 99.0)
    return LatencySeries(
        grid,
        percentiles(ends, lat, grid, qs),
        percentiles(s_firsts, ttft, grid, qs),
        len(lat),
        len(ttft),
        np.sort(lat[np.isfinite(lat)]),
        np.sort(ttft[np.isfinite(ttft)]),
    )


# -- attempts per request ----------------------------------------------------------------------
@dataclass(frozen=True)
class AttemptsSeries:
    """How many logical requests took 0, 1, 2 … attempts, as the provider and as the client saw it."""

    attempts: list[int]  # x values: 0 … the most attempts any request took
    provider: list[int] | None  # requests per attempt count from the request log; None if it has no ids
    client: list[int] | None  # the same from the outcome log; None if the client recorded no attempts
    limit: int | None  # the client's per-request attempt limit


def attempts_series(result: RunResult, cols: LogColumns | None = None) -> AttemptsSeries:
    """Attempts per logical request; a request the provider never saw (refused locally) took 0."""
    cols = cols or run_columns(result)
    provider = cols.provider_attempts
    per_outcome: Counter[int] = Counter(cols.outcomes.attempts.tolist())
    client: Counter[int] | None = None
    if any(n > 0 for n in per_outcome):
        client = per_outcome
    top = max([*(provider or ()), *(client or ()), 1])
    xs = list(range(top + 1))
    return AttemptsSeries(
        xs,
        None if provider is None else [provider.get(x, 0) for x in xs],
        None if client is None else [client.get(x, 0) for x in xs],
        result.facts.max_attempts,
    )


# -- tokens and requests against the quota -----------------------------------------------------
@dataclass(frozen=True)
class QuotaSeries:
    """Trailing-window tokens and requests, at their highest within each bucket, against the quotas."""

    grid: Grid
    window_s: float
    tokens_served: FloatArray  # prompt + max_tokens of attempts the provider admitted and answered (2xx)
    tokens_offered: FloatArray  # the same over every attempt it received, refused ones (429, 503 …) included
    requests_served: FloatArray
    requests_offered: FloatArray
    quota_tpm: float | None
    quota_rpm: float | None


def quota_series(result: RunResult, grid: Grid, window_s: float = 60.0, cols: LogColumns | None = None) -> QuotaSeries:
    """Served load is what the quota admitted; offered load (every arrival) is what the judge's limit check counts."""
    cols = cols or run_columns(result)
    t = cols.t - result.facts.t0
    # OpenAI's TPM rule, as the judge's limit check counts it: prompt + the requested output cap
    tokens = (cols.prompt_tokens + np.where(cols.max_tokens >= 0, cols.max_tokens, cols.output_tokens)).astype(
        np.float64
    )
    served = cols.ok
    ones = np.ones(len(cols.t))
    return QuotaSeries(
        grid,
        window_s,
        sliding_sum_peak(t[served], tokens[served], grid, window_s),
        sliding_sum_peak(t, tokens, grid, window_s),
        sliding_sum_peak(t[served], ones[served], grid, window_s),
        sliding_sum_peak(t, ones, grid, window_s),
        result.quota_tpm,
        result.quota_rpm,
    )


# -- cost --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CostSeries:
    """Cumulative USD at each grid edge: the client's ledger (at each answer) and the provider's bill."""

    at: FloatArray  # grid edges, seconds since t0
    client: FloatArray
    provider: FloatArray
    client_total: Decimal  # exact totals (the curves are floats)
    provider_total: Decimal


def cost_series(result: RunResult, grid: Grid, cols: LogColumns | None = None) -> CostSeries:
    t0 = result.facts.t0
    cols = cols or run_columns(result)
    # the provider's bill: every billed line (model listings and embeddings calls too), as the judge totals it
    c_usd, c_total = _amounts(cols.outcomes.cost_usd)
    p_usd, p_total = _amounts(cols.bill_usd)
    c_t = cols.outcomes.t_end - t0
    p_t = cols.bill_end - t0
    at = grid.edges
    return CostSeries(at, cumulative_at(c_t, c_usd, at), cumulative_at(p_t, p_usd, at), c_total, p_total)


def _amounts(values: Sequence[str]) -> tuple[FloatArray, Decimal]:
    """Money strings as floats (for the curve) and their exact total; unreadable amounts count as zero."""
    try:  # fast path: every amount is a plain decimal string of a sane size
        floats = np.array(values, dtype=np.float64)
        if np.isfinite(floats).all() and (np.abs(floats) < float(MONEY_LIMIT)).all():
            # the exact total a distinct amount at a time (times how often it occurs): a run's amounts
            # repeat (three thousand distinct among 218,639 attempts of the 10,000-user storm)
            return floats, sum((Decimal(v) * n for v, n in Counter(values).items()), Decimal(0))
    except (ValueError, TypeError, InvalidOperation):
        pass
    exact = [money(v) for v in values]
    return np.array([float(a) for a in exact], dtype=np.float64), sum(exact, Decimal(0))


# -- status mix --------------------------------------------------------------------------------
def status_mix(result: RunResult, grid: Grid, cols: LogColumns | None = None) -> dict[str, FloatArray]:
    """Attempts per bucket by status class (:data:`STATUS_CLASSES`), from the provider's log."""
    cols = cols or run_columns(result)
    names = {s: status_class(s) for s in set(cols.status.tolist())}
    classes = [names[s] for s in cols.status.tolist()]
    return category_counts(cols.t - result.facts.t0, classes, grid, STATUS_CLASSES)
