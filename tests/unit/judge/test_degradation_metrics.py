"""The ladder's metrics: requests per step, shares, the end of the run, and the timeline."""

from __future__ import annotations

from harness.judge.degradation import DEGRADATION_METRICS, degradation_metrics, ladder_steps
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
