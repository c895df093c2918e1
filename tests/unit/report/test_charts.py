"""Charts: the bucketing maths on data with known answers, the series from records, and the drawn figures."""

from __future__ import annotations

import io
import math
from dataclasses import replace
from decimal import Decimal

import matplotlib
import numpy as np
import pytest
from matplotlib.collections import LineCollection
from matplotlib.image import imread

from harness.judge import LimitFact, RunFacts
from harness.judge.metrics import limit_violations
from harness.records import AttemptRecord, OutcomeRecord, ProviderRecord
from harness.report import ClientEvent, RunResult
from harness.report import charts as charts_module
from harness.report.charts import CHARTS, Chart, draw_figures, render_charts
from harness.report.series import (
    STATUS_CLASSES,
    api_records,
    arrival_series,
    attempts_series,
    breaker_periods,
    cost_series,
    latency_series,
    quota_series,
    run_span,
    status_class,
    status_mix,
)
from harness.report.timeline import (
    Grid,
    bucket_index,
    category_counts,
    counts,
    cumulative_at,
    fine_peak_and_mean,
    format_width,
    grid_for,
    percentiles,
    sliding_sum_at,
    sliding_sum_peak,
)
from tests.unit.report.synthetic import outage_run


@pytest.fixture(scope="module")
def run() -> RunResult:
    return outage_run()


@pytest.fixture(scope="module")
def charts(run: RunResult) -> list[Chart]:
    return render_charts(run)


def arr(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float64)


# -- timeline: grids -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("duration", "min_width", "max_buckets", "width", "count"),
    [
        (60.0, 0.1, 1200, 0.1, 600),  # 100 ms buckets while they fit
        (120.0, 0.1, 1200, 0.1, 1200),
        (120.05, 0.1, 1200, 0.2, 601),
        (1000.0, 0.1, 1200, 1.0, 1000),  # a long run gets wider buckets …
        (1500.0, 0.1, 1200, 2.0, 750),
        (60.0, 0.5, 120, 0.5, 120),  # … and a minimum width is respected
        (0.0, 0.1, 1200, 0.1, 1),  # an empty run still has one bucket
        (math.nan, 0.1, 1200, 0.1, 1),
    ],
)
def test_grid_for_picks_the_narrowest_nice_width_that_fits(
    duration: float, min_width: float, max_buckets: int, width: float, count: int
) -> None:
    grid = grid_for(duration, min_width, max_buckets)
    assert (grid.width, grid.count) == (width, count)


def test_grid_for_stays_bounded_for_absurd_spans() -> None:
    grid = grid_for(3.0e7, 0.1, 600)  # a year of seconds: a clock mix-up must not allocate millions of buckets
    assert grid.count <= 600
    assert grid.end >= 3.0e7


@pytest.mark.parametrize(
    ("width", "label"),
    [(0.1, "100 ms"), (0.5, "500 ms"), (2.0, "2 s"), (15.0, "15 s"), (300.0, "5 min"), (7200.0, "2 h")],
)
def test_bucket_width_labels(width: float, label: str) -> None:
    assert format_width(width) == label
    assert Grid(width, 3).label() == label


def test_bucket_index_puts_edges_in_the_bucket_they_open() -> None:
    grid = Grid(0.1, 600)
    times = arr(0.0, 0.3, 0.29999, 0.7, 59.99, 60.0, -0.1, math.nan, math.inf)
    assert bucket_index(times, grid).tolist() == [0, 3, 2, 7, 599, -1, -1, -1, -1]


def test_counts_and_weights_per_bucket() -> None:
    grid = Grid(1.0, 4)
    times = arr(0.0, 0.5, 1.0, 3.2, 3.9, 4.0, -1.0)
    assert counts(times, grid).tolist() == [2, 1, 0, 2]
    assert counts(times, grid, arr(1, 2, 3, 4, 5, 6, 7)).tolist() == [3, 3, 0, 9]


