"""The circuit breaker with its state shared in Redis: when one process trips it, every process stops.

Shared (one hash per breaker name, updated by Lua scripts on Redis's clock): the state, its
generation, the end of the open period, the consecutive trip count, and the half-open probe slots
(a sorted set, so a probe that never reports frees its slot after ``probe_timeout_s``). Counted per
process: the failure window (consecutive failures, failure and slow-call rates), which decides when
*this* process trips the shared circuit. One round trip for ``acquire``; ``report`` costs a round trip
only when it changes the shared state (a trip, or a half-open probe result).

While Redis is unreachable the breaker falls back to a local :class:`CircuitBreaker` (``mode="local"``)
or refuses calls with :class:`~harness.errors.CircuitOpen` (``mode="closed"``).
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import redis.asyncio as aioredis

from harness.client.breaker import BreakerConfig, CircuitBreaker, OutcomeWindow, Permit, open_period
from harness.client.events import EventSink, PolicyEvent, ignore_events
from harness.client.redis_support import RedisFallback, RedisLink, RedisUnavailable
from harness.clock import Clock
from harness.errors import CircuitOpen

__all__ = ["RedisCircuitBreaker"]

_STATES = {0: "closed", 1: "open", 2: "half_open"}

# KEYS: 1 state hash, 2 probes zset. Returns {state, generation, trips, seconds until retry (open) or 0, probe 0/1}
_ALLOW = r"""
local t = redis.call('TIME'); local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local h = redis.call('HMGET', KEYS[1], 'state', 'gen', 'until', 'trips')
local state, gen, untl, trips = tonumber(h[1]) or 0, tonumber(h[2]) or 0, tonumber(h[3]) or 0, tonumber(h[4]) or 0
redis.call('EXPIRE', KEYS[1], 86400); redis.call('EXPIRE', KEYS[2], 86400)
if state == 0 then return {0, gen, trips, '0', 0} end
if state == 1 then
  if now < untl then return {1, gen, trips, string.format('%.17g', untl - now), 0} end
  state, gen = 2, gen + 1
  redis.call('HSET', KEYS[1], 'state', 2, 'gen', gen, 'ok', 0)
  redis.call('DEL', KEYS[2])
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%.17g', now - tonumber(ARGV[2])))
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[1]) then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {2, gen, trips, string.format('%.17g', tonumber(oldest[2]) + tonumber(ARGV[2]) - now), 0}
end
redis.call('ZADD', KEYS[2], string.format('%.17g', now), ARGV[3])
return {2, gen, trips, '0', 1}
"""

# ARGV: 1 generation the caller saw, 2 outcome ("trip", "ok", "release"), 3 open seconds, 4 probes needed, 5 probe id
# Returns {state, generation, trips, changed 0/1}
_REPORT = r"""
local h = redis.call('HMGET', KEYS[1], 'state', 'gen', 'trips', 'ok')
local state, gen, trips, ok = tonumber(h[1]) or 0, tonumber(h[2]) or 0, tonumber(h[3]) or 0, tonumber(h[4]) or 0
if gen ~= tonumber(ARGV[1]) then return {state, gen, trips, 0} end
local t = redis.call('TIME'); local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREM', KEYS[2], ARGV[5])
if ARGV[2] == 'release' then return {state, gen, trips, 0} end
if ARGV[2] == 'trip' then
  redis.call('HSET', KEYS[1], 'state', 1, 'gen', gen + 1, 'trips', trips + 1,
             'until', string.format('%.17g', now + tonumber(ARGV[3])))
  redis.call('DEL', KEYS[2])
  return {1, gen + 1, trips + 1, 1}
end
if state == 2 then
  ok = ok + 1
  if ok >= tonumber(ARGV[4]) then
    redis.call('HSET', KEYS[1], 'state', 0, 'gen', gen + 1, 'trips', 0, 'ok', 0)
    redis.call('DEL', KEYS[2])
    return {0, gen + 1, 0, 1}
  end
  redis.call('HSET', KEYS[1], 'ok', ok)
