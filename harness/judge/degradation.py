"""Degradation-ladder metrics: requests per step, in total and over time (definitions: docs/metrics.md).

A request's step is its outcome's ``degradation_step`` ("primary", "cache", "cheaper", "static",
"error"); outcomes without one (no ladder) are not counted. All metrics are None when no outcome has a
step, so a gate on them fails for a run without a ladder instead of passing vacuously.

* ``degradation_steps``: requests per step (every step listed, zeros included).
* ``degradation_degraded_share``, ``degradation_static_share``, ``degradation_error_share``: the share
  of requests not served by the primary path, served by the static answer, ending in an error.
* ``degradation_primary_share_end``: the share served by the primary among the requests that began in
  the last tenth of the run: whether answers climbed back up the ladder once the storm was over.
* ``degradation_timeline``: requests per step per time bucket (by when each began, seconds since the
  run's start), for the report's chart: ``{"bucket_s": w, "steps": {step: [count per bucket]}}``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from harness.records import DEGRADATION_STEPS as STEPS
from harness.records import OutcomeRecord

__all__ = ["DEGRADATION_METRICS", "MAX_BUCKETS", "degradation_metrics"]

DEGRADATION_METRICS = (
    "degradation_steps", "degradation_degraded_share", "degradation_static_share", "degradation_error_share",
    "degradation_primary_share_end", "degradation_timeline",
)  # fmt: skip
MAX_BUCKETS = 60  # the timeline's buckets: at most this many, each a whole number of seconds
_END_SHARE = 0.1  # the last tenth of the run


def degradation_metrics(outcomes: Sequence[OutcomeRecord], t0: float) -> dict[str, object]:
    """The ladder's metrics for outcomes on a run that began at ``t0``."""
    laddered = [o for o in outcomes if o.degradation_step is not None]
    if not laddered:
        return dict.fromkeys(DEGRADATION_METRICS)
    counts = dict.fromkeys(STEPS, 0)
    for o in laddered:
        step = o.degradation_step
        assert step is not None
        counts[step] = counts.get(step, 0) + 1
    n = len(laddered)
    span = max(o.t_start for o in laddered) - t0
    width = max(1.0, float(math.ceil(span / MAX_BUCKETS))) if span > 0 else 1.0
    buckets = int(span // width) + 1
    timeline = {step: [0] * buckets for step in counts}
    for o in laddered:
        timeline[o.degradation_step or "error"][min(buckets - 1, max(0, int((o.t_start - t0) // width)))] += 1
    end_from = t0 + span * (1 - _END_SHARE)
    end = [o for o in laddered if o.t_start >= end_from]
    primary_end = sum(1 for o in end if o.degradation_step == "primary") / len(end) if end else None
    return {
        "degradation_steps": counts,
        "degradation_degraded_share": round((n - counts["primary"]) / n, 6),
        "degradation_static_share": round(counts["static"] / n, 6),
        "degradation_error_share": round(counts["error"] / n, 6),
        "degradation_primary_share_end": None if primary_end is None else round(primary_end, 6),
        "degradation_timeline": {"bucket_s": width, "steps": timeline},
    }