def test_fine_peak_and_mean_keep_a_one_bucket_burst_visible() -> None:
    grid = Grid(0.5, 2)  # 5 sub-buckets of 100 ms each
    times = arr(0.11, 0.12, 0.13, 0.14, 0.15, 0.3, 0.45, 0.7)  # a burst of 5 in [0.1, 0.2)
    peak, mean = fine_peak_and_mean(times, grid)
    assert peak.tolist() == [5, 1]
    assert mean.tolist() == [7 / 5, 1 / 5]
    fine = Grid(0.1, 10)
    peak, mean = fine_peak_and_mean(times, fine)
    assert peak.tolist() == mean.tolist() == counts(times, fine).tolist()
    with pytest.raises(ValueError, match="multiple"):
        fine_peak_and_mean(times, Grid(0.25, 4))


def test_percentiles_match_numpy_bucket_by_bucket() -> None:
    rng = np.random.default_rng(3)
    times = rng.uniform(0, 10, 5000)
    values = rng.lognormal(0, 1, 5000)
    grid = Grid(1.0, 12)  # the last two buckets are empty
    got = percentiles(times, values, grid, (50, 99, 0, 100))
    for b in range(10):
        inside = values[(times >= b) & (times < b + 1)]
        assert got[:, b] == pytest.approx(np.percentile(inside, [50, 99, 0, 100]), rel=1e-12)
    assert np.isnan(got[:, 10:]).all()


def test_percentiles_of_known_values() -> None:
    grid = Grid(1.0, 2)
    got = percentiles(arr(0.1, 0.2, 0.3, 0.4, 1.5), arr(4, 1, 3, 2, 7), grid, (50, 100))
    assert got.tolist() == [[2.5, 7.0], [4.0, 7.0]]
    assert np.isnan(percentiles(arr(), arr(), grid, (50,))).all()


def test_sliding_sum_drops_a_point_exactly_one_window_later() -> None:
    times, weights = arr(0.0, 30.0, 59.999, 60.0), arr(1, 2, 3, 4)
    got = sliding_sum_at(times, weights, arr(-1.0, 0.0, 59.9, 59.999, 60.0, 90.0, 200.0), 60.0)
    assert got.tolist() == [0, 1, 3, 6, 9, 7, 0]


def test_sliding_sum_peak_matches_brute_force() -> None:
    rng = np.random.default_rng(11)
    times = np.sort(rng.uniform(0, 300, 800))
    weights = rng.integers(100, 1000, 800).astype(float)
    grid = Grid(5.0, 60)
    got = sliding_sum_peak(times, weights, grid, 60.0)
    for b in range(grid.count):
        left, right = b * 5.0, (b + 1) * 5.0
        instants = [left, *times[(times >= left) & (times < right)]]
        want = max(weights[(times > a - 60.0) & (times <= a)].sum() for a in instants)
        assert got[b] == pytest.approx(want)


def test_sliding_sum_peak_never_hides_a_violation_the_judge_counts() -> None:
    """A quota line drawn on the chart is crossed exactly when the judge finds a limit violation."""
    rng = np.random.default_rng(5)
    times = np.sort(rng.uniform(0, 180, 400))
    tokens = rng.integers(200, 2000, 400)
    records = [
        ProviderRecord(i + 1, float(t), 0.0, "key:1", None, f"r{i}", None, 0, "openai.chat", "m", False, 200, int(w))
        for i, (t, w) in enumerate(zip(times, tokens, strict=True))
    ]
    peak = float(sliding_sum_peak(times, tokens.astype(float), Grid(10.0, 18), 60.0).max())
    assert limit_violations(records, LimitFact("tpm", int(peak) - 1)) > 0
    assert limit_violations(records, LimitFact("tpm", int(peak))) == 0


def test_cumulative_and_category_counts() -> None:
    assert cumulative_at(arr(3.0, 1.0, 2.0), arr(30, 10, 20), arr(0.0, 1.0, 2.5, 3.0)).tolist() == [0, 10, 30, 60]
    mix = category_counts(arr(0.1, 0.2, 1.5, 1.6), ["a", "b", "a", "c"], Grid(1.0, 2), ("a", "b"))
    assert {k: v.tolist() for k, v in mix.items()} == {"a": [1, 1], "b": [1, 0]}


