"""Hypothesis strategies for worlds: fault schedules, load shapes and seeds that shrink toward the mild.

Every strategy here draws values on a grid (0.1 s for times, 0.01 for shares) from integers, so
Hypothesis shrinks each toward the low end of its range, a list of faults toward fewer faults, and an
optional hint or squeeze toward none: a failing world shrinks to *fewer, shorter, milder* faults, fewer
users and a shorter run, and every drawn number prints exactly in a scenario file.

Use them in your own property tests::

    from hypothesis import given, settings
    from harness.explore import ExploreSpace, Range, worlds

    SPACE = ExploreSpace(kinds=("outage", "brownout"), max_faults=2, users=Range(1, 50))

    @settings(max_examples=50, deadline=None, database=None)
    @given(world=worlds(SPACE, duration_s=30))
    def test_my_client_survives(world):
        run = run_world(BASE, world)          # harness.explore.run_world: virtual time, judged
        assert run.passed, run.describe()

``worlds`` gives :class:`World` values; :func:`fault_tables` and :func:`fault_schedules` give the
``[[faults]]`` tables alone (ready for ``FaultSchedule.parse``), :func:`load_shapes` the ``[load]``
changes, :func:`seeds` the seeds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from harness.scenario.explore import EXPLORE_KINDS, ExploreSpace, Range

__all__ = ["World", "fault_schedules", "fault_tables", "load_shapes", "seeds", "worlds"]

_TIME_STEP = 0.1
_SHARE_STEP = 0.01
_MAX_SEED = 2**32 - 1
_STREAM_KINDS = frozenset({"stream_cut", "stream_stall", "malformed_chunk", "stream_error", "no_done"})


@dataclass(frozen=True)
class World:
    """One drawn world: the changes to the scenario it is run as.

    ``faults`` are ``[[faults]]`` tables (appended after the scenario's own); ``squeeze`` cuts every
    provider quota to that share for the whole run; ``None`` keeps the scenario's value.
    """

    seed: int
    faults: tuple[Mapping[str, Any], ...] = ()
    users: int | None = None
    rate: float | None = None
    duration_s: float | None = None
    stream_share: float | None = None
    squeeze: float | None = None
    kinds: tuple[str, ...] = field(default=(), compare=False)  # the explore kind of each drawn fault

    @property
    def fault_count(self) -> int:
        """Drawn faults, a quota squeeze included."""
        return len(self.faults) + (self.squeeze is not None)

    def all_kinds(self) -> tuple[str, ...]:
        return (*self.kinds, *(("quota_squeeze",) if self.squeeze is not None else ()))

    def key(self) -> str:
        """A stable identity (two equal worlds run identically)."""
        return repr((self.seed, [sorted(f.items()) for f in self.faults], self.users, self.rate,
                     self.duration_s, self.stream_share, self.squeeze))  # fmt: skip

    def describe(self) -> str:
        """One line: ``seed 3, 40 users, 12.5 s; outage 2.0+8.5 s, brownout p=0.3 4.0+6.0 s``."""
        parts = [f"seed {self.seed}"]
        if self.users is not None:
            parts.append(f"{self.users} users")
        if self.rate is not None:
            parts.append(f"{self.rate:g}/s")
        if self.duration_s is not None:
            parts.append(f"{self.duration_s:g} s")
        if self.stream_share is not None:
            parts.append(f"streams {self.stream_share:g}")
        faults = [_fault_text(kind, f) for kind, f in zip(self.kinds, self.faults, strict=True)]
        if self.squeeze is not None:
            faults.append(f"quota squeeze to {self.squeeze:g}")
        return ", ".join(parts) + "; " + (", ".join(faults) if faults else "no faults")

    def overlaps(self, run_s: float) -> set[tuple[str, str]]:
        """Pairs of kinds (sorted) whose windows overlapped within the run (a squeeze overlaps everything)."""
        spans = []
        for kind, f in zip(self.kinds, self.faults, strict=True):
            start = float(f.get("start_s", 0.0))
            end = min(start + float(f.get("duration_s", math.inf)), run_s)
            if end > start:
                spans.append((kind, start, end))
        pairs: set[tuple[str, str]] = set()
        for i, (a, s1, e1) in enumerate(spans):
            for b, s2, e2 in spans[i + 1 :]:
                if s1 < e2 and s2 < e1:
                    pairs.add((min(a, b), max(a, b)))
        if self.squeeze is not None:
            for kind, _, _ in spans:
                pairs.add((min(kind, "quota_squeeze"), max(kind, "quota_squeeze")))
        return pairs


def _fault_text(kind: str, f: Mapping[str, Any]) -> str:
    window = f"{f.get('start_s', 0):g}+{f.get('duration_s', 0):g} s"
    detail = [f"{k}={v}" for k, v in f.items() if k not in ("kind", "start_s", "duration_s", "status")]
    return f"{kind} {window}" + (f" ({', '.join(detail)})" if detail else "")


def _grid(low: float, high: float, step: float) -> st.SearchStrategy[float]:
    """Numbers on a grid of ``step`` in [low, high], shrinking toward ``low``."""
    lo = math.ceil(low / step - 1e-9)
    hi = max(lo, math.floor(high / step + 1e-9))
    digits = max(0, -math.floor(math.log10(step)))
    return st.integers(lo, hi).map(lambda k: round(k * step, digits))


def _times(r: Range) -> st.SearchStrategy[float]:
    return _grid(r.low, r.high, _TIME_STEP)


def _shares(r: Range) -> st.SearchStrategy[float]:
    return _grid(r.low, r.high, _SHARE_STEP)


def seeds() -> st.SearchStrategy[int]:
    """World seeds (arrivals, prompts, the provider's draws, the client's jitter); shrink toward 0."""
    return st.integers(0, _MAX_SEED)


@st.composite
def fault_tables(draw: st.DrawFn, kind: str, space: ExploreSpace, horizon_s: float) -> dict[str, Any]:
    """One ``[[faults]]`` table of an explore ``kind`` (not ``quota_squeeze``: that is :class:`World`'s)."""
    if kind not in EXPLORE_KINDS or kind == "quota_squeeze":
        raise ValueError(f"kind: expected one of {', '.join(k for k in EXPLORE_KINDS if k != 'quota_squeeze')}")
    start = draw(_grid(0.0, max(0.0, horizon_s - _TIME_STEP), _TIME_STEP))
    duration = draw(_times(space.fault_s))
    window = {"start_s": start, "duration_s": duration}
    share = draw(_shares(space.p))
    fraction = {} if share >= 1.0 else {"fraction": share}
    hint = draw(st.none() | _times(space.retry_after_s)) if kind in ("outage", "rate_limit") else None
    hinted = {} if hint is None else {"retry_after_s": hint}
    seconds = draw(_times(space.latency_s)) if kind in ("latency", "slow_headers", "silence", "stream_stall") else 0
    if kind == "outage":
        return {"kind": "outage", **window, **hinted}
    if kind == "brownout":
        return {"kind": "brownout", **window, "p": share}
    if kind == "flapping":
        phase = Range(min(1.0, space.fault_s.low), max(1.0, space.fault_s.high / 3))
        return {"kind": "flapping", **window, "down_s": draw(_times(phase)), "up_s": draw(_times(phase))}
    if kind == "rate_limit":
        return {"kind": "http", **window, "status": 429, **fraction, **hinted}
    if kind == "latency":
        return {"kind": "latency", **window, "ttft": seconds}
    if kind == "slow_headers":
        return {"kind": "slow_headers", **window, **fraction, "seconds": seconds}
    if kind == "reset":
        return {"kind": "reset", **window, **fraction}
    if kind == "silence":
        return {"kind": "silence", **window, **fraction, "silence_s": seconds}
    after = draw(st.integers(0, 20))
    if kind == "stream_cut":
        return {"kind": "stream_cut", **window, **fraction, "after": after}
    if kind == "stream_stall":
        then = draw(st.sampled_from(("resume", "close")))
        return {"kind": "stream_stall", **window, **fraction, "after": after, "stall_s": seconds, "then": then}
    if kind == "malformed_chunk":
        return {"kind": "malformed_chunk", **window, **fraction, "at": after + 1}
    if kind == "stream_error":
        return {"kind": "stream_error", **window, **fraction, "after": after}
    return {"kind": "no_done", **window, **fraction}


@st.composite
def _drawn_faults(draw: st.DrawFn, space: ExploreSpace, horizon_s: float) -> list[tuple[str, dict[str, Any]]]:
    kinds = [k for k in space.kinds if k != "quota_squeeze"]
    if not kinds or space.max_faults == 0:
        return []
    chosen = draw(st.lists(st.sampled_from(kinds), max_size=space.max_faults))
    return [(kind, draw(fault_tables(kind, space, horizon_s))) for kind in chosen]


def fault_schedules(space: ExploreSpace, horizon_s: float) -> st.SearchStrategy[list[dict[str, Any]]]:
    """``[[faults]]`` arrays of at most ``space.max_faults`` tables, shrinking toward fewer and milder."""
    return _drawn_faults(space, horizon_s).map(lambda drawn: [table for _, table in drawn])


@st.composite
def load_shapes(draw: st.DrawFn, space: ExploreSpace) -> dict[str, Any]:
    """The ``[load]`` (and run length) changes of a world: ``users`` or ``rate``, ``duration_s``, ``stream_share``."""
    shape: dict[str, Any] = {}
    if space.users is not None:
        shape["users"] = draw(st.integers(int(space.users.low), int(space.users.high)))
    if space.rate is not None:
        shape["rate"] = draw(_grid(space.rate.low, space.rate.high, _TIME_STEP))
    if space.duration_s is not None:
        shape["duration_s"] = draw(_times(space.duration_s))
    if space.stream_share is not None:
        shape["stream_share"] = draw(_shares(space.stream_share))
    return shape


@st.composite
def worlds(draw: st.DrawFn, space: ExploreSpace, *, duration_s: float) -> World:
    """Whole worlds of ``space``; ``duration_s`` is the scenario's run length (used when the space fixes it)."""
    shape = draw(load_shapes(space))
    horizon = space.horizon(duration_s)
    drawn = draw(_drawn_faults(space, horizon))
    squeeze = None
    if "quota_squeeze" in space.kinds and len(drawn) < space.max_faults:
        # drawn as the share cut away, so that it shrinks toward the mildest squeeze (the range's high end)
        cut = Range(1.0 - space.squeeze.high, 1.0 - space.squeeze.low)
        squeeze = draw(st.none() | _shares(cut).map(lambda c: round(1.0 - c, 2)))
    seed = draw(seeds())
    return World(
        seed=seed,
        faults=tuple(table for _, table in drawn),
        kinds=tuple(kind for kind, _ in drawn),
        squeeze=squeeze,
        **shape,
    )
