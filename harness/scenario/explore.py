"""The ``[explore]`` table: the space of worlds ``harness explore`` searches, and the properties to hold.

A scenario with an ``[explore]`` table is still an ordinary scenario (``harness run`` runs it as
written); the table declares how its worlds may vary::

    [explore]
    kinds = ["outage", "brownout"]   # the fault kinds a world draws from (EXPLORE_KINDS)
    max_faults = 3                   # at most this many drawn faults per world (0 … 10)
    horizon_s = 40                   # drawn windows start in [0, horizon_s) (default: the longest run)
    fault_s = [1, 30]                # a window lasts this long
    users = [1, 200]                 # closed loop: concurrent users (open loop: rate = [lo, hi])
    duration_s = [10, 60]            # the run's length
    p = [0.05, 0.8]                  # brownout share; the share of requests other kinds hit
    retry_after_s = [0.5, 10]        # the hint a 429 storm or an outage may carry (or none)
    examples = 200                   # worlds to try (--examples overrides)
    max_time_s = 600                 # and at most this long (--max-time overrides)

Each range shrinks toward its lower end, so write ranges with the mildest value first. Every key is
validated like the rest of the scenario: a mistake names the key (``explore.users: expected [low,
high] with low ≤ high …``) and ``harness`` exits with code 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from harness.validate import Table, describe

__all__ = [
    "EXPLORE_KINDS",
    "INVARIANTS",
    "MAX_EXAMPLES",
    "MAX_TIME_S",
    "MAX_WORLD_S",
    "MAX_WORLD_USERS",
    "ExploreSpace",
    "Range",
]

#: the fault kinds a world may draw: the fault engine's kinds, plus the two storms a schedule spells in two
#: ways (``rate_limit``: a 429 storm, with or without a retry hint; ``quota_squeeze``: the provider's quotas
#: cut to a share for the whole run)
EXPLORE_KINDS = (
    "outage",
    "brownout",
    "flapping",
    "rate_limit",
    "quota_squeeze",
    "latency",
    "slow_headers",
    "reset",
    "silence",
    "stream_cut",
    "stream_stall",
    "malformed_chunk",
    "stream_error",
    "no_done",
)

#: properties that hold for any world (name → the metric whose gate checks it, at its default threshold)
INVARIANTS: dict[str, str] = {
    "no_lost_request": "lost_requests",
    "cost_equals_bill": "cost_abs_error_usd",
    "no_truncated_success": "truncated_answers",
    "no_overspend": "overspend_usd",
    "no_told_limit_violation": "limit_violations",
    "retry_after_honoured": "retry_after_violations",
}

MAX_EXAMPLES = 100_000  # --examples above this is refused: exploration is always bounded
MAX_TIME_S = 86_400.0  # one day
MAX_WORLD_USERS = 20_000  # the scenario ceiling on closed-loop users (harness.scenario.bounds)
MAX_WORLD_S = 3_600.0  # a world's simulated run


@dataclass(frozen=True, slots=True)
class Range:
    """A closed interval ``[low, high]`` that shrinks toward ``low``."""

    low: float
    high: float

    def __str__(self) -> str:
        return f"[{self.low:g}, {self.high:g}]"


@dataclass(frozen=True, slots=True)
class ExploreSpace:
    """A validated ``[explore]`` table (see the module docstring for the keys)."""

    kinds: tuple[str, ...]
    max_faults: int = 3
    horizon_s: float | None = None  # None: the longest run the space allows
    fault_s: Range = Range(1.0, 30.0)
    users: Range | None = None  # closed loop (None: the scenario's, fixed)
    rate: Range | None = None  # open loop (None: the scenario's, fixed)
    duration_s: Range | None = None  # None: the scenario's, fixed
    stream_share: Range | None = None  # None: the scenario's, fixed
    p: Range = Range(0.05, 1.0)
    retry_after_s: Range = Range(0.5, 10.0)
    squeeze: Range = Range(0.1, 0.9)  # quota_squeeze: the share of each quota left
    latency_s: Range = Range(0.1, 5.0)  # latency, slow_headers, silence, stall lengths
    examples: int = 100
    max_time_s: float = 600.0
    invariants: tuple[str, ...] = tuple(INVARIANTS)

    @classmethod
    def parse(cls, data: Any, *, mode: str, quotas: bool, path: str = "explore") -> ExploreSpace:
        """Read the table; ``mode`` is the scenario's load mode, ``quotas`` whether it has [provider.quotas]."""
        t = Table(data, path)
        kinds = t.str_list("kinds")
        if not kinds:
            raise t.error("kinds", f"expected at least one of: {', '.join(EXPLORE_KINDS)}")
        for kind in kinds:
            if kind not in EXPLORE_KINDS:
                raise t.error("kinds", f"unknown kind {describe(kind)}; expected names from {', '.join(EXPLORE_KINDS)}")
        if len(set(kinds)) != len(kinds):
            raise t.error("kinds", "each kind once")
        if "quota_squeeze" in kinds and not quotas:
            raise t.error("kinds", "quota_squeeze needs [provider.quotas] to squeeze; add one or drop the kind")
        kw: dict[str, Any] = {"kinds": tuple(kinds)}
        kw["max_faults"] = t.int("max_faults", 3, min=0, max=10)
        kw["horizon_s"] = t.float("horizon_s", None, min=0, max=MAX_WORLD_S, exclusive_min=True)
        kw["fault_s"] = _range(t, "fault_s", Range(1.0, 30.0), 0.1, MAX_WORLD_S)
        if mode == "closed":
            if t.has("rate"):
                raise t.error("rate", 'the load is closed-loop; vary users = [low, high] (rate is for mode = "open")')
            kw["users"] = _range(t, "users", None, 1, MAX_WORLD_USERS, integer=True)
        else:
            if t.has("users"):
                raise t.error("users", 'the load is open-loop; vary rate = [low, high] (users is for mode = "closed")')
            kw["rate"] = _range(t, "rate", None, 0.01, 10_000)
        kw["duration_s"] = _range(t, "duration_s", None, 0.1, MAX_WORLD_S)
        kw["stream_share"] = _range(t, "stream_share", None, 0, 1)
        kw["p"] = _range(t, "p", Range(0.05, 1.0), 0.001, 1)
        kw["retry_after_s"] = _range(t, "retry_after_s", Range(0.5, 10.0), 0.001, 120)
        kw["squeeze"] = _range(t, "squeeze", Range(0.1, 0.9), 0.001, 1)
        kw["latency_s"] = _range(t, "latency_s", Range(0.1, 5.0), 0.001, 600)
        kw["examples"] = t.int("examples", 100, min=1, max=MAX_EXAMPLES)
        kw["max_time_s"] = t.float("max_time_s", 600.0, min=0, max=MAX_TIME_S, exclusive_min=True)
        invariants = t.str_list("invariants", tuple(INVARIANTS))
        for name in invariants:
            if name not in INVARIANTS:
                raise t.error(
                    "invariants", f"unknown invariant {describe(name)}; expected names from {', '.join(INVARIANTS)}"
                )
        kw["invariants"] = tuple(invariants)
        t.done()
        return cls(**kw)

    def longest_run_s(self, scenario_duration_s: float) -> float:
        return self.duration_s.high if self.duration_s is not None else scenario_duration_s

    def horizon(self, scenario_duration_s: float) -> float:
        """Drawn windows start in ``[0, horizon)``."""
        return self.horizon_s if self.horizon_s is not None else self.longest_run_s(scenario_duration_s)


def _range(t: Table, key: str, default: Range | None, lo: float, hi: float, *, integer: bool = False) -> Any:
    if not t.has(key):
        t.raw(key, None)  # known, so that a misspelling of it gets "did you mean"
        return default
    raw = t.raw(key)
    what = "integers" if integer else "numbers"
    expected = f"expected [low, high], {what} in [{lo:g}, {hi:g}] with low ≤ high"
    if not isinstance(raw, list) or len(raw) != 2:
        raise t.error(key, f"{expected}, got {describe(raw)}")
    for value in raw:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not math.isfinite(value) or (integer and not isinstance(value, int)):
            raise t.error(key, f"{expected}, got {describe(raw)}")
        if not lo <= value <= hi:
            raise t.error(key, f"{expected}, got {describe(raw)}")
    low, high = float(raw[0]), float(raw[1])
    if low > high:
        raise t.error(key, f"{expected}, got {describe(raw)}")
    return Range(low, high)