# -- series from records ---------------------------------------------------------------------------
def rec(seq: int, t: float, status: int = 200, **kw: object) -> ProviderRecord:
    fields: dict[str, object] = {
        "seq": seq, "t": t, "wall": 0.0, "client": "key:1", "client_id": None, "request_id": f"r{seq}",
        "logical_id": f"q{seq}", "attempt": 0, "api": "openai.chat", "model": "m", "stream": False, "status": status,
        "prompt_tokens": 100, "max_tokens": 50,
    }  # fmt: skip
    return ProviderRecord(**{**fields, **kw})  # type: ignore[arg-type]


def small_result(records: list[ProviderRecord], outcomes: list[OutcomeRecord] | None = None, **kw: object) -> RunResult:
    facts_kw = {k: kw.pop(k) for k in ("outages", "backoff_cap_s", "max_attempts", "issued_ids") if k in kw}
    facts = RunFacts("small", 1, "virtual", 100.0, 110.0, 0.1, **facts_kw)  # type: ignore[arg-type]
    metrics = kw.pop("metrics", {})
    return RunResult(facts, metrics, [], records, outcomes or [], **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "cls"),
    [(200, "2xx"), (204, "2xx"), (429, "429"), (400, "other 4xx"), (503, "5xx"), (529, "5xx"), (0, "transport")],
)
def test_status_classes(status: int, cls: str) -> None:
    assert status_class(status) == cls
    assert cls in STATUS_CLASSES


def test_breaker_periods_from_state_changes() -> None:
    events = [
        ClientEvent(110.0, "breaker", "primary", "closed→open"),
        ClientEvent(115.0, "breaker", "primary", "open→half_open"),
        ClientEvent(115.5, "breaker", "primary", "half_open->open"),  # ASCII arrows are accepted too
        ClientEvent(120.0, "breaker", "primary", "OPEN→HALF-OPEN"),
        ClientEvent(120.3, "breaker", "primary", "half_open→closed"),
        ClientEvent(112.0, "breaker", "fallback", "closed→open"),  # overlaps the primary's: merged
        ClientEvent(116.0, "breaker", "fallback", "open→closed"),
        ClientEvent(130.0, "breaker", "primary", "closed→open"),  # still open at the end
        ClientEvent(111.0, "budget_soft", "global", "80%"),  # not a breaker
        ClientEvent(111.0, "breaker", "primary", "garbage"),  # unreadable: ignored, nothing crashes
    ]
    got = [(p.start, p.end, p.label) for p in breaker_periods(events, 100.0, 40.0)]
    # primary open 10–15 and 15.5–20, fallback open 12–16: one merged open span 10–20
    want = [(10.0, 20.0, "open"), (30.0, 40.0, "open"), (15.0, 15.5, "half_open"), (20.0, 20.3, "half_open")]
    assert [label for _, _, label in got] == [label for _, _, label in want]
    assert [x for a, b, _ in got for x in (a, b)] == pytest.approx([x for a, b, _ in want for x in (a, b)])


def test_arrival_series_is_relative_to_t0_with_the_herd_gate() -> None:
    records = [rec(1, 100.05), rec(2, 100.05), rec(3, 100.15), rec(4, 105.0)]
    result = small_result(
        records, outages=((101.0, 103.0),), backoff_cap_s=4.0, metrics={"herd_gate_100ms": 9, "herd_peak_100ms": 2}
    )
    s = arrival_series(result, Grid(0.1, 100))
    assert s.peak[:3].tolist() == [2, 1, 0]
    assert s.peak.sum() == 4
    assert (s.herd_gate, s.herd_peak) == (9.0, 2.0)
    assert [(w.start, w.end) for w in s.herd_windows] == [(3.0, 7.0)]
    no_gate = arrival_series(small_result(records, metrics={"herd_gate_100ms": None}), Grid(0.1, 100))
    assert no_gate.herd_gate is None
    assert no_gate.herd_windows == []


