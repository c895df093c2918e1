"""The rate limiter with its state in Redis, so many processes (and Locust workers) obey one quota.

Same algorithm and :class:`~harness.client.limiter.Limiter` interface as the in-memory
:class:`~harness.client.limiter.RateLimiter` (a sliding window that never admits over the limit,
priority lanes with aging, start-time fair queuing per key, learning from headers), run as one Lua
script per operation on Redis's own clock (:mod:`harness.client.limiter_redis_lua`). Here the window
is an exact log (one entry per admission, expiring with it); the in-memory limiter keeps time buckets
instead, which give capacity back up to one ``bucket_s`` later: the same guarantee. Keys live under
``{prefix:name}`` (one hash slot) and expire when the limiter is idle.

Each process also remembers its own admissions of the last window. **After a restart that lost the
log** (see :mod:`harness.client.redis_support`, epochs) every process puts them back, with the window's
totals it last saw (the part no process puts back stays booked until that window ends), and nothing is
admitted for ``recovery_s`` meanwhile: the window survives the restart.

**While Redis does not answer**, ``closed`` answers "not granted, ask again after retry_interval_s".
``local`` does the same for one whole window after the first unanswered call — what the other
processes admitted just before is unknown, so the window is taken as full — then admits from an
in-memory limiter holding ``local_share`` of every limit (by default 1 / the processes seen in the last
two windows). Admissions made that way are written back into the log before this process admits
through Redis again, and the fleet then admits nothing through Redis for ``recovery_s``, so that every
process still on its own can write its admissions back first. No Redis error reaches the caller.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from harness.client.events import EventSink, PolicyEvent, ignore_events
from harness.client.limiter import RateLimiter
from harness.client.limiter_redis_lua import ACQUIRE, CANCEL, OBSERVE, SEED, SETTLE
from harness.client.limits import DIMENSIONS, Demand, LimitConfig, Reservation, usage_weights
from harness.client.redis_support import RedisFallback, RedisLink, RedisUnavailable, text
from harness.clock import Clock
from harness.errors import ConfigError
from harness.pricing import Usage

__all__ = ["RedisRateLimiter"]

_SEED_CHUNK = 2000  # entries per SEED call (ARGV stays a few hundred kB)


@dataclass(slots=True)
class _Own:
    """One admission of this process still in the window: when (local clock, at the answer) and its weights."""

    t: float
    weights: list[float]
    redis_id: str  # its id in the log (renamed when re-seeded after a restart)


class RedisRateLimiter:
    """A :class:`~harness.client.limiter.Limiter` whose state lives in Redis (one script per call)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        config: LimitConfig | None = None,
        *,
        name: str = "limiter",
        clock: Clock,
        fallback: RedisFallback | None = None,
        prefix: str = "harness:limiter",
        on_event: EventSink = ignore_events,
    ) -> None:
        self.config = config or LimitConfig()  # limits and queue behaviour (shared by every process)
        self.name = name  # the shared limiter's name: processes with the same name share one quota
        self.fallback = fallback or RedisFallback()  # what to do while Redis is away
        self._clock = clock
        self._on_event = on_event
        tag = f"{{{prefix}:{name}}}"
        self.link = RedisLink(
            redis, clock=clock, fallback=self.fallback, source=name, kind="limiter", on_event=on_event,
            epoch_key=f"{tag}:epoch",
        )  # fmt: skip
        self._keys = [self.link.epoch_key] + [
            f"{tag}:{k}" for k in ("log", "weights", "state", "tickets", "ticket_expiry", "members")
        ]
        self._acquire = self.link.script(ACQUIRE)
        self._settle = self.link.script(SETTLE)
        self._cancel = self.link.script(CANCEL)
        self._observe = self.link.script(OBSERVE)
        self._seed = self.link.script(SEED)
        self._limits = [-1 if v is None else v for v in self.config.limits]
        self._window = self.config.window_s + self.config.transit_margin_s  # capacity returns after this
        self._horizon = max(2 * self._window, 30.0)  # a process is counted while seen this recently
        self.members = 1  # processes sharing the limiter, seen in the last two windows (or 30 s)
        self._register_at = -math.inf
        self._mine: dict[str, _Own] = {}  # this process's admissions of the last window, by reservation id
        self._prune_at = 256
        self._seen: tuple[float, tuple[float, ...]] | None = None  # (Redis time, window totals) last answered
        self._learned = [-1.0] * 4  # limits learned from headers (× learn_safety), for a re-seed
        self._limits_seen = False  # has a header ever told of a limit or a remaining allowance?
        self._lost_at: float | None = None  # first unanswered call of the current outage (local clock)
        self.local = RateLimiter(self.config.scaled(self.local_share), clock=clock, name=f"{name}.local")
        self._local_made: dict[str, _Own] = {}  # admitted without Redis, not yet written back
        self._local_for: float | None = None  # the outage ``local`` was made for (its ``_lost_at``)
        self._written = itertools.count(1)  # ids of admissions written back (unique across outages)
        self._lock = asyncio.Lock()  # one re-seed at a time
        self._writing = asyncio.Lock()  # one write-back at a time (never taken inside a re-seed)

    @property
    def local_share(self) -> float:
        """This process's share of every limit while it admits without Redis."""
        share = self.fallback.local_share
        return share if share is not None else 1.0 / max(1, self.members)

    # -- the Limiter API -------------------------------------------------------------------------------
    async def acquire(
        self, demand: Demand, *, lane: str = "interactive", key: str = "default", ticket: Reservation | None = None
    ) -> Reservation:
        try:
            lane_index = self.config.lanes.index(lane)
        except ValueError:
            raise ConfigError("lane", f"unknown lane {lane!r}; expected one of {list(self.config.lanes)}") from None
        now = self._clock()
        if ticket is not None and ticket.backend == "local":
            if self.link.down and now < self.link.down_until:
                return self._acquire_locally(demand, lane, key, ticket, "down")
            self.local.cancel_now(ticket)  # Redis may answer again: ask it
            ticket = None
        cfg = self.config
        args: list[Any] = [self._window, *self._limits, lane_index, key, cfg.max_queue_wait_s, cfg.ticket_grace_s]
        register = now >= self._register_at  # once a second: count the processes sharing the limiter
        args += [cfg.poll_s, *demand.weights(), ticket.id if ticket is not None else ""]
        args += [self.link.token if register else "", self._horizon]
        try:
            if self._local_made:
                await self._write_back()
            reply = await self._call(self._acquire, args)
        except RedisUnavailable as exc:
            return self._acquire_locally(demand, lane, key, ticket, exc.reason)
        self._lost_at = None
        status = int(reply[0])
        if status == -2:
            return Reservation("", False, float(reply[2]), demand, lane, key, "recovering", "redis", self._clock())
        _code, _epoch, wait, rid, at, t1, t2, t3, t4, members = reply
        self.members = max(1, int(members))
        if register:
            self._register_at = now + 1.0
        rid_s = text(rid)
        if status == 2:
            return Reservation("", False, math.inf, demand, lane, key, "too_large", "redis", float(at))
        if status == 1:
            self._remember(rid_s, list(demand.weights()), float(at), (float(t1), float(t2), float(t3), float(t4)))
            return Reservation(rid_s, True, 0.0, demand, lane, key, "ok", "redis", float(at))
        return Reservation(rid_s, False, float(wait), demand, lane, key, "queued", "redis", float(at))

    async def settle(self, reservation: Reservation, usage: Usage) -> None:
        actual = usage_weights(usage)
        if reservation.backend == "local":
            self.local.settle_now(reservation, usage)
            made = self._local_made.get(reservation.id)
            if made is not None:
                made.weights = self._corrected(made.weights, actual)
            return
        if not reservation.granted or not reservation.id:
            return
        own = self._mine.get(reservation.id)
        redis_id = reservation.id
        if own is not None:
            own.weights = self._corrected(own.weights, actual)
            redis_id = own.redis_id
        args: list[Any] = [self._window, redis_id, *actual, 1 if self.config.refund_unused else 0]
        try:
            await self._call(self._settle, args)
        except RedisUnavailable:
            return  # the correction is lost; the entry expires with its estimate (conservative when it refunded)

    async def cancel(self, reservation: Reservation) -> None:
        if reservation.backend == "local":
            self.local.cancel_now(reservation)
            self._local_made.pop(reservation.id, None)
            return
        if not reservation.id:
            return
        own = self._mine.pop(reservation.id, None)
        try:
            await self._call(self._cancel, [self._window, reservation.id if own is None else own.redis_id])
        except RedisUnavailable:
            if own is not None:  # still booked in Redis: keep remembering it for a re-seed
                self._mine[reservation.id] = own

    async def observe(self, **observation: float | None) -> None:
        self.local.observe_now(**observation)  # validates the names; keeps the fallback's view current
        args: list[Any] = [self._window, *self._limits, self.config.learn_safety]
        for d, dim in enumerate(DIMENSIONS):
            for name in (f"limit_{dim}", f"remaining_{dim}", f"reset_{dim}_s"):
                value = observation.get(name)
                ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
                args.append(value if ok else "")
                if ok and name != f"reset_{dim}_s":
                    self._limits_seen = True
                if ok and name == f"limit_{dim}" and value is not None and value > 0:
                    self._learned[d] = float(math.floor(value * self.config.learn_safety))
        try:
            await self._call(self._observe, args)
        except RedisUnavailable:
            return

    async def reset(self) -> None:
        """Forget the shared state and this process's view of it (tests and benchmarks)."""
        await self.link.redis.delete(*self._keys)
        self.link.epoch = ""
        self._mine.clear()
        self._local_made.clear()
        self._seen = None
        self._lost_at = None

    # -- internals -------------------------------------------------------------------------------------
    async def _call(self, script: Any, args: list[Any]) -> Any:
        """Run an epoch-checked script; re-seed and run it again when Redis lost the log meanwhile."""
        return await self.link.run_checked(script, self._keys, args, self._reseed, self.name)

    def _corrected(self, old: list[float], actual: tuple[float, ...]) -> list[float]:
        if self.config.refund_unused:
            return [old[0], *actual[1:]]
        return [old[0], *(max(a, o) for a, o in zip(actual[1:], old[1:], strict=True))]

    def _remember(self, rid: str, weights: list[float], at: float, totals: tuple[float, ...]) -> None:
        now = self._clock()
        mine = self._mine
        mine[rid] = _Own(now, weights, rid)
        if self._seen is None or at >= self._seen[0]:
            self._seen = (at, totals)
        if len(mine) >= self._prune_at:
            horizon = now - self._window
            for old_id in [k for k, own in mine.items() if own.t <= horizon]:
                del mine[old_id]
            self._prune_at = max(256, 2 * len(mine))

    def _acquire_locally(
        self, demand: Demand, lane: str, key: str, ticket: Reservation | None, why: str
    ) -> Reservation:
        now = self._clock()
        if self._lost_at is None:
            self._lost_at = now
        retry_at = self.link.down_until if self.link.down else now + 0.05
        if not self._limited():  # no limit configured or learned: nothing to hold back
            return Reservation("", True, 0.0, demand, lane, key, "ok", "local", now)
        if self.fallback.mode == "closed":
            wait = self.fallback.retry_interval_s
            return Reservation("", False, wait, demand, lane, key, "backend_unavailable", "redis", now)
        local_from = self._lost_at + self._window  # before this the window may hold what others admitted
        if now < local_from:
            wait = max(1e-3, min(local_from, retry_at) - now)
            return Reservation("", False, wait, demand, lane, key, "backend_unavailable", "redis", now)
        if self._local_for != self._lost_at:  # a new outage: this process's share of the fleet now
            self.local = RateLimiter(self.config.scaled(self.local_share), clock=self._clock, name=f"{self.name}.local")
            self._local_for = self._lost_at
        mine = ticket if ticket is not None and ticket.backend == "local" else None
        res = self.local.reserve(demand, lane=lane, key=key, ticket=mine)
        if res.granted:
            self._local_made[res.id] = _Own(now, list(demand.weights()), "")
        else:
            res = Reservation(res.id, False, min(res.wait_s, max(1e-3, retry_at - now)), demand, lane, key,
                              res.reason, "local", res.at)  # fmt: skip
        return Reservation(res.id, res.granted, res.wait_s, demand, lane, key, res.reason, "local", res.at)

    def _limited(self) -> bool:
        return self._limits_seen or any(v is not None for v in self.config.limits)

    async def _write_back(self) -> None:
        """Book the admissions made without Redis in the log, then hold the fleet for ``recovery_s``."""
        async with self._writing:
            if not self._local_made:
                return
            made = list(self._local_made.items())
            now = self._clock()
            entries: list[Any] = []
            for _rid, own in made:
                own.redis_id = f"w{self.link.token}:{next(self._written)}"
                entries += [own.redis_id, repr(max(0.0, now - own.t)), *own.weights]
            await self._call(self._seed, [self._window, "", 0, 0, 0, 0, "", *entries])
            for rid, own in made:
                self._local_made.pop(rid, None)
                self._mine[own.redis_id] = own
            await self.link.extend_recovery(self.fallback.recovery_s)
            data = {"admissions": str(len(made))}
            self._on_event(PolicyEvent("limiter.written_back", self.name, self._clock(), data))

    async def _reseed(self, epoch: str, recover_until: float) -> None:
        """Redis lost the log (new ``epoch``): put back this process's admissions and what it last saw."""
        async with self._lock:
            if self.link.epoch == epoch:
                return
            if not self.link.epoch:
                self.link.epoch = epoch
                return
            if recover_until <= 0:  # created by a process that never saw the old log: hold the fleet now
                await self.link.extend_recovery(self.fallback.recovery_s, epoch)
            now = self._clock()
            horizon = now - self._window
            live = [(rid, own) for rid, own in self._mine.items() if own.t > horizon]
            entries: list[Any] = []
            for _rid, own in live:
                if own.redis_id[:1] not in ("e", "w"):
                    own.redis_id = f"e{self.link.token}:{own.redis_id}"
                entries += [own.redis_id, repr(now - own.t), *own.weights]
            learned = " ".join(repr(v) for v in self._learned) if max(self._learned) >= 0 else ""
            seen = self._seen
            for start in range(0, max(len(entries), 1), _SEED_CHUNK * 6):
                chunk = entries[start : start + _SEED_CHUNK * 6]
                last = start + _SEED_CHUNK * 6 >= len(entries)
                head: list[Any] = [self._window, "", 0, 0, 0, 0, ""]
                if last and seen is not None:
                    head = [self._window, repr(seen[0]), *seen[1], learned]
                reply = await self.link.run(self._seed, self._keys, [*self.link.epoch_args(epoch), *head, *chunk])
                if int(reply[0]) == -1:
                    raise RedisUnavailable(self.name, "the log was lost again")
            self._mine = dict(live)
            self.link.epoch = epoch
            data = {"admissions": str(len(live)), "epoch": epoch}
            self._on_event(PolicyEvent("limiter.reseeded", self.name, self._clock(), data))

    async def aclose(self) -> None:
        """Nothing to give back: admissions expire with the window."""

    def __repr__(self) -> str:
        state = "down" if self.link.down else "up"
        return f"RedisRateLimiter({self.name!r}, redis {state}, fallback={self.fallback.mode})"
