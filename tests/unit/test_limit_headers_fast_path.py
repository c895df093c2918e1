"""The in-memory client path's rate-limit fast forms equal their paths of record (issue 19).

* :meth:`RateLimiter._observe` reads each number of an observation inline (an int as its float, a finite
  float as it is): a limiter fed raw values ends exactly as one fed the values ``_number`` (the rule of
  record) made of them, whatever their types (bools, non-finite floats, int and float subclasses);
* :meth:`OpenAIAdapter.limit_values` reads the headers' numbers without a :class:`RateLimits`: it says what
  :meth:`Adapter.limit_values` (``limit_values`` of ``rate_limits``) says, for any headers.
"""

from __future__ import annotations

import enum
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.client.adapters import ADAPTERS, Adapter, OpenAIResponsesAdapter, limit_values
from harness.client.limiter import Demand, LimitConfig, RateLimiter, _number
from harness.client.limits import OBSERVATION_KEYS
from harness.clock import ManualClock
from harness.pricing import Usage
from tests.unit.test_hot_path_equivalence import _state  # the limiter's whole state, compared


class _Int(enum.IntEnum):
    SEVEN = 7


class _Float(float):
    pass


_value = st.one_of(
    st.none(),
    st.integers(-5, 2_000_000),
    st.floats(min_value=-10, max_value=1e7),
    st.sampled_from(
        [0, 0.0, -0.0, math.inf, -math.inf, math.nan, True, False, _Int.SEVEN, _Float(5.5), _Float(math.inf)]
    ),
)


@given(batches=st.lists(st.tuples(*[_value] * len(OBSERVATION_KEYS)), min_size=1, max_size=6), rpm=st.booleans())
@settings(max_examples=400, deadline=None)
def test_observe_reads_numbers_as_number_does(batches: list[tuple[object, ...]], rpm: bool) -> None:
    clocks = ManualClock(100.0), ManualClock(100.0)
    config = LimitConfig(rpm=500 if rpm else None)
    fast, record = (RateLimiter(config, clock=c) for c in clocks)
    for lim in (fast, record):  # something in the window, so unseen usage and probes can show
        grant = lim.grant_now(40, 60)
        assert grant is not None
        lim.settle_grant(grant, 40, 60, Usage(35, 20))
    for raw in batches:
        fast.observe_values(raw)  # type: ignore[arg-type]
        # the rule of record applied first: the inline reading then has nothing left to convert
        record.observe_values(tuple(_number(v) for v in raw))  # type: ignore[arg-type]
        assert _state(fast) == _state(record)
        for c in clocks:
            c.now += 7.5


_NAMES = (
    "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
    "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens",
    "retry-after", "retry-after-ms", "x-request-id",
)  # fmt: skip
_header_value = st.one_of(
    st.integers(-10, 10**7).map(str),
    st.sampled_from(["6ms", "1m30.5s", "0", "0s", "2h3m4.5s", "", " 12 ", "1_000", "abc", "1.5", "nan", "-3s", "7"]),
    st.text(max_size=8),
)


@given(headers=st.dictionaries(st.sampled_from(_NAMES), _header_value), wall=st.floats(0, 2e9))
@settings(max_examples=400, deadline=None)
def test_openai_limit_values_say_what_rate_limits_say(headers: dict[str, str], wall: float) -> None:
    for adapter in (ADAPTERS["openai"], OpenAIResponsesAdapter()):
        fast = adapter.limit_values(headers, wall)
        record = Adapter.limit_values(adapter, headers, wall)
        limits = adapter.rate_limits(headers, wall)
        assert record == (None if limits is None else limit_values(limits))
        assert fast == record
        assert [type(v) for v in fast or ()] == [type(v) for v in record or ()]


# ------------------------------------------------------------------------------------------ repeated limits

_limit = st.one_of(st.none(), st.sampled_from([0, 1, 60, 500, 90_000, 2.5]), st.integers(-3, 100_000))


@given(
    batches=st.lists(
        st.tuples(*[st.one_of(_limit, st.integers(0, 100_000), st.floats(0, 90))] * len(OBSERVATION_KEYS)),
        min_size=1,
        max_size=8,
    ),
    configured=st.sampled_from([LimitConfig(), LimitConfig(rpm=500), LimitConfig(tpm=30_000)]),
)
@settings(max_examples=300, deadline=None)
def test_a_limit_heard_again_leaves_the_limiter_as_learning_it_again_does(
    batches: list[tuple[object, ...]], configured: LimitConfig
) -> None:
    clocks = ManualClock(100.0), ManualClock(100.0)
    fast, record = (RateLimiter(configured, clock=c) for c in clocks)
    for raw in batches:
        record._heard = [None] * 4  # the rule of record: every limit header learned afresh
        for lim in (fast, record):
            grant = lim.grant_now(40, 60)
            if grant is not None:
                lim.settle_grant(grant, 40, 60, Usage(35, 20))
            lim.observe_values(raw)  # type: ignore[arg-type]
        assert _state(fast) == _state(record)
        for c in clocks:
            c.now += 11.0


# ------------------------------------------------------------------------------------------ grant_now

_call = st.one_of(
    st.tuples(st.just("grant"), st.integers(-5, 900), st.integers(-5, 900), st.sampled_from(["interactive", "batch"])),
    st.tuples(st.just("settle"), st.integers(0, 50), st.integers(0, 900), st.integers(0, 900)),
    st.tuples(st.just("time"), st.sampled_from([0.0, 0.05, 0.2, 3.0, 30.0, 61.0])),
)


@given(
    calls=st.lists(_call, min_size=1, max_size=60),
    config=st.sampled_from(
        [LimitConfig(rpm=20, tpm=5_000), LimitConfig(itpm=3_000, otpm=2_000), LimitConfig(rpm=5), LimitConfig()]
    ),
)
@settings(max_examples=300, deadline=None)
def test_grant_now_books_and_settles_as_reserve_does(calls: list[tuple[object, ...]], config: LimitConfig) -> None:
    """grant_now (unrolled) grants exactly when reserve grants at once, and both leave the same window."""
    clocks = ManualClock(10.0), ManualClock(10.0)
    fast, record = (RateLimiter(config, clock=c) for c in clocks)
    held: list[tuple[object, object, int, int]] = []
    for call in calls:
        if call[0] == "grant":
            _, i, o, lane = call
            grant = fast.grant_now(i, o, lane)  # type: ignore[arg-type]
            reservation = record.reserve(Demand(i, o), lane=lane)  # type: ignore[arg-type]
            assert (grant is not None) == reservation.granted
            if grant is None:
                if not reservation.granted and reservation.reason == "queued":
                    record.cancel_now(reservation)  # the client would queue through reserve: not this test's part
            else:
                held.append((grant, reservation, i, o))  # type: ignore[arg-type]
        elif call[0] == "settle" and held:
            grant, reservation, i, o = held.pop(int(call[1]) % len(held))  # type: ignore[call-overload]
            usage = Usage(int(call[2]), int(call[3]))  # type: ignore[call-overload]
            fast.settle_grant(grant, i, o, usage)  # type: ignore[arg-type]
            record.settle_now(reservation, usage)  # type: ignore[arg-type]
        elif call[0] == "time":
            for c in clocks:
                c.now += float(call[1])  # type: ignore[arg-type]
        assert _state(fast)[:-1] == _state(record)[:-1]  # the buckets' contents; the grant objects differ
        assert [(b.first, b.last, b.weights) for b in fast._log] == [(b.first, b.last, b.weights) for b in record._log]
