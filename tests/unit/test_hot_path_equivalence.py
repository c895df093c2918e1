"""The request path's fast forms equal the forms of record they replace (issue 19: same seed, same metrics).

* :meth:`Workload.request` reseeds one generator in C and builds its objects positionally: it equals the
  request a fresh ``random.Random((seed << 32) ^ index·φ)`` and the keyword constructors give, whatever
  order requests are drawn in;
* :meth:`Distribution.at` / :meth:`Distribution.sample_int` without ``min``/``max`` calls equal the formula
  of record, NaN and the edges of [0, 1) included;
* :meth:`RateLimiter.observe_values` (a tuple) leaves a limiter exactly as ``observe_now(**kwargs)`` does,
  with values missing, non-finite, zero or negative, and :func:`limit_values` / :func:`limit_observation`
  say the same.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.client.adapters import limit_observation, limit_values
from harness.client.limiter import LimitConfig, RateLimiter
from harness.client.limits import OBSERVATION_KEYS
from harness.client.types import ChatRequest, Message
from harness.clock import ManualClock
from harness.distributions import Distribution
from harness.pricing import Usage
from harness.runner.workload import LOOKUP_TOOL, PREFILL, VERDICT_SCHEMA, Workload
from harness.scenario.load import LoadSpec
from harness.scenario.questions import PHRASINGS, one_off_question, question_text
from harness.tokenizer import MESSAGE_OVERHEAD, REPLY_PRIMING
from harness.wire.neutral import RateLimits

# ------------------------------------------------------------------------------------------ workload


def _request_of_record(w: Workload, index: int, user_slot: int | None) -> ChatRequest:
    """The workload's request as it was built before the fast path (a fresh generator, keyword objects)."""
    spec = w.spec
    rng = random.Random((w.seed << 32) ^ (index * 0x9E3779B1))
    total = max(MESSAGE_OVERHEAD + REPLY_PRIMING + 2, round(spec.prompt_tokens.sample(rng)))
    content = total - MESSAGE_OVERHEAD - REPLY_PRIMING - 1
    max_tokens = max(1, round(spec.max_tokens.sample(rng)))
    stream = rng.random() < spec.stream_share
    model = w._pick(w._models, rng.random())
    feature = w._pick(w._features, rng.random())
    slot = user_slot if user_slot is not None else rng.randrange(spec.users_pool)
    batch = rng.random() < spec.batch_share
    prompt = Message("user", w._corpus.slice(content, rng.random()))
    if spec.questions_share > 0:
        u, question, phrasing = rng.random(), rng.randrange(spec.questions), rng.randrange(PHRASINGS)
        if u < spec.questions_share:
            prompt = Message("user", question_text(question, phrasing))
        else:
            prompt = Message("user", one_off_question(rng))
    prefill = spec.prefill_share > 0 and rng.random() < spec.prefill_share
    messages = (prompt, PREFILL) if prefill else (prompt,)
    extra: dict[str, object] = {}
    if spec.cached_prefix_share > 0 and rng.random() < spec.cached_prefix_share:
        messages = (w._prefix(), *messages)
    if spec.tools_share > 0 and rng.random() < spec.tools_share:
        extra["tools"] = (LOOKUP_TOOL,)
    if spec.structured_share > 0 and rng.random() < spec.structured_share:
        extra.pop("tools", None)
        extra["response_schema"] = VERDICT_SCHEMA
    if w._prompts is not None:
        extra["prompt"] = w._pick(w._prompts, rng.random())
    return ChatRequest(
        model=model, messages=messages, max_tokens=max_tokens, temperature=0.0, stream=stream,
        user=f"user-{slot % spec.users_pool}", feature=feature, priority="batch" if batch else "interactive",
        request_id=f"req-{w.seed}-{index}", client_id=f"{w.client_id}-{slot}", **extra,  # type: ignore[arg-type]
    )  # fmt: skip


_SPECS = {
    "storm": LoadSpec(
        users=100,
        prompt_tokens=Distribution.lognormal(150, 1500),
        max_tokens=Distribution.fixed(128),
        stream_share=0.3,
        users_pool=50,
    ),
    "every share": replace(
        LoadSpec(),
        models=(("gpt-4o-mini", 3.0), ("gpt-4o", 1.0)),
        features=(("chat", 2.0), ("search", 1.0)),
        users_pool=7,
        batch_share=0.3,
        prefill_share=0.2,
        tools_share=0.4,
        structured_share=0.25,
        cached_prefix_share=0.5,
        questions_share=0.6,
        questions=5,
        prompts=(("support@v1", 1.0), ("support@v2", 3.0)),
        max_tokens=Distribution.choice([16, 64, 512], [1, 2, 1]),
        prompt_tokens=Distribution.uniform(0, 300),
    ),
}


@pytest.mark.parametrize("name", sorted(_SPECS))
@pytest.mark.parametrize("seed", [0, 1, 42, 2**40 + 3])
def test_workload_requests_equal_the_requests_of_record_in_any_order(name: str, seed: int) -> None:
    spec = _SPECS[name]
    fast = Workload(spec, seed, "gpt-4o-mini")
    record = Workload(spec, seed, "gpt-4o-mini")
    order = list(range(300))
    random.Random(seed).shuffle(order)  # the generator is reused: no draw may depend on the one before
    for index in order:
        slot = None if index % 3 == 0 else index % 11
        assert fast.request(index, user_slot=slot) == _request_of_record(record, index, slot)


