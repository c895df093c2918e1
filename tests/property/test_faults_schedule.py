"""Hypothesis on the plan engine (provider core + fault schedule) with a fake clock.

Windows are exact, overlaps follow the documented rule (first failure in declaration order, latencies
added), brownouts fail a fraction p of requests within a statistical bound, and the same seed with the
same arrivals gives the same plans.
"""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fake_provider.config import ProviderConfig
from fake_provider.core import Exchange, ProviderCore, ProviderRequest
from fake_provider.plan import Delivery
from fake_provider.schedule import FaultSchedule, unit_draw
from harness.clock import ManualClock
from harness.wire import openai

T0 = 1000.0  # the fake clock's reading at start: windows are relative to it
MODELS = ("gpt-4o-mini", "gpt-4o")
HEADERS = {"authorization": "Bearer sk-test"}

# times on a 1/64 s grid: exact in binary, so T0 + offset - T0 == offset and the boundaries are exact
ticks = st.integers(min_value=0, max_value=64 * 600).map(lambda n: n / 64)


def make_core(faults: list[dict[str, Any]], seed: int = 0) -> tuple[ProviderCore, ManualClock]:
    clock = ManualClock(T0)
    core = ProviderCore(
        ProviderConfig(faults=FaultSchedule.parse(faults), seed=seed), clock=clock, wall_clock=lambda: 1e9
    )
    return core, clock


def send(core: ProviderCore, model: str = "gpt-4o-mini", stream: bool = False) -> Exchange:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, "stream": stream}
    return core.handle(ProviderRequest("POST", openai.CHAT_PATH, "", HEADERS, json.dumps(body).encode()))


def label(exchange: Exchange) -> str | None:
    plan = exchange.plan
    record = exchange.finish(Delivery(status=plan.status, duration_s=0.0, tokens_sent=plan.body_tokens))
    return record.fault


@given(start=ticks, duration=ticks, offsets=st.lists(ticks, max_size=30))
def test_windows_are_exact_and_half_open(start: float, duration: float, offsets: list[float]) -> None:
    core, clock = make_core([{"kind": "outage", "start_s": start, "duration_s": duration}])
    for offset in sorted([*offsets, start, start + duration]):  # both boundaries, every time
        clock.set(T0 + offset)
        failed = send(core).plan.status == 503
        assert failed == (start <= offset < start + duration), (start, duration, offset)


@given(down=st.integers(1, 20), up=st.integers(1, 20), offsets=st.lists(ticks, max_size=30))
def test_flapping_alternates_down_then_up(down: int, up: int, offsets: list[float]) -> None:
    core, clock = make_core([{"kind": "flapping", "always": True, "down_s": down, "up_s": up}])
    for offset in sorted(offsets):
        clock.set(T0 + offset)
        failed = send(core).plan.status == 503
        assert failed == (offset % (down + up) < down)


failure_specs = st.one_of(
    st.builds(lambda s: {"kind": "http", "status": s}, st.sampled_from([500, 502, 504, 429])),
    st.builds(lambda p: {"kind": "brownout", "p": p, "status": 503}, st.floats(0.05, 1.0)),
    st.just({"kind": "outage", "status": 529}),
)
latency_specs = st.builds(lambda ms: {"kind": "latency", "ttft": ms / 1000}, st.integers(1, 500))
windows = st.one_of(
    st.just({"always": True}),
    st.builds(lambda a, b: {"start_s": a, "duration_s": b}, ticks, ticks),
)
targets = st.fixed_dictionaries(
    {},
    optional={
        "models": st.lists(st.sampled_from(MODELS), min_size=1, max_size=2, unique=True),
        "fraction": st.floats(0.1, 1.0),
    },
)
specs = st.builds(
    lambda what, when, who: {**what, **when, **who}, st.one_of(failure_specs, latency_specs), windows, targets
)