def test_attempts_per_request_from_both_logs() -> None:
    records = [rec(1, 100.0, 503, logical_id="a"), rec(2, 101.0, logical_id="a"), rec(3, 100.5, logical_id="b")]
    records.append(rec(4, 100.0, logical_id="x", api="openai.models"))  # model listings are not attempts
    refused = AttemptRecord(0, 100.0, 100.0, "m", 0, "CircuitOpen")
    retried = (AttemptRecord(0, 100, 100.1, "m", 503, "ServerError"), AttemptRecord(1, 101, 101.5, "m", 200))
    outcomes = [
        OutcomeRecord("a", True, "ok", 100.0, 101.5, "m", attempts=retried),
        OutcomeRecord("b", True, "ok", 100.5, 101.0, "m", attempts=(AttemptRecord(0, 100.5, 101, "m", 200),)),
        OutcomeRecord("c", False, "CircuitOpen", 100.0, 100.0, "m", attempts=(refused,)),
    ]  # fmt: skip
    s = attempts_series(small_result(records, outcomes, max_attempts=3))
    assert s.attempts == [0, 1, 2]
    assert s.provider == [1, 1, 1]  # c never reached the provider
    assert s.client == [0, 2, 1]
    assert s.limit == 3
    assert len(api_records(small_result(records))) == 3
    bare = attempts_series(small_result([rec(1, 100.0, logical_id=None)], [OutcomeRecord("z", True, "ok", 0, 1, "m")]))
    assert (bare.provider, bare.client) == (None, None)  # a third-party client that logs neither


def test_latency_series_groups_successes_by_completion() -> None:
    outcomes = [
        OutcomeRecord("a", True, "ok", 100.2, 101.2, "m", stream=True, ttft_s=0.2),
        OutcomeRecord("b", True, "ok", 100.4, 103.4, "m", stream=True, ttft_s=0.4),
        OutcomeRecord("c", True, "ok", 101.5, 101.9, "m"),
        OutcomeRecord("d", False, "ServerError", 101.5, 150.0, "m"),  # failures are not latency samples
    ]
    s = latency_series(small_result([], outcomes), Grid(1.0, 4))
    assert np.isnan(s.latency[0, 0])  # nothing completed in the first second
    assert s.latency[0, 1] == pytest.approx(0.7)  # a (1.0 s) and c (0.4 s) completed in [1, 2)
    assert s.latency[0, 3] == pytest.approx(3.0)  # b completed at 3.4
    assert s.ttft[0, 0] == pytest.approx(0.3)  # both first tokens arrived in [0, 1)
    assert np.isnan(s.ttft[0, 1])
    assert (s.requests, s.streamed) == (3, 2)
    assert s.latencies.tolist() == pytest.approx([0.4, 1.0, 3.0])
    assert s.ttfts.tolist() == pytest.approx([0.2, 0.4])


def test_latency_is_readable_when_every_request_starts_at_once() -> None:
    # a batch: 50 requests at t = 0, answered over ten seconds
    outcomes = [OutcomeRecord(f"r{i}", True, "ok", 100.0, 100.0 + 0.2 * (i + 1), "m") for i in range(50)]
    s = latency_series(small_result([], outcomes), Grid(0.5, 21))
    assert int(np.isfinite(s.latency[0]).sum()) == 21  # answers arrive from 0.2 s to 10 s: every bucket has some
    fig = {n: f for n, _, f, _ in draw_figures(small_result([], outcomes))}["latency"]
    _, dist = fig.axes
    (curve,) = dist.get_lines()
    assert curve.get_xdata()[0] == pytest.approx(0.2)
    assert curve.get_ydata()[-1] == pytest.approx(1.0)  # the distribution reaches every answer


def test_quota_series_separates_served_from_offered() -> None:
    records = [rec(1, 100.0), rec(2, 101.0, 429), rec(3, 102.0), rec(4, 102.5, 503, max_tokens=None, output_tokens=7)]
    s = quota_series(small_result(records, quota_tpm=250.0, quota_rpm=10.0), Grid(1.0, 10))
    assert s.tokens_served.tolist()[:4] == [150, 150, 300, 300]
    assert s.tokens_offered.tolist()[:4] == [150, 300, 557, 557]  # 107: max_tokens unknown, output counted
    assert s.requests_served.max() == 2
    assert s.requests_offered.max() == 4
    assert (s.quota_tpm, s.quota_rpm) == (250.0, 10.0)


