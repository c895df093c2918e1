"""Client-side rate limiting: requests and tokens per minute together, with priority lanes and fairness.

**The bucket.** Each limited dimension (requests, tokens, input tokens, output tokens) is a bucket of
``limit`` tokens whose spent tokens come back one window (60 s) after they were spent: a sliding
window, so that in *every* window of 60 s the limiter admits at most ``limit``. (A continuously
refilled bucket of capacity ``limit`` admits up to twice that in some 60 s window: the bug the judge's
``limit_violations`` catches. A provider's continuous bucket of the same size accepts everything this
one admits, since ⌈T/60⌉ ≤ 1 + T/60.)

**The window is kept in time buckets**, not one entry per admission: admissions within ``bucket_s``
(100 ms) of a bucket's first one are summed into it, and the bucket's capacity comes back one window
after its *last* admission. Capacity therefore never comes back early — the guarantee above is exact —
and comes back at most ``bucket_s`` late, which costs at most ``bucket_s / window_s`` of the limit
(0.17 % for 100 ms in 60 s) and only when the limit is reached. The limiter holds at most
``window_s / bucket_s`` buckets (600) whatever the request rate, where a log would hold one object per
request of the last minute (660,000 at 11,000 requests/s, walked by every garbage collection).

**A margin for the way to the provider.** The provider counts a request when it arrives, a little
after the limiter admitted it, and that delay varies (the event loop's turn, the network): a request
that travels fast can reach the provider less than a window after one admitted a window earlier that
travelled slowly, and the provider then holds one request too many in its window. So capacity comes
back ``transit_margin_s`` (0.25 s) after the window, not at its end: the cost is at most
``transit_margin_s / window_s`` of the limit (0.4 % of a minute), and only when the limit is reached.

**Accounting.** ``acquire`` reserves an estimate (prompt tokens + max_tokens), ``settle`` corrects it to
the actual usage (refund or charge; ``refund_unused=False`` for providers that keep the estimate, as
OpenAI does for max_tokens), ``cancel`` refunds everything when nothing was sent. ``tpm`` counts input +
output together (OpenAI); ``itpm`` and ``otpm`` count them separately (Anthropic).

**Waiting, lanes, fairness.** The limiter never sleeps. ``acquire`` returns a :class:`Reservation`:
granted, or queued with ``wait_s`` to sleep before asking again with the same reservation
(:func:`wait_for_capacity` does the loop with an injected sleep). Queued tickets are served by lane
(``interactive`` before ``batch``); every ``max_queue_wait_s`` a ticket waits promotes it one lane up,
so no lane starves. Within a lane, keys (users, API keys) share by start-time fair queuing: each
key's tickets take turns, so one busy user cannot crowd out the others. A ticket that is not asked
about again within ``wait_s + ticket_grace_s`` is forgotten.

**Learning.** Without configured limits, ``observe`` takes the provider's rate-limit headers (already
parsed into numbers) and stays just under them: a limit header becomes a limit at ``learn_safety`` of
it; "remaining R, resets in s" allows at most R until the reset; usage the provider reports beyond what
this limiter admitted (another process on the same key) is booked until the reset. When that booking
leaves the window, what the others sent since is unknown: the next request goes alone (a probe), and
the queue waits for its answer, whose headers give the provider's window as it is now. Without it, an
instance that had queued behind others' usage released its whole queue at the reset, and every
request but the first met a window the others had filled again: in ``rate_limit_storm`` over sockets
the first 429 takes a few ms to come back, long enough for the whole queue to leave (in virtual time it
comes back in no time, which hid this). A probe whose answer does not come within ``ticket_grace_s``
is given up.

The types every limiter shares (:class:`LimitConfig`, :class:`Demand`, :class:`Reservation`, the
:class:`Limiter` protocol) and :func:`wait_for_capacity` live in :mod:`harness.client.limits` and are
re-exported here; this module is the in-memory limiter itself.

Example::

    limiter = RateLimiter(LimitConfig(rpm=500, tpm=30_000), clock=loop_clock())
    res = await wait_for_capacity(limiter, Demand(input_tokens=120, max_output_tokens=256), sleep=asyncio.sleep)
    ...                                    # send the request
    await limiter.settle(res, Usage(input_tokens=120, output_tokens=87))
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.client.limits import (
    DIMENSIONS,
    OBSERVATION_KEYS,
    Demand,
    LimitConfig,
    Limiter,
    Reservation,
    wait_for_capacity,
)
from harness.clock import Clock
from harness.errors import ConfigError
from harness.pricing import Usage

__all__ = [
    "DIMENSIONS",
    "Demand",
    "Grant",
    "LimitConfig",
    "Limiter",
    "RateLimiter",
    "Reservation",
    "wait_for_capacity",
]  # the shared types come from harness.client.limits and are re-exported here

_MIN_WAIT_S = 1e-6  # the shortest wait for a demand that does not fit yet
_NO_PROBE, _PROBE, _PROBING = 0, 1, 2  # RateLimiter._probe
#: a ticket's weights summed in any order are exact when each is whole and at most _WHOLE_WEIGHT and at most
#: _WHOLE_TICKETS are summed: 2**32 · 2**20 = 2**52, below 2**53 (floats count whole numbers exactly there)
_WHOLE_WEIGHT = float(2**32)
_WHOLE_TICKETS = 2**20
#: others' usage leaving the window starts a probe only when the window held at least this share of a
#: limit it counts against (or requests are queued): below it, what they sent since cannot matter yet
_PROBE_PRESSURE = 0.5


class _Bucket:
    """Admissions summed over at most ``bucket_s``: their capacity comes back one window after ``last``."""

    __slots__ = ("first", "last", "live", "others", "weights")

    def __init__(self, first: float, last: float, weights: list[float], others: bool = False) -> None:
        self.first = first  # time of its first admission (later ones join while within bucket_s of it)
        self.last = last  # time of its last admission
        self.weights = weights  # summed per dimension
        self.live = True  # still in the window (settling a reservation of an expired bucket changes nothing)
        self.others = others  # usage the provider reported that this limiter did not admit (another process)

    def __repr__(self) -> str:
        return f"_Bucket({self.first:g}..{self.last:g}, {self.weights})"


#: what :meth:`RateLimiter.grant_now` returns: opaque to callers (it is the bucket the admission went to)
Grant = _Bucket


@dataclass(slots=True)
class _Ticket:
    """A queued request."""

    id: str
    lane: int  # lane index (0 is the highest priority)
    key: str
    tag: float  # start-time fair queuing tag within the lane
    seq: int  # arrival order
    arrival: float  # clock time of the first acquire
    expires_at: float  # forgotten if not asked about again before this
    weights: tuple[float, float, float, float]


class _Line:
    """One lane's queued tickets in ``(tag, seq)`` order, with their weights per dimension in the same
    order (what :meth:`RateLimiter._ahead` bisects and sums)."""

    __slots__ = ("keys", "tickets", "w0", "w1", "w2", "w3")

    def __init__(self) -> None:
        self.keys: list[tuple[float, int]] = []
        self.tickets: list[_Ticket] = []
        self.w0: list[float] = []
        self.w1: list[float] = []
        self.w2: list[float] = []
        self.w3: list[float] = []


@dataclass(slots=True)
class _Hold:
    """From a header without a limit: at most ``allowance`` more until ``until``."""

    until: float
    allowance: float


@dataclass(slots=True)
class _Lane:
    """Fair-queuing state of one lane."""

    virtual: float = 0.0  # start tag of the last ticket served
    finish: dict[str, float] = field(default_factory=dict)  # per key: finish tag of its last queued ticket


class RateLimiter:
    """The in-memory limiter (see the module docstring); sync core methods plus the async :class:`Limiter` API."""

    def __init__(self, config: LimitConfig | None = None, *, clock: Clock, name: str = "limiter") -> None:
        self.config = config or LimitConfig()  # limits and queue behaviour
        self.name = name  # for events and repr
        self._clock = clock
        self._window = self.config.window_s + self.config.transit_margin_s  # capacity returns after this
        self._bucket_s = self.config.bucket_s
        self._limits: list[float | None] = [None if v is None else float(v) for v in self.config.limits]
        self._learned: list[float | None] = [None] * 4  # limits learned from headers (already × safety)
        #: the limit header each _learned value came from: an answer repeating it is not learned again
        #: (the same limit gives the same _learned, _effective and limits_tokens; saved per answer)
        self._heard: list[float | None] = [None] * 4
        self._effective: list[float | None] = list(self._limits)  # configured, else learned, per dimension
        #: a token limit is in force (configured or learned): admission needs the prompt's token count
        self.limits_tokens = any(limit is not None for limit in self._effective[1:])
        self._holds: list[_Hold | None] = [None] * 4
        self._held = False  # any hold at all (most limiters never have one)
        self._log: deque[_Bucket] = deque()  # the window's buckets, oldest first (ordered by ``last``)
        self._totals = [0.0] * 4  # per dimension, over the live buckets
        #: granted reservations not yet settled: their bucket and weights
        self._by_id: dict[str, tuple[_Bucket, tuple[float, ...]]] = {}
        self._sweep_at = 1024  # _by_id size that triggers dropping reservations of expired buckets
        self._tickets: dict[str, _Ticket] = {}
        #: every ticket queued so far had whole weights of at most _WHOLE_WEIGHT: the queue's order is found
        #: in one pass (:meth:`_ahead`), else by sorting (:meth:`_ahead_sorted`) from then on
        self._whole = True
        self._lines = [_Line() for _ in self.config.lanes]  # per lane, its queued tickets in (tag, seq) order
        self._newest = -math.inf  # the latest arrival of a ticket queued so far
        self._expiry = math.inf  # no queued ticket has expires_at below this (a lower bound)
        self._lanes = [_Lane() for _ in self.config.lanes]
        self._lane_names = frozenset(self.config.lanes)
        self._ids = itertools.count(1)
        self.admitted = 0  # requests granted so far
        #: others' usage left the window: what they sent since is unknown until an answer tells (see
        #: "Learning" in the module docstring). _PROBE: the next admission goes alone; _PROBING: it is out
        self._probe = _NO_PROBE
        self._probe_sent = 0.0  # when the probe was admitted

    # -- the core (sync) -------------------------------------------------------------------------
    def effective_limit(self, dim: int) -> float | None:
        return self._effective[dim]

    def in_window(self) -> tuple[float, ...]:
        """What the window holds now, per dimension of :data:`DIMENSIONS` (admitted, corrected when settled)."""
        self._expire(self._clock())
        return tuple(self._totals)

    def reserve(
        self, demand: Demand, *, lane: str = "interactive", key: str = "default", ticket: Reservation | None = None
    ) -> Reservation:
        """Grant ``demand`` now or queue it; call again with ``ticket=`` the returned reservation after ``wait_s``."""
        lane_index = self._lane_index(lane)
        now = self._clock()
        self._expire(now)
        weights = demand.weights()
        effective = self._effective
        for d in range(4):
            limit = effective[d]
            if limit is not None and weights[d] > limit:
                return Reservation("", False, math.inf, demand, lane, key, "too_large", at=now)
        t = self._tickets.get(ticket.id) if ticket is not None else None
        if t is None:
            if not self._tickets and self._probe != _PROBING and self._fits(weights, now):
                return self._grant(f"r{next(self._ids)}", weights, demand, lane, key, now)
            t = self._enqueue(lane_index, key, weights, now)
        if self._whole and len(self._tickets) <= _WHOLE_TICKETS:
            head, ahead = self._ahead(t, now)
        else:
            head, ahead = self._ahead_sorted(t, now)
        wait = self._wait(t.weights if head else ahead, now)
        if self._probe == _PROBING:
            wait = max(wait, self.config.poll_s)  # the probe's answer first
        if head and wait == 0:
            del self._tickets[t.id]
            self._line_drop(t)
            state = self._lanes[t.lane]
            state.virtual = max(state.virtual, t.tag)
            return self._grant(t.id, t.weights, demand, lane, key, now)
        if not head:
            wait = max(wait, self.config.poll_s)
        t.expires_at = expires = now + wait + self.config.ticket_grace_s
        if expires < self._expiry:
            self._expiry = expires
        return Reservation(t.id, False, wait, demand, lane, key, "queued", at=now)

    def grant_now(self, input_tokens: int, max_output_tokens: int, lane: str = "interactive") -> Grant | None:
        """The common case of :meth:`reserve`, without its objects: a grant booked now, or None when
        :meth:`reserve` must decide (a queue, a demand that does not fit now, a hold, an unknown lane).

        The grant is opaque; hand it back exactly once to :meth:`settle_grant` or :meth:`cancel_grant`
        with the same token numbers. The reference client's hot path: it keeps no per-request state.
        """
        if lane not in self._lane_names:
            return None
        now = self._clock()
        log = self._log
        if self._held or self._tickets or self._probe or (log and log[0].last <= now - self._window):
            self._expire(now)
            if self._tickets or self._held or self._probe == _PROBING:
                return None  # a queue to respect, a hold to check, an answer to wait for: reserve decides
        i = input_tokens if input_tokens > 0 else 0  # max(0, ·) without the call
        o = max_output_tokens if max_output_tokens > 0 else 0
        w1, w2, w3 = float(i + o), float(i), float(o)
        totals, effective = self._totals, self._effective
        # does it fit in every dimension (_fits without a hold, unrolled: this runs for every request)
        limit = effective[0]
        if limit is not None and totals[0] + 1.0 > limit + 1e-9:
            return None
        limit = effective[1]
        if limit is not None and w1 > 0 and totals[1] + w1 > limit + 1e-9:
            return None
        limit = effective[2]
        if limit is not None and w2 > 0 and totals[2] + w2 > limit + 1e-9:
            return None
        limit = effective[3]
        if limit is not None and w3 > 0 and totals[3] + w3 > limit + 1e-9:
            return None
        return self._admit((1.0, w1, w2, w3), now)

    def settle_grant(self, grant: Grant, input_tokens: int, max_output_tokens: int, usage: Usage) -> None:
        """:meth:`settle_now` for a grant of :meth:`grant_now` (with the numbers it was granted for)."""
        i = input_tokens if input_tokens > 0 else 0  # max(0, ·) without the call
        o = max_output_tokens if max_output_tokens > 0 else 0
        self._correct(grant, (1.0, float(i + o), float(i), float(o)), usage)
        self._probe = _NO_PROBE  # an answer came back (its headers, if any, were observed first)

    def cancel_grant(self, grant: Grant, input_tokens: int, max_output_tokens: int) -> None:
        """:meth:`cancel_now` for a grant of :meth:`grant_now` (with the numbers it was granted for)."""
        i, o = max(0, input_tokens), max(0, max_output_tokens)
        self._refund(grant, (1.0, float(i + o), float(i), float(o)))
        self._probe = _NO_PROBE

    def settle_now(self, reservation: Reservation, usage: Usage) -> None:
        """Correct a granted reservation to the actual usage (refund or charge)."""
        if not reservation.granted:
            return  # never granted
        held = self._by_id.pop(reservation.id, None)
        if held is not None:  # else already settled or cancelled
            self._correct(held[0], held[1], usage)
        self._probe = _NO_PROBE

    def cancel_now(self, reservation: Reservation) -> None:
        """Refund a reservation whose request was never sent, or drop a queued ticket."""
        queued = self._tickets.pop(reservation.id, None)
        if queued is not None:
            self._line_drop(queued)
            return
        held = self._by_id.pop(reservation.id, None)
        if held is not None:
            self._refund(held[0], held[1])
        self._probe = _NO_PROBE

    def observe_now(self, **observation: float | None) -> None:
        """Learn from rate-limit headers: ``limit_X``, ``remaining_X``, ``reset_X_s`` for X in :data:`DIMENSIONS`."""
        for key in observation:
            if key not in _OBSERVATION_KEYS:
                expected = "limit_<dim>, remaining_<dim> or reset_<dim>_s"
                raise ConfigError(f"observe.{key}", f"unknown observation; expected {expected}, dim in {DIMENSIONS}")
        get = observation.get
        self._observe([get(key) for key in OBSERVATION_KEYS], bool(observation))

    def observe_values(self, values: Sequence[float | None]) -> None:
        """:meth:`observe_now` with the values of its keywords in :data:`OBSERVATION_KEYS` order (None:
        not said; an int is read as its float), at least one of them said: the reference client's hot
        path, which has them as a tuple."""
        self._observe(values, True)

    def _observe(self, values: Sequence[float | None], said: bool) -> None:
        now = self._clock()
        self._expire(now)
        for d in range(4):
            limit: Any = values[3 * d]  # Any: an int is read as its float below
            remaining: Any = values[3 * d + 1]
            if limit is None and remaining is None:
                continue  # nothing to learn in this dimension (a reset alone changes nothing)
            reset: Any = values[3 * d + 2]
            # _number inlined for what header parsers give (an int, a float, None): six calls per answer
            # saved; anything else goes to _number (tests/unit/test_limit_headers_fast_path.py holds them equal)
            t = type(limit)
            if t is int:
                limit = float(limit)
            elif t is not float or not _finite(limit):
                limit = _number(limit)
            t = type(remaining)
            if t is int:
                remaining = float(remaining)
            elif t is not float or not _finite(remaining):
                remaining = _number(remaining)
            t = type(reset)
            if t is int:
                reset = float(reset)
            elif t is not float or not _finite(reset):
                reset = _number(reset)
            self._observe_dim(d, now, limit, remaining, reset)
        if said:
            self._probe = _NO_PROBE  # a fresh picture of the provider's window

    # -- the async Limiter API -------------------------------------------------------------------
    async def acquire(
        self, demand: Demand, *, lane: str = "interactive", key: str = "default", ticket: Reservation | None = None
    ) -> Reservation:
        return self.reserve(demand, lane=lane, key=key, ticket=ticket)

    async def settle(self, reservation: Reservation, usage: Usage) -> None:
        self.settle_now(reservation, usage)

    async def cancel(self, reservation: Reservation) -> None:
        self.cancel_now(reservation)

    async def observe(self, **observation: float | None) -> None:
        self.observe_now(**observation)

    # -- internals -------------------------------------------------------------------------------
    def _lane_index(self, lane: str) -> int:
        try:
            return self.config.lanes.index(lane)
        except ValueError:
            raise ConfigError("lane", f"unknown lane {lane!r}; expected one of {list(self.config.lanes)}") from None

    def _limits_now(self) -> list[float | None]:
        return list(self._effective)

    def _order(self, t: _Ticket, now: float) -> tuple[int, float, int]:
        # aging: every max_queue_wait_s spent queued promotes a ticket one lane up, so no lane starves
        promoted = max(0, t.lane - math.floor((now - t.arrival) / self.config.max_queue_wait_s))
        return (promoted, t.tag, t.seq)

    def _ahead_sorted(self, t: _Ticket, now: float) -> tuple[bool, tuple[float, ...]]:
        """Is ``t`` first in line, and the weights of the tickets up to it in line, ``t`` included, summed
        in line order (the rule of record: every queued ticket sorted by :meth:`_order`)."""
        order = sorted(self._tickets.values(), key=lambda x: self._order(x, now))
        ahead = [0.0] * 4
        for other in order:
            for d in range(4):
                ahead[d] += other.weights[d]
            if other is t:
                break
        return order[0] is t, tuple(ahead)

    def _ahead(self, t: _Ticket, now: float) -> tuple[bool, tuple[float, ...]]:
        """:meth:`_ahead_scan` without a step per ticket of the first lane.

        Each lane keeps its tickets in ``(tag, seq)`` order (:class:`_Line`). Once the clock has reached
        every ticket's arrival, a first-lane ticket is never promoted (its ``_order`` key is ``(0, tag,
        seq)``): those ahead of ``t`` are all of them if ``t`` is promoted, else those before ``(tag,
        seq)`` in the line, found by bisection and summed by ``sum`` over a slice. The other lanes'
        tickets, whose promotion depends on their arrival, are compared one by one as
        :meth:`_ahead_scan` does; a clock that went back (a ticket arrived after ``now``) takes
        :meth:`_ahead_scan` itself. The same exactness condition holds (``_whole``).
        """
        if now < self._newest:
            return self._ahead_scan(t, now)
        floor, wait_s = math.floor, self.config.max_queue_wait_s
        tag, seq = t.tag, t.seq
        promoted = max(0, t.lane - floor((now - t.arrival) / wait_s))  # _order, inlined
        a0, a1, a2, a3 = t.weights
        head = True
        lines = self._lines
        first = lines[0]
        k = len(first.keys) if promoted else bisect.bisect_left(first.keys, (tag, seq))
        if k:
            head = False
            a0 += sum(first.w0[:k])
            a1 += sum(first.w1[:k])
            a2 += sum(first.w2[:k])
            a3 += sum(first.w3[:k])
        sums = (a0, a1, a2, a3)
        key = (promoted, tag, seq)
        for line in lines[1:]:
            sums, before = self._add_before(line.tickets, key, now, sums)
            head = head and not before
        return head, sums

    def _ahead_scan(self, t: _Ticket, now: float) -> tuple[bool, tuple[float, ...]]:
        """:meth:`_ahead_sorted` in one pass, without the sort: the tickets before ``t`` are those whose
        :meth:`_order` key is smaller (keys are distinct: ``seq`` is). The sort cost O(n log n) and a
        Python call per ticket on every poll of every queued ticket (a third of a queued run's CPU at a
        few hundred tickets). Their weights are summed in another order than the line's, which gives
        the same sums only because they are whole numbers well below 2**53 (``_whole``, checked as
        tickets join; else the caller takes the sorted path). Held to it by
        ``tests/unit/test_limiter_queue_order.py``."""
        key = (max(0, t.lane - math.floor((now - t.arrival) / self.config.max_queue_wait_s)), t.tag, t.seq)
        sums, before = self._add_before(self._tickets.values(), key, now, t.weights)
        return not before, sums

    def _add_before(
        self, tickets: Iterable[_Ticket], key: tuple[int, float, int], now: float, sums: tuple[float, ...]
    ) -> tuple[tuple[float, float, float, float], bool]:
        """``sums`` plus the weights of the ``tickets`` whose :meth:`_order` key (inlined) is below ``key``,
        and whether there was any."""
        floor, wait_s = math.floor, self.config.max_queue_wait_s
        a0, a1, a2, a3 = sums
        before = False
        for other in tickets:
            if (max(0, other.lane - floor((now - other.arrival) / wait_s)), other.tag, other.seq) < key:
                before = True
                w = other.weights
                a0 += w[0]
                a1 += w[1]
                a2 += w[2]
                a3 += w[3]
        return (a0, a1, a2, a3), before

    def _enqueue(self, lane: int, key: str, weights: tuple[float, float, float, float], now: float) -> _Ticket:
        if self._whole:  # see _ahead: its sums are exact for whole weights of at most _WHOLE_WEIGHT
            self._whole = all(w.is_integer() and 0 <= w <= _WHOLE_WEIGHT for w in weights)
        state = self._lanes[lane]
        tag = max(state.virtual, state.finish.get(key, 0.0))
        state.finish[key] = tag + 1.0
        if len(state.finish) > 4 * (len(self._tickets) + 16):  # forget keys whose turn has passed
            state.finish = {k: f for k, f in state.finish.items() if f > state.virtual}
        seq = next(self._ids)
        t = _Ticket(f"r{seq}", lane, key, tag, seq, now, now, weights)
        self._tickets[t.id] = t
        if now < self._expiry:
            self._expiry = now
        if now > self._newest:
            self._newest = now
        line = self._lines[lane]
        i = bisect.bisect_left(line.keys, (tag, seq))
        line.keys.insert(i, (tag, seq))
        line.tickets.insert(i, t)
        w0, w1, w2, w3 = weights
        line.w0.insert(i, w0)
        line.w1.insert(i, w1)
        line.w2.insert(i, w2)
        line.w3.insert(i, w3)
        return t

    def _line_drop(self, t: _Ticket) -> None:
        """Take a ticket that left the queue out of its lane's line."""
        line = self._lines[t.lane]
        i = bisect.bisect_left(line.keys, (t.tag, t.seq))
        del line.keys[i], line.tickets[i], line.w0[i], line.w1[i], line.w2[i], line.w3[i]

    def _grant(
        self, rid: str, weights: tuple[float, ...], demand: Demand, lane: str, key: str, now: float
    ) -> Reservation:
        by_id = self._by_id
        by_id[rid] = (self._admit(weights, now), weights)
        if len(by_id) > self._sweep_at:  # reservations never settled: forget those whose bucket has left
            self._by_id = by_id = {k: v for k, v in by_id.items() if v[0].live}
            self._sweep_at = max(1024, 2 * len(by_id))
        return Reservation(rid, True, 0.0, demand, lane, key, "ok", at=now)

    def _admit(self, weights: tuple[float, ...], now: float) -> _Bucket:
        """Book ``weights`` in the window now; returns the bucket they went to."""
        if self._probe:
            self._probe, self._probe_sent = _PROBING, now
        w0, w1, w2, w3 = weights  # unrolled: this runs for every request
        log = self._log
        bucket = log[-1] if log else None
        if bucket is not None and now - bucket.first < self._bucket_s and bucket.last <= now:
            bucket.last = now
            sums = bucket.weights
            sums[0] += w0
            sums[1] += w1
            sums[2] += w2
            sums[3] += w3
        else:
            bucket = _Bucket(now, now, [w0, w1, w2, w3])
            self._insert(bucket)
        totals = self._totals
        totals[0] += w0
        totals[1] += w1
        totals[2] += w2
        totals[3] += w3
        if self._held:
            for d in range(4):
                hold = self._holds[d]
                if hold is not None:
                    hold.allowance -= weights[d]
        self.admitted += 1
        return bucket

    def _correct(self, bucket: _Bucket, weights: tuple[float, ...], usage: Usage) -> None:
        """Replace an admission's estimated tokens by the actual usage (nothing if it left the window)."""
        if not bucket.live:
            return
        i, o = usage.input_tokens, usage.output_tokens
        tokens, inputs, outputs = float(i + o), float(i), float(o)
        if not self.config.refund_unused:  # only charge extra
            tokens, inputs, outputs = max(tokens, weights[1]), max(inputs, weights[2]), max(outputs, weights[3])
        totals, sums = self._totals, bucket.weights
        change = tokens - weights[1]
        totals[1] += change
        sums[1] += change
        change = inputs - weights[2]
        totals[2] += change
        sums[2] += change
        change = outputs - weights[3]
        totals[3] += change
        sums[3] += change

    def _refund(self, bucket: _Bucket, weights: tuple[float, ...]) -> None:
        """Take an admission out of the window (nothing if it left already)."""
        if bucket.live:
            for d in range(4):
                self._totals[d] -= weights[d]
                bucket.weights[d] -= weights[d]

    def _expire(self, now: float) -> None:
        horizon = now - self._window
        log = self._log
        if log and log[0].last <= horizon:
            totals = self._totals
            while log and log[0].last <= horizon:
                bucket = log.popleft()
                bucket.live = False  # a late settle or cancel must not refund it a second time
                if bucket.others and self._probe == _NO_PROBE and self._pressed(bucket):
                    self._probe = _PROBE
                weights = bucket.weights
                for d in range(4):
                    totals[d] -= weights[d]
            if not log:
                self._totals = [0.0] * 4  # no float drift survives an empty window
        if self._probe == _PROBING and now - self._probe_sent > self.config.ticket_grace_s:
            self._probe = _NO_PROBE  # no answer in time (a lost request): stop waiting for it
        if self._held:
            for d in range(4):
                hold = self._holds[d]
                if hold is not None and hold.until <= now:
                    self._holds[d] = None
            self._held = any(h is not None for h in self._holds)
        if self._tickets and now > self._expiry:  # else no ticket has expires_at < now: nothing to scan
            tickets = self._tickets
            for tid in [tid for tid, t in tickets.items() if t.expires_at < now]:
                self._line_drop(tickets.pop(tid))
            self._expiry = min([t.expires_at for t in tickets.values()], default=math.inf)

    def _pressed(self, bucket: _Bucket) -> bool:
        """Is the window near its limit in a dimension ``bucket`` (others' usage, still counted) booked?

        Only then can what the others sent since matter to the next admissions; far below the limit
        a probe would only hold the queue (and a busy process's own usage, counted by the provider in
        ways this limiter does not mirror, would keep booking "others" and queueing it for nothing).
        """
        if self._tickets:
            return True
        totals, effective = self._totals, self._effective
        for d in range(4):
            limit = effective[d]
            if limit is not None and bucket.weights[d] > 0 and totals[d] >= _PROBE_PRESSURE * limit:
                return True
        return False

    def _fits(self, weights: tuple[float, ...], now: float) -> bool:
        """Do ``weights`` fit now in every dimension (the common case, answered without computing a wait)?"""
        if self._held:
            return self._wait(weights, now) == 0
        totals, effective = self._totals, self._effective
        for d in range(4):
            limit = effective[d]
            need = weights[d]
            if limit is not None and need > 0 and totals[d] + need > limit + 1e-9:
                return False
        return True

    def _wait(self, weights: Iterable[float], now: float) -> float:
        """Seconds until ``weights`` fit in every dimension (0: fits now)."""
        wait = 0.0
        window = self._window
        for d, need in enumerate(weights):
            hold = self._holds[d]
            if hold is not None and need > hold.allowance:
                wait = max(wait, hold.until - now)
            limit = self._effective[d]
            if limit is None or need <= 0 or self._totals[d] + need <= limit + 1e-9:
                continue
            excess = self._totals[d] + need - limit
            freed = 0.0
            last = now - window
            for bucket in self._log:
                freed += bucket.weights[d]
                last = bucket.last
                if freed >= excess - 1e-9:
                    break
            else:  # more than one window's worth ahead of us: estimate whole windows
                last += window * math.ceil((excess - freed) / limit)
            # it does not fit now, so the wait is never zero: float rounding of `now - window` can leave
            # a bucket in the window a hair past `last + window`, and a zero wait would admit over the limit
            wait = max(wait, last + window - now, _MIN_WAIT_S)
        return max(wait, 0.0)

    def _observe_dim(
        self, d: int, now: float, limit: float | None, remaining: float | None, reset_s: float | None
    ) -> None:
        if limit is not None and limit > 0 and limit != self._heard[d]:  # the same limit again changes nothing
            self._heard[d] = limit
            self._learned[d] = math.floor(limit * self.config.learn_safety)
            configured = self._limits[d]
            self._effective[d] = configured if configured is not None else self._learned[d]
            effective = self._effective
            self.limits_tokens = effective[1] is not None or effective[2] is not None or effective[3] is not None
        known = self._effective[d]
        reset = reset_s if reset_s is not None and reset_s >= 0 else None
        if remaining is None:
            return
        if known is None:
            if reset is not None:  # no limit known: use at most what remains until the reset
                self._holds[d] = _Hold(now + reset, remaining * self.config.learn_safety)
                self._held = True
            return
        provider_used = (limit if limit is not None and limit > 0 else known / self.config.learn_safety) - remaining
        unseen = provider_used - self._totals[d]
        if unseen > 0:  # usage this limiter did not admit (another process on the key): book it until the reset
            weights = [0.0] * 4
            weights[d] = unseen
            at = now - self._window + (reset if reset is not None else self._window)
            at = min(now, at)
            self._insert(_Bucket(at, at, weights, others=True))
            self._totals[d] += unseen

    def _insert(self, bucket: _Bucket) -> None:
        """Insert keeping the buckets ordered by ``last`` (phantom ones may be dated in the past)."""
        log = self._log
        if not log or log[-1].last <= bucket.last:
            log.append(bucket)
            return
        i = len(log)
        while i > 0 and log[i - 1].last > bucket.last:
            i -= 1
        log.insert(i, bucket)

    def __repr__(self) -> str:
        used = ", ".join(
            f"{dim}={self._totals[d]:g}/{self.effective_limit(d):g}"
            for d, dim in enumerate(DIMENSIONS)
            if self.effective_limit(d) is not None
        )
        return (
            f"RateLimiter({self.name!r}, {used or 'unlimited'}, queued={len(self._tickets)}, buckets={len(self._log)})"
        )


_OBSERVATION_KEYS = frozenset(OBSERVATION_KEYS)


_finite = math.isfinite


def _number(value: float | None) -> float | None:
    """A header's number as a finite float, else None (the rule of record :meth:`RateLimiter._observe` inlines)."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)
