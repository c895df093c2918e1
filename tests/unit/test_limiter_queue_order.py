"""The in-memory limiter's queue order in one pass equals the sorted order of record (issue 19).

:meth:`RateLimiter.reserve` finds a queued ticket's place in line in one pass (:meth:`RateLimiter._ahead`)
instead of sorting every queued ticket on every poll (:meth:`RateLimiter._ahead_sorted`, the rule of
record), through its lanes' lines (:meth:`RateLimiter._ahead`) or ticket by ticket when the clock went
back (:meth:`RateLimiter._ahead_scan`). Every queued ticket's place is checked at every step on both,
now, earlier and later as the queue ages, and the lines against the queue. Two
limiters fed the same random operations (reserves new and repeated, in every lane, for several keys;
cancels, settles, immediate grants; time moving by steps that cross the aging period and the tickets'
grace), one on each path, answer every call the same and end in the same state; tickets with
fractional weights send the limiter to the sorted path for good.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.client.limiter import Demand, LimitConfig, RateLimiter, Reservation
from harness.clock import ManualClock
from harness.pricing import Usage

_op = st.one_of(
    st.tuples(st.just("new"), st.integers(0, 400), st.integers(0, 300), st.integers(0, 2), st.integers(0, 4)),
    st.tuples(st.just("poll"), st.integers(0, 10_000)),
    st.tuples(st.just("cancel"), st.integers(0, 10_000)),
    st.tuples(st.just("settle"), st.integers(0, 10_000), st.integers(0, 300), st.integers(0, 300)),
    st.tuples(st.just("grant"), st.integers(0, 400), st.integers(0, 300)),
    st.tuples(st.just("time"), st.sampled_from([0.0, 0.001, 0.01, 0.3, 1.0, 2.5, 4.0, 7.0, 30.0, -0.2, -3.0])),
)


def _state(lim: RateLimiter) -> tuple[object, ...]:
    tickets = tuple(sorted((t.id, t.lane, t.key, t.tag, t.seq, t.arrival, t.expires_at) for t in lim._tickets.values()))
    lanes = tuple((lane.virtual, tuple(sorted(lane.finish.items()))) for lane in lim._lanes)
    buckets = tuple((b.first, b.last, tuple(b.weights), b.live) for b in lim._log)
    return tuple(lim._totals), tickets, lanes, buckets, lim.admitted


@given(
    ops=st.lists(_op, min_size=1, max_size=120),
    lanes=st.sampled_from([("interactive", "batch"), ("interactive", "batch", "bulk"), ("only",)]),
    aging=st.sampled_from([0.5, 2.0, 10.0]),
    fractional=st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_one_pass_order_answers_as_the_sorted_order(
    ops: list[tuple[object, ...]], lanes: tuple[str, ...], aging: float, fractional: bool
) -> None:
    config = LimitConfig(rpm=6, tpm=1500, lanes=lanes, max_queue_wait_s=aging, ticket_grace_s=3.0)
    clocks = ManualClock(50.0), ManualClock(50.0)
    fast, record = (RateLimiter(config, clock=c) for c in clocks)
    record._whole = False  # the rule of record from the start
    held: list[tuple[Reservation, Reservation]] = []
    for op in ops:
        kind = op[0]
        if kind == "new":
            _, i, o, lane, key = op
            demand = Demand(i, o) if not (fractional and i % 7 == 0) else Demand(i + 0.5, o)  # type: ignore[arg-type]
            lane_name = lanes[int(lane) % len(lanes)]  # type: ignore[call-overload]
            answers = [lim.reserve(demand, lane=lane_name, key=f"k{key}") for lim in (fast, record)]
            assert answers[0] == answers[1]
            held.append((answers[0], answers[1]))
        elif kind in ("poll", "cancel", "settle") and held:
            a, b = held[int(op[1]) % len(held)]  # type: ignore[call-overload]
            if kind == "poll" and not a.granted:
                a2 = fast.reserve(a.demand, lane=a.lane, key=a.key, ticket=a)
                b2 = record.reserve(b.demand, lane=b.lane, key=b.key, ticket=b)
                assert a2 == b2
                held.append((a2, b2))
            elif kind == "cancel":
                fast.cancel_now(a)
                record.cancel_now(b)
            elif kind == "settle":
                usage = Usage(int(op[2]), int(op[3]))  # type: ignore[call-overload]
                fast.settle_now(a, usage)
                record.settle_now(b, usage)
        elif kind == "grant":
            grants = [lim.grant_now(int(op[1]), int(op[2])) for lim in (fast, record)]  # type: ignore[call-overload]
            assert (grants[0] is None) == (grants[1] is None)
        elif kind == "time":
            for c in clocks:
                c.now += float(op[1])  # type: ignore[arg-type]
        assert _state(fast) == _state(record)
        for lim in (fast, record):  # each lane's line holds its queued tickets in (tag, seq) order
            for lane, line in enumerate(lim._lines):
                queued = sorted((t for t in lim._tickets.values() if t.lane == lane), key=lambda t: (t.tag, t.seq))
                assert line.tickets == queued
                assert line.keys == [(t.tag, t.seq) for t in queued]
                assert [line.w0, line.w1, line.w2, line.w3] == [[t.weights[d] for t in queued] for d in range(4)]
            assert all(t.expires_at >= lim._expiry for t in lim._tickets.values())
        if fast._whole:  # every queued ticket's place, now, before and as the queue ages
            now = clocks[0].now
            for t in fast._tickets.values():
                for later in (0.0, 0.999 * aging, 1.5 * aging, 2.5 * aging, -1.0):
                    record_answer = fast._ahead_sorted(t, now + later)
                    assert fast._ahead(t, now + later) == record_answer
                    assert fast._ahead_scan(t, now + later) == record_answer
    if not fractional:
        assert fast._whole
