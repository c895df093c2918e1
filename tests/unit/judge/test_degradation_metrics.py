"""The ladder's metrics: requests per step, shares, the end of the run, and the timeline."""

from __future__ import annotations

from harness.judge.degradation import DEGRADATION_METRICS, degradation_metrics, ladder_steps, return_after
from harness.records import OutcomeRecord


def outcome(t: float, step: str | None) -> OutcomeRecord:
    return OutcomeRecord(f"r{t}", step != "error", "ok", 100 + t, 100 + t + 0.1, "gpt-4o", degradation_step=step)


def test_a_run_without_a_ladder_has_no_ladder_metrics() -> None:
    assert degradation_metrics(ladder_steps([outcome(0, None)]), 100.0) == dict.fromkeys(DEGRADATION_METRICS)


def test_steps_are_counted_in_total_and_over_time() -> None:
    steps = ["primary"] * 4 + ["cache", "cheaper", "static", "error"] + ["primary"] * 2
    outcomes = [outcome(float(i), step) for i, step in enumerate(steps)]  # one a second, 0 to 9 s
    m = degradation_metrics(ladder_steps(outcomes), 100.0)
    assert m["degradation_steps"] == {"primary": 6, "cache": 1, "cheaper": 1, "static": 1, "error": 1}
    assert (m["degradation_degraded_share"], m["degradation_static_share"], m["degradation_error_share"]) == (
        0.4, 0.1, 0.1,
    )  # fmt: skip
    assert (m["degradation_cache_share"], m["degradation_cheaper_share"]) == (0.1, 0.1)
    assert m["degradation_return_s"] is None  # no outage: nothing to return from
    assert m["degradation_primary_share_end"] == 1.0  # the last tenth: only t = 9 s, served by the primary
    timeline = m["degradation_timeline"]
    assert isinstance(timeline, dict)
    assert timeline["bucket_s"] == 1.0
    assert timeline["steps"]["static"] == [0, 0, 0, 0, 0, 0, 1, 0, 0, 0]
    assert sum(sum(v) for v in timeline["steps"].values()) == 10


def test_a_run_that_ends_degraded_shows_it_at_the_end() -> None:
    outcomes = [outcome(float(i), "primary" if i < 5 else "static") for i in range(10)]
    assert degradation_metrics(ladder_steps(outcomes), 100.0)["degradation_primary_share_end"] == 0.0


def test_long_runs_use_at_most_sixty_buckets() -> None:
    m = degradation_metrics(ladder_steps([outcome(0.0, "primary"), outcome(600.0, "cache")]), 100.0)
    timeline = m["degradation_timeline"]
    assert isinstance(timeline, dict)
    assert timeline["bucket_s"] == 10.0
    assert len(timeline["steps"]["cache"]) == 61


def test_the_return_counts_from_the_last_outage_to_the_primary_for_good() -> None:
    # outages 102-104 and 105-107 s; after 107 s: cache at 107.5, primary at 108, cheaper at 109, then primary
    steps = [(100.0, "primary"), (103.0, "static"), (107.5, "cache"), (108.0, "primary"), (109.0, "cheaper")]
    steps += [(110.0, "primary"), (111.0, "primary")]
    assert return_after(steps, [(102.0, 104.0), (105.0, 107.0)]) == 3.0  # back at 110 s, for good
    m = degradation_metrics(steps, 100.0, [(102.0, 104.0), (105.0, 107.0)])
    assert m["degradation_return_s"] == 3.0


def test_a_run_whose_answers_never_came_back_returns_at_its_end() -> None:
    steps = [(100.0, "primary"), (103.0, "static"), (108.0, "cache"), (109.0, "cache")]
    assert return_after(steps, [(102.0, 104.0)]) == 5.0  # the last request's start
    assert return_after(steps, [(102.0, 104.0)], t_end=112.0) == 8.0  # the run's end, when known


def test_the_return_is_zero_when_nothing_after_the_outage_was_degraded_and_none_without_requests_after() -> None:
    steps = [(100.0, "primary"), (103.0, "static"), (105.0, "primary")]
    assert return_after(steps, [(102.0, 104.0)]) == 0.0
    assert return_after(steps, [(102.0, 106.0)]) is None  # no request began after the outage
    assert return_after(steps, []) is None
