"""Cost budgets shared through Redis: many processes, one budget, still no overspend.

The same rules and reserve / settle / cancel protocol as :class:`~harness.client.budget.BudgetLedger`,
each operation one Lua script, so the check "spent + outstanding + this ≤ hard" and the hold happen
atomically for every matching rule, whatever the interleaving of processes. Amounts are stored as
integers of 10⁻¹² USD (reservations rounded up, so rounding never lets spend through); comparisons are
exact up to 9,000 USD per entity and period and within 10⁻¹² USD relative beyond.

Rolling periods use Redis's clock; calendar periods (UTC hour, day, month) the caller's injected wall
clock. While Redis is unreachable: ``mode="local"`` holds against an in-memory ledger whose hard
limits are ``local_share`` of the shared ones (it cannot know the shared spend), ``mode="closed"``
refuses with :class:`~harness.errors.BudgetExceeded`.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import redis.asyncio as aioredis

from harness.client.budget import PERIODS, BudgetLedger, BudgetReservation, BudgetRule, period_bucket
from harness.client.cost import Attribution
from harness.client.events import EventSink, PolicyEvent, ignore_events
from harness.client.redis_support import RedisFallback, RedisLink, RedisUnavailable
from harness.clock import Clock
from harness.errors import BudgetExceeded

__all__ = ["RedisBudgetLedger"]

_UNIT = Decimal("1e-12")  # one stored unit, in USD

# KEYS: 1 reservations hash, then per charge: out, spend (calendar bucket or rolling total), rolling zset
# ARGV: 1 amount, 2 id, then per charge: hard (-1: none), mode ("c"/"r"), period seconds, ttl seconds
_RESERVE = r"""
local t = redis.call('TIME'); local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local amount = tonumber(ARGV[1])
local n = (#KEYS - 1) / 3
local used = {}
for j = 1, n do
  local out, spend, roll = KEYS[3 * j - 1], KEYS[3 * j], KEYS[3 * j + 1]
  local hard, mode, period = tonumber(ARGV[4 * j - 1]), ARGV[4 * j], tonumber(ARGV[4 * j + 1])
  if mode == 'r' and period > 0 then
    local old = redis.call('ZRANGEBYSCORE', roll, '-inf', string.format('%.17g', now - period))
    for _, m in ipairs(old) do
      redis.call('DECRBY', spend, string.match(m, ':(%d+)$'))
    end
    if #old > 0 then redis.call('ZREMRANGEBYSCORE', roll, '-inf', string.format('%.17g', now - period)) end
  end
  local u = (tonumber(redis.call('GET', spend)) or 0) + (tonumber(redis.call('GET', out)) or 0)
  if hard >= 0 and u + amount > hard then return {0, j, string.format('%d', u)} end
  used[j] = u
end
for j = 1, n do
  redis.call('INCRBY', KEYS[3 * j - 1], ARGV[1])
  redis.call('EXPIRE', KEYS[3 * j - 1], tonumber(ARGV[4 * j + 2]))
  used[j] = string.format('%d', used[j] + amount)
end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[1])
redis.call('EXPIRE', KEYS[1], 7 * 86400)
return {1, 0, unpack(used)}
"""

# ARGV: 1 id, 2 actual ("" = cancel), then per charge: mode, ttl
_SETTLE = r"""
local amount = redis.call('HGET', KEYS[1], ARGV[1])
if not amount then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
local t = redis.call('TIME'); local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local n = (#KEYS - 1) / 3
for j = 1, n do
  local out, spend, roll = KEYS[3 * j - 1], KEYS[3 * j], KEYS[3 * j + 1]
  redis.call('DECRBY', out, amount)
  if ARGV[2] ~= '' then
    local ttl = tonumber(ARGV[2 * j + 2])
    redis.call('INCRBY', spend, ARGV[2])
    redis.call('EXPIRE', spend, ttl)
    if ARGV[2 * j + 1] == 'r' then
      redis.call('ZADD', roll, string.format('%.17g', now), ARGV[1] .. ':' .. ARGV[2])
      redis.call('EXPIRE', roll, ttl)
    end
  end
end
return 1
"""


def _units(amount: Decimal, rounding: str) -> int:
    return int((amount / _UNIT).to_integral_value(rounding=rounding))


class RedisBudgetLedger:
    """A :class:`~harness.client.budget.Budgets` ledger shared through Redis (see the module docstring)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        rules: Sequence[BudgetRule],
        *,
        name: str = "budgets",
        clock: Clock,
        wall: Clock,
        fallback: RedisFallback | None = None,
        prefix: str = "harness:budget",
        on_event: EventSink = ignore_events,
    ) -> None:
        self.rules = tuple(rules)  # the budgets (identical in every process sharing ``name``)
        self.name = name  # processes using the same name share the budgets
        self.fallback = fallback or RedisFallback()  # what to do while Redis is away
        self._clock = clock
        self._wall = wall
        self._on_event = on_event
        self.link = RedisLink(redis, clock=clock, fallback=self.fallback, source=name, kind="budget", on_event=on_event)
        self._tag = f"{{{prefix}:{name}}}"
        self._reserve = self.link.script(_RESERVE)
        self._settle = self.link.script(_SETTLE)
        self._ids = itertools.count(1)
        self._token = f"{random.Random().getrandbits(64):016x}"  # makes reservation ids unique across processes
        share = Decimal(str(self.fallback.local_share))
        local_rules = [
            replace(r, hard_usd=None if r.hard_usd is None else r.hard_usd * share) for r in self.rules
        ]  # fmt: skip
        self.local = BudgetLedger(local_rules, clock=clock, wall=wall, on_event=on_event)

    def _charge_keys(self, i: int, entity: str) -> tuple[list[str], str, float, int]:
        rule = self.rules[i]
        base = f"{self._tag}:{i}:{entity}"
        rolling = rule.mode == "rolling" and rule.period != "total"
        spend = f"{base}:rolltot" if rolling else f"{base}:cal:{period_bucket(rule.period, self._wall())}"
        period = PERIODS[rule.period]
        ttl = int(min(period, 40 * 86400)) + 3600 if math.isfinite(period) else 400 * 86400
        return [f"{base}:out", spend, f"{base}:roll"], "r" if rolling else "c", period if rolling else 0.0, ttl

    async def reserve_async(self, amount: Decimal, attribution: Attribution) -> BudgetReservation:
        units = _units(amount, ROUND_CEILING)
        charges = [(i, e) for i, r in enumerate(self.rules) if (e := r.entity_for(attribution)) is not None]
        rid = f"{self._token}:{next(self._ids)}"
        keys, args = [f"{self._tag}:reservations"], [str(units), rid]
        for i, entity in charges:
            ks, mode, period, ttl = self._charge_keys(i, entity)
            hard = self.rules[i].hard_usd
            keys += ks
            args += ["-1" if hard is None else str(_units(hard, ROUND_FLOOR)), mode, repr(period), str(ttl)]
        try:
            reply = await self.link.run(self._reserve, keys, args)
        except RedisUnavailable:
            if self.fallback.mode == "local":
                res = self.local.reserve(amount, attribution)
                return replace(res, backend="local")
            raise BudgetExceeded(f"{self.name} (Redis unreachable, failing closed)", "?", "?", amount) from None
        ok, failed = int(reply[0]), int(reply[1])
        if not ok:
            i, entity = charges[failed - 1]
            rule = self.rules[i]
            used = Decimal(int(reply[2])) * _UNIT
            data = {"rule": rule.name, "entity": entity, "limit_usd": str(rule.hard_usd), "spent_usd": str(used)}
            self._on_event(PolicyEvent("budget.hard_limit", f"{rule.name}={entity}", self._clock(), data))
            raise BudgetExceeded(f"{rule.name}={entity}", rule.hard_usd, used, amount)
        for (i, entity), used_raw in zip(charges, reply[2:], strict=True):
            rule = self.rules[i]
            used = Decimal(int(used_raw)) * _UNIT
            if rule.soft_usd is not None and used - amount < rule.soft_usd <= used:
                data = {"rule": rule.name, "entity": entity, "limit_usd": str(rule.soft_usd), "spent_usd": str(used)}
                self._on_event(PolicyEvent("budget.soft_limit", f"{rule.name}={entity}", self._clock(), data))
        return BudgetReservation(rid, amount, attribution, tuple(charges), "redis")

    async def settle_async(self, reservation: BudgetReservation, actual: Decimal) -> None:
        await self._finish(reservation, actual)

    async def cancel_async(self, reservation: BudgetReservation) -> None:
        await self._finish(reservation, None)

    async def _finish(self, reservation: BudgetReservation, actual: Decimal | None) -> None:
        if reservation.backend == "local":
            if actual is None:
                self.local.cancel(reservation)
            else:
                self.local.settle(reservation, actual)
            return
        keys, args = (
            [f"{self._tag}:reservations"],
            [reservation.id, "" if actual is None else str(_units(actual, ROUND_CEILING))],
        )
        for i, entity in reservation.charges:
            ks, mode, _period, ttl = self._charge_keys(i, entity)
            keys += ks
            args += [mode, str(ttl)]
        if actual is not None and actual > reservation.amount:
            data = {"reserved_usd": str(reservation.amount), "actual_usd": str(actual)}
            self._on_event(PolicyEvent("budget.overrun", reservation.id, self._clock(), data))
        try:
            await self.link.run(self._settle, keys, args)
        except RedisUnavailable:
            return  # the hold stays until its key expires: conservative

    async def reset(self) -> None:
        """Forget the shared state (tests and benchmarks)."""
        keys = [k async for k in self.link.redis.scan_iter(match=f"{self._tag}*")]
        if keys:
            await self.link.redis.delete(*keys)

    def __repr__(self) -> str:
        return f"RedisBudgetLedger({self.name!r}, {len(self.rules)} rules, redis {'down' if self.link.down else 'up'})"
