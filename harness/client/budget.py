"""Cost budgets per entity and period, with a soft limit that warns and a hard limit that refuses.

A :class:`BudgetRule` names a scope (``global``, or an attribution dimension: ``user``, ``feature``,
``model``, ``key``), an entity (one value, or ``"*"`` for each value separately), a period (``hour``,
``day``, ``month`` or ``total``) counted ``rolling`` (the last 3600 s / 86400 s / 30 days) or
``calendar`` (the current UTC hour, day or month, from an injected wall clock), and its limits.

**No interleaving can overspend.** Before sending, the client reserves the request's maximum cost
(:func:`harness.client.cost.estimate_max_cost`); a reservation is refused with
:class:`~harness.errors.BudgetExceeded` if, for any matching rule, ``spent in the period + outstanding
reservations + this one`` would pass the hard limit. ``settle`` replaces the reservation by the actual
cost, ``cancel`` drops it. Outstanding reservations count against every period (also one that began
after they were made), so spend + outstanding ≤ hard holds at all times, and settled spend stays under
the hard limit whenever actual ≤ reserved (an actual above its reservation is charged and reported as a
``budget.overrun`` event).

**Rolling periods are counted in buckets** (:data:`ROLLING_BUCKETS` per period: 3.5 s for an hour,
84 s for a day): spends settled in the same bucket are summed, and the sum leaves the period when
the *last* of them does. A spend is therefore never forgotten early (no overspend is possible) and is
kept at most one bucket longer than exact; the ledger holds at most ~1,000 entries per account
instead of one per request (a day-long rolling budget at 10,000 requests/s would otherwise keep
864 million). Calendar periods and ``total`` keep one running sum.

Example::

    ledger = BudgetLedger([BudgetRule("user", "*", "day", soft_usd=Decimal("4"), hard_usd=Decimal("5"))],
                          clock=clock, wall=time.time, on_event=log)
    res = ledger.reserve(tracker.estimate("gpt-4o", 1200, 512), Attribution("gpt-4o", user="ana"))
    ...
    ledger.settle(res, tracker.record_for(res.attribution, usage))
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NoReturn, Protocol, runtime_checkable

from harness.client.cost import ATTRIBUTION_DIMENSIONS, Attribution
from harness.client.events import EventSink, PolicyEvent, ignore_events
from harness.client.fastinit import positional_maker
from harness.clock import Clock
from harness.errors import BudgetExceeded, ConfigError
from harness.pricing import parse_decimal
from harness.validate import Table

__all__ = ["PERIODS", "ROLLING_BUCKETS", "BudgetLedger", "BudgetReservation", "BudgetRule", "Budgets", "period_bucket"]

#: period name -> rolling length in seconds (``total`` never rolls)
PERIODS = {"hour": 3600.0, "day": 86400.0, "month": 30 * 86400.0, "total": float("inf")}
SCOPES = ("global", *ATTRIBUTION_DIMENSIONS)
#: a rolling period is counted in this many buckets (see the module docstring)
ROLLING_BUCKETS = 1024
_ZERO = Decimal(0)
_TOTAL, _CALENDAR, _ROLLING = 0, 1, 2  # how a rule counts its period


def period_bucket(period: str, wall_s: float) -> int:
    """The calendar bucket (UTC) that ``wall_s`` falls in: hour / day number since the epoch, or year·12+month."""
    if period == "hour":
        return int(wall_s // 3600)
    if period == "day":
        return int(wall_s // 86400)
    if period == "month":
        t = datetime.fromtimestamp(wall_s, UTC)
        return t.year * 12 + t.month - 1
    return 0


@dataclass(frozen=True, slots=True)
class BudgetRule:
    """One budget: scope, entity, period, and soft / hard limits in USD.

    Example (TOML ``[[client.budgets]]``)::

        scope = "user"       # global, user, feature, model or key
        entity = "*"         # each user separately; or one name
        period = "day"       # hour, day, month or total
        mode = "calendar"    # or "rolling"
        soft_usd = "4.00"
        hard_usd = "5.00"
    """

    scope: str = "global"  # global, user, feature, model, key
    entity: str = "*"  # a value of the scope, or "*" for each value separately
    period: str = "day"  # hour, day, month, total
    mode: str = "rolling"  # rolling or calendar (UTC)
    soft_usd: Decimal | None = None  # crossing it emits budget.soft_limit
    hard_usd: Decimal | None = None  # reservations that would pass it are refused

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ConfigError("budget.scope", f"expected one of {SCOPES}, got {self.scope!r}")
        if self.period not in PERIODS:
            raise ConfigError("budget.period", f"expected one of {tuple(PERIODS)}, got {self.period!r}")
        if self.mode not in ("rolling", "calendar"):
            raise ConfigError("budget.mode", f'expected "rolling" or "calendar", got {self.mode!r}')
        for name in ("soft_usd", "hard_usd"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, Decimal) or not value.is_finite() or value < 0):
                raise ConfigError(f"budget.{name}", f"expected a non-negative Decimal, got {value!r}")
        if self.soft_usd is None and self.hard_usd is None:
            raise ConfigError("budget", "a budget needs soft_usd, hard_usd or both")

    @property
    def name(self) -> str:
        return f"{self.scope}:{self.entity}/{self.period}/{self.mode}"

    def entity_for(self, attribution: Attribution) -> str | None:
        """The entity this rule charges for a request, or None when the rule does not apply."""
        if self.scope == "global":
            return "global"
        value = attribution.get(self.scope)
        if value is None or (self.entity != "*" and value != self.entity):
            return None
        return value

    @classmethod
    def parse(cls, data: object, path: str = "budget") -> BudgetRule:
        t = Table(data, path)
        soft, hard = t.raw("soft_usd", default=None), t.raw("hard_usd", default=None)
        try:
            rule = cls(
                scope=t.choice("scope", SCOPES, default="global"),
                entity=t.str("entity", default="*"),
                period=t.choice("period", tuple(PERIODS), default="day"),
                mode=t.choice("mode", ("rolling", "calendar"), default="rolling"),
                soft_usd=None if soft is None else parse_decimal(soft, t.field("soft_usd")),
                hard_usd=None if hard is None else parse_decimal(hard, t.field("hard_usd")),
            )
        except ConfigError as exc:
            raise ConfigError(path if exc.field == "budget" else exc.field, str(exc).split(": ", 1)[-1]) from None
        t.done()
        return rule


@dataclass(frozen=True, slots=True)
class BudgetReservation:
    """An amount held against every matching budget until settled or cancelled."""

    id: str  # unique per ledger
    amount: Decimal  # the reserved (maximum) cost
    attribution: Attribution  # whose budgets it is held against
    charges: tuple[tuple[int, str], ...]  # (rule index, entity) pairs it is held against
    backend: str = "memory"  # "memory", "redis" or "local" (a Redis ledger's fallback)


_make_reservation = positional_maker(BudgetReservation)


@runtime_checkable
class Budgets(Protocol):
    """What the client needs from a budget ledger; :class:`BudgetLedger` and ``RedisBudgetLedger`` both are one."""

    async def reserve_async(self, amount: Decimal, attribution: Attribution) -> BudgetReservation: ...

    async def settle_async(self, reservation: BudgetReservation, actual: Decimal) -> None: ...

    async def cancel_async(self, reservation: BudgetReservation) -> None: ...


@dataclass(slots=True)
class _Account:
    """Spend and outstanding reservations of one (rule, entity)."""

    outstanding: Decimal = _ZERO  # reserved, not yet settled
    #: rolling: [bucket number, time of its last spend, sum of its spends], oldest first
    spends: deque[list[Any]] = field(default_factory=deque)
    rolling_total: Decimal = _ZERO  # rolling: sum of spends
    bucket: int = -1  # calendar: the current bucket
    bucket_total: Decimal = _ZERO  # calendar and total: spend in the current bucket
    warned: bool = False  # soft limit already reported for the current period


#: the accounts a request is charged to: (rule index, entity, account) per matching rule
_Matches = tuple[tuple[int, str, _Account], ...]


class BudgetLedger:
    """In-memory budgets (see the module docstring); sync core plus the async :class:`Budgets` API."""

    def __init__(
        self, rules: Sequence[BudgetRule], *, clock: Clock, wall: Clock, on_event: EventSink = ignore_events
    ) -> None:
        self.rules = tuple(rules)  # the budgets, in the order given
        self._clock = clock  # rolling periods
        self._wall = wall  # calendar periods (UTC seconds)
        self._on_event = on_event
        self._accounts: dict[tuple[int, str], _Account] = {}
        #: outstanding reservations by id, with the accounts they are held against
        self._open: dict[str, _Matches] = {}
        self._ids = itertools.count(1)
        #: per rule: how it counts (_TOTAL, _CALENDAR, _ROLLING), its length and its bucket length
        self._kinds = tuple(
            (_TOTAL, math.inf, math.inf) if r.period == "total"
            else (_CALENDAR, PERIODS[r.period], math.inf) if r.mode == "calendar"
            else (_ROLLING, PERIODS[r.period], PERIODS[r.period] / ROLLING_BUCKETS)
            for r in self.rules
        )  # fmt: skip
        self._limits = tuple((r.hard_usd, r.soft_usd) for r in self.rules)  # per rule: (hard, soft)
        self._rolling = any(kind == _ROLLING for kind, _, _ in self._kinds)  # any rule needs the clock
        self._matches: dict[Attribution, tuple[_Matches, tuple[tuple[int, str], ...]]] = {}  # memo
        self._last_attribution: Attribution | None = None  # the latest attribution and its matches
        self._last_found: tuple[_Matches, tuple[tuple[int, str], ...]] = ((), ())

    def spent(self, rule: int, entity: str) -> Decimal:
        """Settled spend of ``entity`` under rule number ``rule`` in its current period."""
        account = self._accounts.get((rule, entity))
        return _ZERO if account is None else self._spent(rule, account)

    def outstanding(self, rule: int, entity: str) -> Decimal:
        account = self._accounts.get((rule, entity))
        return _ZERO if account is None else account.outstanding

    def reserve(self, amount: Decimal, attribution: Attribution) -> BudgetReservation:
        """Hold ``amount`` against every matching budget, or raise BudgetExceeded and hold nothing."""
        if not amount.is_finite() or amount < 0:
            raise ConfigError("budget.amount", f"expected a non-negative amount, got {amount!r}")
        if attribution is self._last_attribution:  # the same attribution again (the caller memoises them)
            matches, charges = self._last_found
        else:
            found = self._matches.get(attribution)
            if found is None:
                found = self._match(attribution)
            self._last_attribution, self._last_found = attribution, found
            matches, charges = found
        now = self._clock() if self._rolling else 0.0  # read once (rolling periods only)
        if len(matches) == 1:  # the common case, without the lists
            i, entity, account = matches[0]
            spent = self._spent(i, account, now)
            hard, soft = self._limits[i]
            if hard is not None and spent + account.outstanding + amount > hard:
                self._refuse(i, entity, spent + account.outstanding, amount)
            account.outstanding += amount
            if soft is not None:
                self._check_soft(i, entity, account, spent)
        else:
            spent_all = [self._spent(i, account, now) for i, _, account in matches]
            for (i, entity, account), spent in zip(matches, spent_all, strict=True):
                hard = self._limits[i][0]
                if hard is not None and spent + account.outstanding + amount > hard:
                    self._refuse(i, entity, spent + account.outstanding, amount)
            for (i, entity, account), spent in zip(matches, spent_all, strict=True):
                account.outstanding += amount
                if self._limits[i][1] is not None:
                    self._check_soft(i, entity, account, spent)
        reservation = _make_reservation(f"b{next(self._ids)}", amount, attribution, charges, "memory")
        self._open[reservation.id] = matches
        return reservation

    def settle(self, reservation: BudgetReservation, actual: Decimal) -> None:
        """Replace the reservation by the actual cost (charged at the current time and period)."""
        matches = self._open.pop(reservation.id, None)
        if matches is None:
            return  # settled or cancelled already
        amount = reservation.amount
        if actual > amount:
            data = {"reserved_usd": str(amount), "actual_usd": str(actual)}
            self._on_event(PolicyEvent("budget.overrun", reservation.id, self._clock(), data))
        now = self._clock() if self._rolling else 0.0
        for i, entity, account in matches:
            account.outstanding -= amount
            spent = self._spent(i, account, now)  # first: the spend belongs to the current period
            kind, _, width = self._kinds[i]
            if kind == _ROLLING:
                spends = account.spends
                bucket = now // width
                if spends and spends[-1][0] == bucket:
                    last = spends[-1]
                    last[1] = now
                    last[2] += actual
                else:
                    spends.append([bucket, now, actual])
                account.rolling_total += actual
            else:
                account.bucket_total += actual
            if self._limits[i][1] is not None:
                self._check_soft(i, entity, account, spent + actual)

    def cancel(self, reservation: BudgetReservation) -> None:
        """Drop a reservation whose request cost nothing (never sent, or not billed)."""
        matches = self._open.pop(reservation.id, None)
        if matches is None:
            return
        for _, _, account in matches:
            account.outstanding -= reservation.amount

    async def reserve_async(self, amount: Decimal, attribution: Attribution) -> BudgetReservation:
        return self.reserve(amount, attribution)

    async def settle_async(self, reservation: BudgetReservation, actual: Decimal) -> None:
        self.settle(reservation, actual)

    async def cancel_async(self, reservation: BudgetReservation) -> None:
        self.cancel(reservation)

    # -- internals -------------------------------------------------------------------------------
    def _match(self, attribution: Attribution) -> tuple[_Matches, tuple[tuple[int, str], ...]]:
        """The accounts ``attribution`` is charged to (memoised: attributions repeat)."""
        matches = []
        for i, rule in enumerate(self.rules):
            entity = rule.entity_for(attribution)
            if entity is not None:
                matches.append((i, entity, self._account(i, entity)))
        found = (tuple(matches), tuple((i, entity) for i, entity, _ in matches))
        if len(self._matches) > 65_536:
            self._matches.clear()
        self._matches[attribution] = found
        return found

    def _account(self, rule: int, entity: str) -> _Account:
        account = self._accounts.get((rule, entity))
        if account is None:
            account = self._accounts[(rule, entity)] = _Account()
        return account

    def _refuse(self, i: int, entity: str, used: Decimal, amount: Decimal) -> NoReturn:
        rule = self.rules[i]
        assert rule.hard_usd is not None
        self._emit("budget.hard_limit", rule, entity, rule.hard_usd, used, requested_usd=str(amount))
        raise BudgetExceeded(f"{rule.name}={entity}", rule.hard_usd, used, amount)

    def _spent(self, i: int, account: _Account, now: float | None = None) -> Decimal:
        """Settled spend in the current period (``now``: the clock, when the caller has read it)."""
        kind, period, _ = self._kinds[i]
        if kind == _ROLLING:
            spends = account.spends
            if spends:
                horizon = (self._clock() if now is None else now) - period
                if spends[0][1] <= horizon:
                    while spends and spends[0][1] <= horizon:
                        account.rolling_total -= spends.popleft()[2]
                    if not spends:
                        account.rolling_total = _ZERO
            return account.rolling_total
        if kind == _CALENDAR:
            bucket = period_bucket(self.rules[i].period, self._wall())
            if bucket != account.bucket:
                account.bucket, account.bucket_total, account.warned = bucket, _ZERO, False
        return account.bucket_total

    def _check_soft(self, i: int, entity: str, account: _Account, spent: Decimal) -> None:
        soft = self._limits[i][1]
        if soft is None:
            return
        used = spent + account.outstanding
        if used >= soft:
            if not account.warned:
                account.warned = True
                self._emit("budget.soft_limit", self.rules[i], entity, soft, used)
        elif account.warned and self.rules[i].mode == "rolling":
            account.warned = False  # re-arm once the rolling spend has dropped back

    def _emit(self, kind: str, rule: BudgetRule, entity: str, limit: Decimal, used: Decimal, **extra: str) -> None:
        data = {"rule": rule.name, "entity": entity, "limit_usd": str(limit), "spent_usd": str(used), **extra}
        self._on_event(PolicyEvent(kind, f"{rule.name}={entity}", self._clock(), data))

    def __repr__(self) -> str:
        return f"BudgetLedger({len(self.rules)} rules, {len(self._open)} open reservations)"
