"""Degradation-ladder metrics: requests per step, in total and over time (definitions: docs/metrics.md).

A request's step is its outcome's ``degradation_step`` ("primary", "cache", "cheaper", "static",
"error"); outcomes without one (no ladder) are not counted. All metrics are None when no outcome has a
step, so a gate on them fails for a run without a ladder instead of passing vacuously.

* ``degradation_steps``: requests per step (every step listed, zeros included).
* ``degradation_degraded_share``, ``degradation_cache_share``, ``degradation_cheaper_share``,
  ``degradation_static_share``, ``degradation_error_share``: the share of requests not served by the
  primary path, served by the cache step, by the cheaper model, by the static answer, ending in an error.
* ``degradation_primary_share_end``: the share served by the primary among the requests that began in
  the last tenth of the run: whether answers climbed back up the ladder once the storm was over.
* ``degradation_return_s``: how long after the run's last outage ended answers were back on the primary
  for good: from the outage's end to the start of the first request after the last one the primary did
  not serve (to the run's end when the last request was not the primary's); 0 when no request after the
  outage was degraded; None without an outage or without a request begun after it.
* ``degradation_timeline``: requests per step per time bucket (by when each began, seconds since the
  run's start), for the report's chart: ``{"bucket_s": w, "steps": {step: [count per bucket]}}``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from harness.records import DEGRADATION_STEPS as STEPS
from harness.records import OutcomeRecord

__all__ = ["DEGRADATION_METRICS", "MAX_BUCKETS", "degradation_metrics", "ladder_steps", "return_after"]

DEGRADATION_METRICS = (
    "degradation_steps", "degradation_degraded_share", "degradation_cache_share", "degradation_cheaper_share",
    "degradation_static_share", "degradation_error_share", "degradation_primary_share_end", "degradation_return_s",
    "degradation_timeline",
)  # fmt: skip
MAX_BUCKETS = 60  # the timeline's buckets: at most this many, each a whole number of seconds
_END_SHARE = 0.1  # the last tenth of the run


def ladder_steps(outcomes: Iterable[OutcomeRecord]) -> list[tuple[float, str]]:
    """(began, step) of each outcome that records a degradation step (what :func:`degradation_metrics`
    reads; the judge collects them in its one pass over the outcomes)."""
    return [(o.t_start, o.degradation_step) for o in outcomes if o.degradation_step is not None]


def degradation_metrics(
    steps: Sequence[tuple[float, str]],
    t0: float,
    outages: Sequence[tuple[float, float]] = (),
    t_end: float | None = None,
) -> dict[str, object]:
    """The ladder's metrics for (began, step) pairs of a run that began at ``t0`` and ended at ``t_end``
    (default: its last request's start), with the provider wholly down in ``outages`` (same clock)."""
    if not steps:
        return dict.fromkeys(DEGRADATION_METRICS)
    counts = dict.fromkeys(STEPS, 0)
    for _, step in steps:
        counts[step] = counts.get(step, 0) + 1
    n = len(steps)
    span = max(t for t, _ in steps) - t0
    width = max(1.0, float(math.ceil(span / MAX_BUCKETS))) if span > 0 else 1.0
    buckets = int(span // width) + 1
    timeline = {step: [0] * buckets for step in counts}
    for t, step in steps:
        timeline[step][min(buckets - 1, max(0, int((t - t0) // width)))] += 1
    end_from = t0 + span * (1 - _END_SHARE)
    end = [step for t, step in steps if t >= end_from]
    primary_end = end.count("primary") / len(end) if end else None
    return {
        "degradation_steps": counts,
        "degradation_degraded_share": round((n - counts["primary"]) / n, 6),
        "degradation_cache_share": round(counts["cache"] / n, 6),
        "degradation_cheaper_share": round(counts["cheaper"] / n, 6),
        "degradation_static_share": round(counts["static"] / n, 6),
        "degradation_error_share": round(counts["error"] / n, 6),
        "degradation_primary_share_end": None if primary_end is None else round(primary_end, 6),
        "degradation_return_s": return_after(steps, outages, t_end),
        "degradation_timeline": {"bucket_s": width, "steps": timeline},
    }


def return_after(
    steps: Sequence[tuple[float, str]], outages: Sequence[tuple[float, float]], t_end: float | None = None
) -> float | None:
    """Seconds from the end of the last outage to the start of the first request after which the primary
    served every request (``t_end``, default the last start, when it never did); 0 when every request
    begun after the outage was the primary's; None without an outage or a request begun after it."""
    if not outages:
        return None
    ended = max(end for _, end in outages)
    after = sorted((t, step) for t, step in steps if t >= ended)
    if not after:
        return None
    last = max((i for i, (_, step) in enumerate(after) if step != "primary"), default=None)
    if last is None:
        return 0.0
    if last + 1 < len(after):
        back = after[last + 1][0]  # the first request of the primary's unbroken run to the end
    else:
        back = max(after[-1][0], t_end if t_end is not None else after[-1][0])  # never back: the run's end
    return round(back - ended, 6)