# ------------------------------------------------------------------------------------------ distributions


def _at_of_record(d: Distribution, u: float) -> float:
    from statistics import NormalDist

    u = min(max(u, 1e-12), 1.0 - 1e-12)
    if d.kind == "fixed":
        x = d.a
    elif d.kind == "uniform":
        x = d.a + u * (d.b - d.a)
    elif d.kind == "normal":
        x = d.a + d.b * NormalDist().inv_cdf(u)
    elif d.kind == "lognormal":
        x = math.exp(d.a + d.b * NormalDist().inv_cdf(u))
    elif d.kind == "exponential":
        x = -d.a * math.log1p(-u)
    else:
        x = d.values[min(bisect.bisect_right(d.cumulative, u), len(d.values) - 1)]
    return x if x >= d.minimum else d.minimum


_DISTRIBUTIONS = [
    Distribution.fixed(3.4),
    Distribution.fixed(2.5),
    Distribution.uniform(0.0, 9.0),
    Distribution.normal(5.0, 4.0),
    Distribution.normal(-3.0, 1.0, minimum=-10.0),
    Distribution.lognormal(150, 1500),
    Distribution.exponential(5.0),
    Distribution.choice([1, 2.5, 7], [1, 1, 2]),
]
_EDGES = [math.nan, 0.0, -0.0, 1e-13, 1e-12, 0.5, 1.0 - 1e-12, 1.0 - 1e-13, 1.0, -1.0, 2.0]


@pytest.mark.parametrize("d", _DISTRIBUTIONS, ids=lambda d: d.describe())
def test_distribution_at_equals_the_formula_of_record(d: Distribution) -> None:
    for u in [*_EDGES, *(random.Random(7).random() for _ in range(500))]:
        assert d.at(u) == _at_of_record(d, u)


@given(seed=st.integers(0, 2**64), minimum=st.integers(-5, 400), which=st.integers(0, len(_DISTRIBUTIONS) - 1))
@settings(max_examples=200, deadline=None)
def test_sample_int_equals_rounding_a_sample(seed: int, minimum: int, which: int) -> None:
    d = _DISTRIBUTIONS[which]
    fast, record = random.Random(seed), random.Random(seed)
    for _ in range(5):
        assert d.sample_int(fast, minimum) == max(minimum, round(d.sample(record)))


# ------------------------------------------------------------------------------------------ limiter observation

_value = st.one_of(
    st.none(),
    st.integers(-5, 2_000_000),
    st.floats(min_value=-10, max_value=1e7),
    st.sampled_from([0, 0.0, math.inf, -math.inf, math.nan]),
)


def _state(lim: RateLimiter) -> tuple[object, ...]:
    buckets = tuple((b.first, b.last, tuple(b.weights), b.others, b.live) for b in lim._log)
    holds = tuple(None if h is None else (h.until, h.allowance) for h in lim._holds)
    return (
        tuple(lim._totals), tuple(lim._effective), tuple(lim._learned), holds, lim._held, lim.limits_tokens,
        lim._probe, buckets,
    )  # fmt: skip


@given(batches=st.lists(st.tuples(*[_value] * len(OBSERVATION_KEYS)), min_size=1, max_size=6), rpm=st.booleans())
@settings(max_examples=300, deadline=None)
def test_observe_values_leaves_the_limiter_as_observe_now_does(
    batches: list[tuple[float | int | None, ...]], rpm: bool
) -> None:
    clocks = ManualClock(100.0), ManualClock(100.0)
    config = LimitConfig(rpm=500 if rpm else None)
    fast, record = (RateLimiter(config, clock=c) for c in clocks)
    for lim in (fast, record):  # something in the window, so unseen usage and probes can show
        grant = lim.grant_now(40, 60)
        if grant is not None:
            lim.settle_grant(grant, 40, 60, Usage(35, 20))
    for raw in batches:  # ints as the header parsers give them; the keyword path had them as floats
        kwargs = {k: float(v) for k, v in zip(OBSERVATION_KEYS, raw, strict=True) if v is not None}
        if kwargs:  # the client observes only what some header said
            fast.observe_values(raw)
        record.observe_now(**kwargs)
        assert _state(fast) == _state(record)
        for c in clocks:
            c.now += 7.5


@given(raw=st.tuples(*[st.one_of(st.none(), st.integers(0, 10**9), st.floats(0, 1e5))] * len(OBSERVATION_KEYS)))
@settings(max_examples=200, deadline=None)
def test_limit_values_and_limit_observation_say_the_same(raw: tuple[float | None, ...]) -> None:
    limits = RateLimits(*raw)
    values = limit_values(limits)
    observation = limit_observation(limits)
    expected = {k: float(v) for k, v in zip(OBSERVATION_KEYS, raw, strict=True) if v is not None}
    assert observation == expected
    assert (values is None) == (not expected)
    assert values is None or values == raw
