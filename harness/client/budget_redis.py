"""Cost budgets shared through Redis: many processes, one budget, no overspend — Redis up, down or restarted.

The same rules and reserve / settle / cancel protocol as :class:`~harness.client.budget.BudgetLedger`,
each operation one Lua script (:mod:`harness.client.budget_redis_lua`), so the check "spent + held +
this ≤ hard" and the hold happen atomically for every matching rule, whatever the interleaving of
processes. Amounts are integers of 10⁻¹² USD (holds rounded up, so rounding never lets spend through).
Rolling periods use Redis's clock; calendar periods (UTC hour, day, month) the caller's wall clock.

**While Redis does not answer** (down, full, paused, or this call timed out):

* ``mode="closed"`` refuses with :class:`~harness.errors.BudgetExceeded`.
* ``mode="local"`` spends from this process's *lease*: while Redis answers, each process holds
  ``lease_share`` of every hard limit (never more than that share of what is left) in Redis, renewed
  with its reservations. Without Redis a reservation is taken from the lease of every rule it matches,
  or refused; what it spends is written back to Redis (idempotently) as soon as Redis answers again.
  A lease counts as held for everyone else, so the fleet never spends more than the hard limit.

Settles and cancels that got no answer are replayed when Redis answers (a settle is idempotent by
reservation id); a reservation whose answer was lost is cancelled then, in case it was booked.

**After a restart that lost the data** (see :mod:`harness.client.redis_support`, epochs) each process
re-seeds, per account, the spend it last saw (the latest sighting of any process wins), its lease and
its open reservations; nothing new is held from the shared pool for ``recovery_s`` meanwhile.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import redis.asyncio as aioredis

from harness.client.budget import PERIODS, BudgetReservation, BudgetRule, period_bucket
from harness.client.budget_lease import Lease, Seen
from harness.client.budget_redis_lua import CHECK, RESEED_ACCOUNT, RESEED_HOLD, RESERVE, SETTLE, WRITE_BACK
from harness.client.cost import Attribution
from harness.client.events import EventSink, PolicyEvent, ignore_events
from harness.client.redis_support import RedisFallback, RedisLink, RedisUnavailable, text
from harness.clock import Clock
from harness.errors import BudgetExceeded

__all__ = ["RedisBudgetLedger"]

_UNIT = Decimal("1e-12")  # one stored unit, in USD
_Account = tuple[int, str]  # (rule index, entity)


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
        self._tag = f"{{{prefix}:{name}}}"
        self.link = RedisLink(
            redis, clock=clock, fallback=self.fallback, source=name, kind="budget", on_event=on_event,
            epoch_key=f"{self._tag}:epoch",
        )  # fmt: skip
        self._reserve, self._settle = self.link.script(RESERVE), self.link.script(SETTLE)
        self._write_back = self.link.script(WRITE_BACK)
        self._reseed_account, self._reseed_hold = self.link.script(RESEED_ACCOUNT), self.link.script(RESEED_HOLD)
        self._check = self.link.script(CHECK)
        self._watcher: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._leasing = self.fallback.mode == "local" and self.fallback.lease_share > 0
        self._lid = self.link.token if self._leasing else ""
        self._hard = tuple(None if r.hard_usd is None else _units(r.hard_usd, ROUND_FLOOR) for r in self.rules)
        self.leases: dict[_Account, Lease] = {}  # this process's leases (local mode)
        self._seen: dict[_Account, Seen] = {}  # per account: the latest spend Redis reported
        self._open: dict[str, tuple[int, tuple[_Account, ...]]] = {}  # Redis holds of this process: units, charges
        #: settles / cancels to replay (actual units, None: cancel), and cancels of reservations whose answer was lost
        self._unsettled: dict[str, tuple[int | None, tuple[_Account, ...]]] = {}
        self._local_held: dict[str, tuple[int, tuple[_Account, ...]]] = {}  # reservations held on leases
        self._lock = asyncio.Lock()
        self._flushing = False
        self.served_locally = 0  # reservations taken from leases while Redis did not answer
        self.refused_locally = 0  # reservations refused while Redis did not answer

    # -- keys ----------------------------------------------------------------------------------------
    def _account_keys(self, account: _Account) -> tuple[list[str], str, float, int]:
        """[out, spend, roll, floor, leases, lexp], mode, period seconds (rolling) and key ttl."""
        i, entity = account
        rule = self.rules[i]
        base = f"{self._tag}:{i}:{entity}"
        rolling = rule.mode == "rolling" and rule.period != "total"
        spend = f"{base}:rolltot" if rolling else f"{base}:cal:{period_bucket(rule.period, self._wall())}"
        period = PERIODS[rule.period]
        ttl = int(min(period, 40 * 86400)) + 3600 if math.isfinite(period) else 400 * 86400
        keys = [f"{base}:out", spend, f"{base}:roll", f"{spend}:floor", f"{base}:leases", f"{base}:lexp"]
        return keys, "r" if rolling else "c", period if rolling else 0.0, ttl

    async def _call(self, script: Any, keys: list[str], args: Sequence[object]) -> Any:
        """Run an epoch-checked script; re-seed and run it again when Redis lost the state meanwhile."""
        return await self.link.run_checked(script, [self.link.epoch_key, *keys], args, self._reseed, self.name)

    # -- the Budgets API -------------------------------------------------------------------------------
    async def reserve_async(self, amount: Decimal, attribution: Attribution) -> BudgetReservation:
        units = _units(amount, ROUND_CEILING)
        charges = tuple((i, e) for i, r in enumerate(self.rules) if (e := r.entity_for(attribution)) is not None)
        rid = f"{self.link.token}:{next(self._ids)}"
        sent = self._clock()
        keys, args = [f"{self._tag}:reservations"], [units, rid, self.fallback.lease_share, self.fallback.lease_s]
        args.append(self._lid)
        wants: list[int] = []
        for account in charges:
            ks, mode, period, ttl = self._account_keys(account)
            hard = self._hard[account[0]]
            lease = self.leases.get(account)
            want = -1
            if self._leasing and hard is not None:
                target = math.floor(hard * self.fallback.lease_share)
                if lease is None or lease.version < 0 or lease.amount < target / 2 or sent >= lease.renew_at:
                    want = target
            wants.append(want)
            keys += ks
            args += [-1 if hard is None else hard, mode, repr(period), ttl, want, 0 if lease is None else lease.locked]
        try:
            reply = await self._call(self._reserve, keys, args)
        except RedisUnavailable as exc:
            if exc.ambiguous:  # it may have been booked: cancel it once Redis answers
                self._unsettled[rid] = (None, charges)
            return self._reserve_locally(amount, units, attribution, charges, exc.reason)
        code = int(reply[0])
        if code == -2:
            return self._reserve_locally(amount, units, attribution, charges, "recovering after a restart")
        if code == 0:
            i, entity = charges[int(reply[2]) - 1]
            rule = self.rules[i]
            used = Decimal(int(reply[3])) * _UNIT
            data = {"rule": rule.name, "entity": entity, "limit_usd": str(rule.hard_usd), "spent_usd": str(used)}
            self._on_event(PolicyEvent("budget.hard_limit", f"{rule.name}={entity}", self._clock(), data))
            raise BudgetExceeded(f"{rule.name}={entity}", rule.hard_usd, used, amount)
        at = float(reply[2])
        self._open[rid] = (units, charges)
        for j, account in enumerate(charges):
            used_raw, spent_raw, lease_amount, version, state = reply[3 + 5 * j : 8 + 5 * j]
            self._saw(account, at, int(spent_raw))
            state_s = text(state)
            if state_s != "-":
                lease = self.leases.setdefault(account, Lease())
                renewed = wants[j] >= 0 and state_s == "A"
                lease.update(int(lease_amount), int(version), state_s, sent=sent, lease_s=self.fallback.lease_s,
                             renewed=renewed)  # fmt: skip
            self._check_soft(account, Decimal(int(used_raw)) * _UNIT, amount)
        self._watch()
        if self._unsettled or self._dirty():
            await self._flush()
        return BudgetReservation(rid, amount, attribution, charges, "redis")

    async def settle_async(self, reservation: BudgetReservation, actual: Decimal) -> None:
        await self._finish(reservation, actual)

    async def cancel_async(self, reservation: BudgetReservation) -> None:
        await self._finish(reservation, None)

    async def _finish(self, reservation: BudgetReservation, actual: Decimal | None) -> None:
        if actual is not None and actual > reservation.amount:
            data = {"reserved_usd": str(reservation.amount), "actual_usd": str(actual)}
            self._on_event(PolicyEvent("budget.overrun", reservation.id, self._clock(), data))
        actual_units = None if actual is None else _units(actual, ROUND_CEILING)
        if reservation.backend == "local":
            self._finish_locally(reservation.id, actual_units)
            if self._dirty() and not self.link.down:
                await self._flush()
            return
        held = self._open.get(reservation.id)
        charges = reservation.charges if held is None else held[1]
        try:
            await self._settle_in_redis(reservation.id, actual_units, charges)
        except RedisUnavailable:
            self._unsettled[reservation.id] = (actual_units, charges)  # the hold stays until then: conservative
            return
        if self._unsettled or self._dirty():
            await self._flush()

    async def _settle_in_redis(self, rid: str, actual: int | None, charges: tuple[_Account, ...]) -> None:
        keys, args = [f"{self._tag}:reservations"], [rid, "" if actual is None else actual]
        for account in charges:
            ks, mode, _period, ttl = self._account_keys(account)
            keys += ks[:3]
            args += [mode, ttl]
        reply = await self._call(self._settle, keys, args)
        self._open.pop(rid, None)
        self._unsettled.pop(rid, None)
        for j, account in enumerate(charges if int(reply[0]) == 1 else ()):
            spent = int(reply[3 + j])
            if spent >= 0:
                self._saw(account, float(reply[2]), spent)

    # -- without Redis ---------------------------------------------------------------------------------
    def _reserve_locally(
        self, amount: Decimal, units: int, attribution: Attribution, charges: tuple[_Account, ...], why: str
    ) -> BudgetReservation:
        if self.fallback.mode == "closed":
            self.refused_locally += 1
            raise BudgetExceeded(f"{self.name} (Redis: {why}; failing closed)", "?", "?", amount)
        now = self._clock()
        for i, entity in charges:
            if self._hard[i] is None:
                continue
            lease = self.leases.get((i, entity))
            left = 0 if lease is None else lease.available(now)
            if left < units:
                self.refused_locally += 1
                rule = self.rules[i]
                spent = "?" if lease is None else Decimal(lease.amount - left) * _UNIT
                raise BudgetExceeded(f"{rule.name}={entity} (Redis: {why}; this process's lease)",
                                     Decimal(0 if lease is None else lease.amount) * _UNIT, spent, amount)  # fmt: skip
        for account in charges:
            self.leases.setdefault(account, Lease()).held += units
        rid = f"{self.link.token}:local:{next(self._ids)}"
        self._local_held[rid] = (units, charges)
        self.served_locally += 1
        self._watch()
        return BudgetReservation(rid, amount, attribution, charges, "local")

    def _finish_locally(self, rid: str, actual: int | None) -> None:
        held = self._local_held.pop(rid, None)
        if held is None:
            return
        units, charges = held
        for account in charges:
            lease = self.leases[account]
            lease.held -= units
            if actual:
                lease.spent += actual

    def _holding(self) -> bool:
        """Does this process hold anything Redis would lose with a restart, or owe it a write-back?"""
        if self._open or self._unsettled or self._local_held:
            return True
        return any(lease.dirty or lease.amount > 0 for lease in self.leases.values())

    def _watch(self) -> None:
        """Make sure someone checks, while this process holds anything, that Redis still has it."""
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.get_running_loop().create_task(self._keep_watch())

    async def _keep_watch(self) -> None:
        """Every ``retry_interval_s`` while holding (a reservation, or a lease): a restart is noticed (and
        re-seeded) and what is owed is written back even if no request comes — a request can be in
        flight far longer than ``recovery_s``, and a lease must be in Redis before it is spent."""
        while self._holding():
            await asyncio.sleep(self.fallback.retry_interval_s)
            try:
                await self._call(self._check, [], [])
            except RedisUnavailable:
                continue
            if self._unsettled or self._dirty():
                await self._flush()

    def _dirty(self) -> bool:
        return any(lease.dirty for lease in self.leases.values())

    async def _flush(self) -> None:
        """Replay settles and cancels, and write back what leases spent (one flush at a time)."""
        if self._flushing:
            return
        self._flushing = True
        try:
            for rid, (actual, charges) in list(self._unsettled.items()):
                await self._settle_in_redis(rid, actual, charges)
            for account, lease in list(self.leases.items()):
                if lease.dirty:
                    await self._write_lease(account, lease, release=False)
        except RedisUnavailable:
            pass
        finally:
            self._flushing = False

    async def _write_lease(self, account: _Account, lease: Lease, *, release: bool) -> None:
        ks, mode, period, ttl = self._account_keys(account)
        cumulative = lease.spent
        args: list[object] = [self.link.token, cumulative, lease.applied, mode, repr(period), ttl, int(release)]
        reply = await self._call(self._write_back, [ks[0], ks[1], ks[2], ks[3], ks[4], ks[5]], args)
        lease.booked(cumulative, int(reply[3]), int(reply[4]), text(reply[5]))

    # -- after a restart -------------------------------------------------------------------------------
    async def _reseed(self, epoch: str, recover_until: float) -> None:
        """Redis lost the state (new ``epoch``): put back what this process knows, once."""
        async with self._lock:
            if self.link.epoch == epoch:
                return
            if not self.link.epoch:  # nothing known yet: nothing to put back
                self.link.epoch = epoch
                return
            if recover_until <= 0:  # created by a process that never saw the old state: hold the pool now
                await self.link.extend_recovery(self.fallback.recovery_s, epoch)
            args0 = self.link.epoch_args(epoch)
            accounts = set(self._seen) | set(self.leases)
            for account in accounts:
                ks, mode, period, ttl = self._account_keys(account)
                seen = self._seen.get(account)
                lease = self.leases.get(account)
                args: list[object] = [*args0, 0, ""] if seen is None or seen.spend_key != ks[1] else [
                    *args0, repr(seen.at), seen.spent]  # fmt: skip
                kept = lease is not None and lease.version >= 0 and not lease.written_off
                if lease is not None and kept:
                    args += [self.link.token, lease.amount, lease.applied, self.fallback.lease_s, ttl]
                else:
                    args += ["", 0, 0, self.fallback.lease_s, ttl]
                hard = self._hard[account[0]]
                args += [mode, repr(period), -1 if hard is None else hard]
                reply = await self.link.run(self._reseed_account, [self.link.epoch_key, *ks], args)
                await self._reseeded(reply)
                if lease is not None and kept:  # versions start again with the new state
                    lease.amount, lease.version = int(reply[2]), int(reply[3])
            for rid, (units, charges) in list(self._open.items()):
                keys, hold_args = [self.link.epoch_key, f"{self._tag}:reservations"], [*args0, rid, units]
                for account in charges:
                    ks, _mode, _period, ttl = self._account_keys(account)
                    keys.append(ks[0])
                    hold_args.append(ttl)
                await self._reseeded(await self.link.run(self._reseed_hold, keys, hold_args))
            self.link.epoch = epoch
            data = {"accounts": str(len(accounts)), "holds": str(len(self._open)), "epoch": epoch}
            self._on_event(PolicyEvent("budget.reseeded", self.name, self._clock(), data))

    async def _reseeded(self, reply: Any) -> None:
        if int(reply[0]) == -1:  # lost again meanwhile: start over with the newer epoch
            raise RedisUnavailable(self.name, "the state was lost again")

    # -- bookkeeping -----------------------------------------------------------------------------------
    def _saw(self, account: _Account, at: float, spent: int) -> None:
        seen = self._seen.get(account)
        if seen is None or at >= seen.at:
            ks = self._account_keys(account)[0]
            self._seen[account] = Seen(ks[1], at, spent)

    def _check_soft(self, account: _Account, used: Decimal, amount: Decimal) -> None:
        i, entity = account
        rule = self.rules[i]
        if rule.soft_usd is not None and used - amount < rule.soft_usd <= used:
            data = {"rule": rule.name, "entity": entity, "limit_usd": str(rule.soft_usd), "spent_usd": str(used)}
            self._on_event(PolicyEvent("budget.soft_limit", f"{rule.name}={entity}", self._clock(), data))

    async def aclose(self) -> None:
        """Write back what the leases spent and give them back (best effort: a lease not given back is
        written off after ``lease_s`` and counts as spent)."""
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
        await self._flush()
        for account, lease in list(self.leases.items()):
            if lease.version >= 0 and lease.held == 0:
                try:
                    await self._write_lease(account, lease, release=True)
                except RedisUnavailable:
                    return

    async def reset(self) -> None:
        """Forget the shared state and this process's view of it (tests and benchmarks)."""
        keys = [k async for k in self.link.redis.scan_iter(match=f"{self._tag}*")]
        if keys:
            await self.link.redis.delete(*keys)
        self.link.epoch = ""
        self.leases.clear()
        self._seen.clear()
        self._open.clear()
        self._unsettled.clear()
        self._local_held.clear()

    def __repr__(self) -> str:
        return f"RedisBudgetLedger({self.name!r}, {len(self.rules)} rules, redis {'down' if self.link.down else 'up'})"