end
return {state, gen, trips, 0}
"""


class RedisCircuitBreaker:
    """A :class:`~harness.client.breaker.Breaker` whose state is shared through Redis."""

    def __init__(
        self,
        redis: aioredis.Redis,
        config: BreakerConfig | None = None,
        *,
        name: str = "breaker",
        clock: Clock,
        rng: random.Random | None = None,
        fallback: RedisFallback | None = None,
        prefix: str = "harness:breaker",
        on_event: EventSink = ignore_events,
    ) -> None:
        self.config = config or BreakerConfig()  # thresholds and schedule
        self.name = name  # processes using the same name share one circuit
        self.fallback = fallback or RedisFallback()  # what to do while Redis is away
        self._clock = clock
        self._rng = rng or random.Random(0)
        self._on_event = on_event
        self.link = RedisLink(
            redis, clock=clock, fallback=self.fallback, source=name, kind="breaker", on_event=on_event
        )
        tag = f"{{{prefix}:{name}}}"
        self._keys = [f"{tag}:state", f"{tag}:probes"]
        self._allow = self.link.script(_ALLOW)
        self._report = self.link.script(_REPORT)
        self._window = OutcomeWindow(self.config)  # this process's view of recent outcomes
        self._ids = itertools.count(1)
        self._token = f"{random.Random().getrandbits(64):016x}"  # distinguishes this process's probe ids
        self._seen_state = "closed"  # last shared state this process saw, for events
        self._seen_until: float | None = None  # until when (local clock) that state refuses calls, if it does
        self._last_open_s = 0.0
        self.local = CircuitBreaker(self.config, clock=clock, rng=self._rng, name=f"{name}.local", on_event=on_event)

    async def acquire(self) -> Permit:
        pid = next(self._ids)
        args: list[Any] = [self.config.half_open_probes, self.config.probe_timeout_s, f"{self._token}:{pid}"]
        try:
            state, gen, trips, wait, probe = await self.link.run(self._allow, self._keys, args)
        except RedisUnavailable:
            if self.fallback.mode == "local":
                return self.local.allow()
            raise CircuitOpen(self.name, self._clock() + self.fallback.retry_interval_s) from None
        self._observe_state(_STATES[int(state)], "shared state")
        now = self._clock()
        if int(state) != 0 and not int(probe):
            self._seen_until = now + float(wait)
            raise CircuitOpen(self.name, self._seen_until)
        self._seen_until = None
        return _RedisPermit(pid, int(gen), bool(int(probe)), now, int(trips))

    async def report(
        self, permit: Permit, kind: str, *, duration_s: float | None = None, retry_after_s: float | None = None
    ) -> None:
        if not isinstance(permit, _RedisPermit):
            self.local.record(permit, kind, duration_s=duration_s, retry_after_s=retry_after_s)
            return
        failed = kind in self.config.counts
        slow = duration_s is not None and duration_s >= self.config.slow_call_s
        outcome = None
        if permit.probe:
            outcome = "trip" if failed or slow else "ok"
        else:
            self._window.add(self._clock(), failed, slow)
            if self._window.trip_reason() is not None:
                outcome = "trip"
        if outcome is None:
            return
        period = self._period(retry_after_s, permit.trips) if outcome == "trip" else 0.0
        args: list[Any] = [permit.generation, outcome, period, self.config.half_open_probes, self._probe_id(permit)]
        try:
            state, _gen, _trips, changed = await self.link.run(self._report, self._keys, args)
        except RedisUnavailable:
            return
        if int(changed):
            self._seen_until = self._clock() + period if outcome == "trip" else None
            self._window.clear()
            self._last_open_s = period if outcome == "trip" else self._last_open_s
            self._observe_state(_STATES[int(state)], "tripped" if outcome == "trip" else "probes succeeded")

    async def release_permit(self, permit: Permit) -> None:
        if not isinstance(permit, _RedisPermit):
            self.local.release(permit)
            return
        if permit.probe:
            args: list[Any] = [permit.generation, "release", 0, self.config.half_open_probes, self._probe_id(permit)]
            try:
                await self.link.run(self._report, self._keys, args)
            except RedisUnavailable:
                return

    async def reset(self) -> None:
        """Forget the shared state (tests and benchmarks)."""
        await self.link.redis.delete(*self._keys)

    # -- internals -------------------------------------------------------------------------------
    def _probe_id(self, permit: Permit) -> str:
        return f"{self._token}:{permit.id}"

    def _period(self, retry_after_s: float | None, trips: int) -> float:
        return open_period(
            self.config, retry_after_s, lambda: self.config.open_backoff.delay(trips + 1, self._last_open_s, self._rng)
        )

    def blocked_until(self) -> float | None:
        """Until when the shared circuit refuses calls, as this process last saw it (no round trip)."""
        if self.link.down and self.fallback.mode == "local":
            return self.local.blocked_until()
        until = self._seen_until
        return until if until is not None and self._clock() < until else None

    def _observe_state(self, state: str, reason: str) -> None:
        if state != self._seen_state:
            data = {"from": self._seen_state, "to": state, "reason": reason}
            self._seen_state = state
            self._on_event(PolicyEvent("breaker.state", self.name, self._clock(), data))

    def __repr__(self) -> str:
        redis_state = "down" if self.link.down else "up"
        return f"RedisCircuitBreaker({self.name!r}, seen={self._seen_state}, redis {redis_state})"


class _RedisPermit(Permit):
    """A permit from the shared breaker (its generation is the shared one)."""

    __slots__ = ("trips",)
    trips: int  # consecutive trips of the shared circuit when the permit was issued

    def __init__(self, pid: int, generation: int, probe: bool, issued_at: float, trips: int = 0) -> None:
        super().__init__(pid, generation, probe, issued_at)
        object.__setattr__(self, "trips", trips)