def test_cost_series_totals_are_exact_and_bad_amounts_count_zero() -> None:
    records = [rec(1, 100.0, cost_usd="0.1", duration_s=1.0), rec(2, 102.0, cost_usd="0.2")]
    records.append(rec(3, 103.0, cost_usd="x"))
    outcomes = [OutcomeRecord("a", True, "ok", 100.0, 101.0, "m", cost_usd="0.1"),
                OutcomeRecord("b", True, "ok", 101.0, 104.0, "m", cost_usd="NaN")]  # fmt: skip
    s = cost_series(small_result(records, outcomes), Grid(1.0, 10))
    assert (s.provider_total, s.client_total) == (Decimal("0.3"), Decimal("0.1"))
    assert s.provider[:4].tolist() == pytest.approx([0, 0.1, 0.3, 0.3])  # billed when each attempt ended
    assert s.client[:5].tolist() == pytest.approx([0, 0.1, 0.1, 0.1, 0.1])


def test_repeated_amounts_count_every_time_and_keep_their_digits() -> None:
    # the exact total is summed a distinct amount at a time: each must count as often as it occurs
    records = [rec(i + 1, 100.0 + i, cost_usd=amount) for i, amount in enumerate(["0.10", "0.2", "0.10", "0.10"])]
    s = cost_series(small_result(records), Grid(1.0, 10))
    assert str(s.provider_total) == "0.50"  # what summing them one by one gives, trailing zero and all
    assert s.provider[-1] == pytest.approx(0.5)


def test_series_of_the_synthetic_run_reconcile_with_the_judge(run: RunResult) -> None:
    span = run_span(run)
    m = run.metrics
    grid = grid_for(span, 0.2, 240)
    assert sum(v.sum() for v in status_mix(run, grid).values()) == m["attempts"]
    assert {k: int(v.sum()) for k, v in status_mix(run, grid).items() if v.sum()} == {
        status_class(int(code)): n for code, n in m["status_counts"].items()
    }
    fine = grid_for(span, 0.1, 1200)
    assert arrival_series(run, fine).mean.sum() == m["attempts"]
    attempts = attempts_series(run)
    assert attempts.provider is not None
    assert attempts.client is not None
    assert sum(attempts.provider) == sum(attempts.client) == m["requests_logical"]
    assert sum(k * n for k, n in zip(attempts.attempts, attempts.provider, strict=True)) == m["attempts"]
    assert sum(k * n for k, n in zip(attempts.attempts, attempts.client, strict=True)) == m["client_attempts"]
    cost = cost_series(run, grid)
    assert str(cost.client_total) == m["cost_client_usd"]
    assert str(cost.provider_total) == m["cost_provider_usd"]
    quota = quota_series(run, grid)
    assert run.quota_tpm is not None
    assert quota.tokens_served.max() <= run.quota_tpm < quota.tokens_offered.max()  # the herd pushed past it


# -- the figures -----------------------------------------------------------------------------------
def test_every_chart_renders_a_png_of_the_stated_size(charts: list[Chart]) -> None:
    assert [c.name for c in charts] == [name for name, _, _ in CHARTS]
    assert len({c.filename for c in charts}) == len(charts)
    for chart in charts:
        image = imread(io.BytesIO(chart.png), format="png")
        assert image.shape[:2] == (chart.height, chart.width)
        assert image.std() > 0.05  # not a blank canvas
        assert chart.caption.endswith(".")
        assert chart.title
        assert "could not be drawn" not in chart.caption


def test_rendering_is_deterministic_and_leaves_matplotlib_state_alone(run: RunResult, charts: list[Chart]) -> None:
    backend, rc = matplotlib.get_backend(), dict(matplotlib.rcParams)
    assert [c.png for c in render_charts(run)] == [c.png for c in charts]
    assert matplotlib.get_backend() == backend
    assert dict(matplotlib.rcParams) == rc


def _texts(fig: object) -> str:
    return " ".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")))  # type: ignore[attr-defined]