def expected(faults: list[dict[str, Any]], t: float, model: str, arrival: int, seed: int) -> tuple[str | None, float]:
    """The overlap rule, written out: the label of the first matching failure and every matching latency."""
    labels: list[str] = []
    delay = 0.0
    failed = False
    for index, spec in enumerate(faults):
        start = 0.0 if spec.get("always") else spec["start_s"]
        end = math.inf if spec.get("always") else spec["start_s"] + spec["duration_s"]
        if not start <= t < end or model not in spec.get("models", MODELS):
            continue
        if unit_draw(seed, index, arrival, 0) >= spec.get("fraction", 1.0):
            continue
        if spec["kind"] == "latency":
            labels.append(f"latency#{index}")
            delay += spec["ttft"]
            continue
        if failed or (spec["kind"] == "brownout" and unit_draw(seed, index, arrival, 1) >= spec["p"]):
            continue
        failed = True
        labels.append(f"{spec['kind']}#{index}")
    return ("+".join(labels) or None), delay


@settings(max_examples=60)
@given(
    faults=st.lists(specs, min_size=1, max_size=6),
    arrivals=st.lists(st.tuples(ticks, st.sampled_from(MODELS)), min_size=1, max_size=25),
    seed=st.integers(0, 2**32),
)
def test_overlaps_follow_the_rule(faults: list[dict[str, Any]], arrivals: list[tuple[float, str]], seed: int) -> None:
    core, clock = make_core(faults, seed)
    for arrival, (offset, model) in enumerate(sorted(arrivals), 1):
        clock.set(T0 + offset)
        exchange = send(core, model)
        want_label, want_delay = expected(faults, offset, model, arrival, seed)
        assert exchange.plan.headers_delay_s == want_delay or math.isclose(exchange.plan.headers_delay_s, want_delay)
        assert label(exchange) == want_label


@settings(max_examples=25)
@given(p=st.floats(0.02, 0.98), seed=st.integers(0, 2**63))
def test_brownout_fractions_converge_to_p(p: float, seed: int) -> None:
    n = 3000
    core, _ = make_core([{"kind": "brownout", "always": True, "p": p}], seed)
    failures = 0
    for _ in range(n):
        exchange = send(core)
        failures += exchange.plan.status != 200
        exchange.settle(Delivery(status=exchange.plan.status))
    # a binomial count: five standard deviations, so a correct engine fails this about once in 3 million runs
    assert abs(failures / n - p) <= 5 * math.sqrt(p * (1 - p) / n)


every_kind = st.sampled_from(
    [
        {"kind": "brownout", "p": 0.3},
        {"kind": "http", "status": [500, 502, 503], "fraction": 0.5},
        {"kind": "stream_cut", "after": 2, "fraction": 0.5},
        {"kind": "stream_stall", "after": 1, "stall_s": 0.5, "fraction": 0.3},
        {"kind": "malformed_chunk", "at": 2, "fraction": 0.3},
        {
            "kind": "latency",
            "ttft": {"kind": "lognormal", "median": 0.2, "p99": 2},
            "inter_token": {"kind": "uniform", "low": 0, "high": 0.1},
        },
        {"kind": "queueing", "base": {"kind": "exponential", "mean": 0.1}, "capacity": 3},
        {"kind": "reset", "fraction": 0.1},
    ]
)


@settings(max_examples=40)
@given(
    faults=st.lists(st.builds(lambda k, w: {**k, **w}, every_kind, windows), max_size=5),
    arrivals=st.lists(st.tuples(ticks, st.booleans(), st.booleans()), max_size=30),
    seed=st.integers(0, 2**32),
)
def test_the_same_seed_and_arrivals_give_the_same_plans(
    faults: list[dict[str, Any]], arrivals: list[tuple[float, bool, bool]], seed: int
) -> None:
    def run() -> list[Any]:
        core, clock = make_core(faults, seed)
        plans = []
        pending: list[Exchange] = []
        for offset, stream, finish_first in sorted(arrivals):
            clock.set(T0 + offset)
            if finish_first and pending:  # the in-flight count (queueing) is part of "the same arrivals"
                pending.pop(0).settle(Delivery(status=200))
            exchange = send(core, stream=stream)
            pending.append(exchange)
            plans.append((exchange.plan, exchange.context.fault))
        return plans

    first = run()
    assert run() == first