def test_arrivals_figure_draws_fault_windows_breaker_and_the_herd_gate(run: RunResult) -> None:
    figures = {name: fig for name, _, fig, _ in draw_figures(run)}
    ax = figures["arrivals"].axes[0]
    gate = run.metrics["herd_gate_100ms"]
    herd = [c for c in ax.collections if isinstance(c, LineCollection)]  # hlines: the dashed gate in [t1, t1+W]
    assert any(np.allclose(seg[:, 1], float(gate)) for c in herd for seg in c.get_segments())
    assert ax.get_ylabel() == "arrivals per 100 ms"
    assert ax.get_xlabel() == "time since run start (s)"
    text = _texts(figures["arrivals"])
    for label in ("fault window", "breaker open", f"herd gate {gate}", "outage (503)", "herd peak"):
        assert label in text
    hatched = [p for p in ax.patches if p.get_hatch() == "///"]
    assert hatched  # breaker open periods
    quota_ax = figures["quota"].axes[0]
    assert run.quota_tpm is not None
    assert any(np.allclose(line.get_ydata(), run.quota_tpm) for line in quota_ax.get_lines())
    assert "quota 2.4M tokens / min" in _texts(figures["quota"])


def test_long_runs_get_wider_buckets_and_say_so() -> None:
    records = [rec(i + 1, 100.0 + i * 1.5) for i in range(1000)]  # 1500 simulated seconds
    result = small_result(records, outages=((500.0, 520.0),), metrics={"herd_gate_100ms": 12, "herd_peak_100ms": 3})
    figures = {name: (fig, caption) for name, _, fig, caption in draw_figures(result)}
    fig, caption = figures["arrivals"]
    assert fig.axes[0].get_ylabel() == "arrivals per 100 ms (2 s buckets)"
    assert "each 2 s bucket" in caption
    assert "(15 s buckets)" in figures["latency"][0].axes[0].get_xlabel()


def hostile_result() -> RunResult:
    records = [
        rec(1, math.nan), rec(2, math.inf), rec(3, -50.0), rec(4, 1e12, duration_s=-3.0),
        rec(5, 101.0, -1, cost_usd="lots"), rec(6, 101.0, 999, prompt_tokens=-5), rec(7, 102.0, logical_id=None),
    ]  # fmt: skip
    outcomes = [
        OutcomeRecord("a", True, "ok", math.nan, 101.0, "m", stream=True, ttft_s=math.inf, cost_usd="1e999999"),
        OutcomeRecord("b", True, "ok", 102.0, 101.0, "m", stream=True, ttft_s=-1.0, cost_usd="-0.5"),
    ]
    events = [ClientEvent(math.nan, "breaker", "x", "closed→open"), ClientEvent(5.0, "breaker", "x", "")]
    return small_result(
        records, outcomes, events=events, fault_windows=[(120.0, 110.0, "backwards"), (101.0, 102.0, "<b>x</b>")],
        quota_tpm=-1.0, metrics={"herd_gate_100ms": math.nan, "herd_peak_100ms": "many"},
    )  # fmt: skip


@pytest.mark.parametrize(
    "result",
    [
        pytest.param(small_result([]), id="empty"),
        pytest.param(hostile_result(), id="hostile"),
    ],
)
def test_odd_runs_still_render_every_chart(result: RunResult) -> None:
    charts = render_charts(result)
    assert len(charts) == len(CHARTS)
    assert all("could not be drawn" not in c.caption for c in charts)


def test_a_failing_chart_becomes_a_placeholder_and_the_others_survive(
    run: RunResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(ctx: object, title: str) -> tuple[object, str]:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(charts_module, "CHARTS", (CHARTS[0], ("broken", "Broken chart", broken), CHARTS[2]))
    charts = render_charts(run)
    assert [c.name for c in charts] == ["arrivals", "broken", "attempts"]
    assert charts[1].caption == "This chart could not be drawn from the run's records: ZeroDivisionError: boom"
    assert imread(io.BytesIO(charts[1].png), format="png").shape[:2] == (charts[1].height, charts[1].width)


def test_only_fault_windows_wide_enough_get_a_label() -> None:
    records = [rec(i + 1, 100.0 + i * 0.5) for i in range(200)]  # 100 simulated seconds
    windows = [(110.0, 130.0, "outage (503)"), (150.0, 150.5, "blip"), (160.0, 161.0, "blip2")]
    result = small_result(records, fault_windows=windows)
    figures = {name: fig for name, _, fig, _ in draw_figures(result)}
    text = _texts(figures["arrivals"])
    assert "outage (503)" in text
    assert "blip" not in text  # too narrow to hold a label; still shaded
    shaded = [p for p in figures["arrivals"].axes[0].patches if p.get_alpha() == pytest.approx(0.09)]
    assert len(shaded) == 3


def test_an_arrival_at_the_very_end_of_the_run_is_drawn_inside_the_axes() -> None:
    records = [rec(1, 100.0), rec(2, 110.0)]  # the last arrival is the run's last event
    result = small_result(records, [])
    assert run_span(result) == pytest.approx(10.0)
    ax = {n: f for n, _, f, _ in draw_figures(result)}["arrivals"].axes[0]
    (stairs,) = [p for p in ax.patches if hasattr(p, "get_data")]
    values, edges = stairs.get_data()[:2]
    last = int(np.flatnonzero(values)[-1])
    assert edges[last] <= 10.0 < edges[last + 1]
    assert edges[last + 1] < ax.get_xlim()[1]


def test_attempt_labels_are_one_per_attempt_count() -> None:
    records = [rec(1, 100.0, logical_id="a"), rec(2, 100.5, logical_id="a"), rec(3, 100.2, logical_id="b")]
    outcomes = [
        OutcomeRecord(
            "a",
            True,
            "ok",
            100.0,
            101.0,
            "m",
            attempts=(AttemptRecord(0, 100.0, 100.4, "m", 500), AttemptRecord(1, 100.5, 101.0, "m", 200)),
        ),
        OutcomeRecord("b", True, "ok", 100.2, 101.0, "m", attempts=(AttemptRecord(0, 100.2, 101.0, "m", 200),)),
    ]
    ax = {n: f for n, _, f, _ in draw_figures(small_result(records, outcomes))}["attempts"].axes[0]
    labels = [t.get_text() for t in ax.texts]
    assert labels == ["1", "1"]  # one label per count where both logs agree, never "11"


def test_the_quota_caption_promises_no_line_without_a_quota(run: RunResult) -> None:
    captions = {name: caption for name, _, _, caption in draw_figures(replace(run, quota_tpm=None, quota_rpm=None))}
    assert "dashed red" not in captions["quota"]
    assert "sets no provider quota" in captions["quota"]
    assert "dashed red" in {n: c for n, _, _, c in draw_figures(run)}["quota"]


@pytest.mark.parametrize(
    ("return_s", "last_steps", "words"),
    [
        (1.5, {"primary": 4}, "back on the primary 1.5 s later"),
        (0.0, {"primary": 4}, "no answer degraded after it"),
        (6.0, {"primary": 1, "static": 3}, "not back on the primary by the end"),  # the run ended degraded
    ],
)
def test_the_ladder_chart_marks_the_last_outage_and_how_answers_climbed_back(
    return_s: float, last_steps: dict[str, int], words: str
) -> None:
    # ten 1 s buckets; outages 102-103 s and 103.5-104 s: the line goes at 4 s, where the last one ended
    steps = {s: [0] * 10 for s in ("primary", "cache", "cheaper", "static", "error")}
    for i in range(10):
        steps["primary"][i] = 4
    for s, n in last_steps.items():
        steps[s][9] = n
    metrics = {"degradation_timeline": {"bucket_s": 1.0, "steps": steps}, "degradation_return_s": return_s}
    result = small_result([rec(1, 100.0), rec(2, 110.0)], outages=((102.0, 103.0), (103.5, 104.0)), metrics=metrics)
    figures = {name: (fig, caption) for name, _, fig, caption in draw_figures(result)}
    fig, caption = figures["degradation"]
    ax = fig.axes[0]
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert [float(line.get_xdata()[0]) for line in dashed] == [4.0]
    assert words in _texts(fig)
    assert words in caption
    assert "last outage ends" in _texts(fig)  # in the legend


def test_the_ladder_chart_has_no_recovery_mark_without_an_outage() -> None:
    steps = {s: [3, 3] if s == "primary" else [0, 0] for s in ("primary", "cache", "cheaper", "static", "error")}
    metrics = {"degradation_timeline": {"bucket_s": 1.0, "steps": steps}, "degradation_return_s": None}
    result = small_result([rec(1, 100.0), rec(2, 101.5)], metrics=metrics)
    fig, caption = {name: (f, c) for name, _, f, c in draw_figures(result)}["degradation"]
    assert not [line for line in fig.axes[0].get_lines() if line.get_linestyle() == "--"]
    assert "dashed" not in caption
