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

Example::

    ledger = BudgetLedger([BudgetRule("user", "*", "day", soft_usd=Decimal("4"), hard_usd=Decimal("5"))],
                          clock=clock, wall=time.time, on_event=log)
    res = ledger.reserve(tracker.estimate("gpt-4o", 1200, 512), Attribution("gpt-4o", user="ana"))
    ...
    ledger.settle(res, tracker.record_for(res.attribution, usage))
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from harness.client.cost import ATTRIBUTION_DIMENSIONS, Attribution
from harness.client.events import EventSink, PolicyEvent, ignore_events
from harness.clock import Clock
from harness.errors import BudgetExceeded, ConfigError
from harness.pricing import parse_decimal
from harness.validate import Table

__all__ = ["PERIODS", "BudgetLedger", "BudgetReservation", "BudgetRule", "Budgets", "period_bucket"]

#: period name -> rolling length in seconds (``total`` never rolls)
PERIODS = {"hour": 3600.0, "day": 86400.0, "month": 30 * 86400.0, "total": float("inf")}
SCOPES = ("global", *ATTRIBUTION_DIMENSIONS)


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


@runtime_checkable
class Budgets(Protocol):
    """What the client needs from a budget ledger; :class:`BudgetLedger` and ``RedisBudgetLedger`` both are one."""

    async def reserve_async(self, amount: Decimal, attribution: Attribution) -> BudgetReservation: ...

    async def settle_async(self, reservation: BudgetReservation, actual: Decimal) -> None: ...

    async def cancel_async(self, reservation: BudgetReservation) -> None: ...


@dataclass(slots=True)
class _Account:
    """Spend and outstanding reservations of one (rule, entity)."""

    outstanding: Decimal = Decimal(0)  # reserved, not yet settled
    spends: deque[tuple[float, Decimal]] = field(default_factory=deque)  # rolling: (time, amount)
    rolling_total: Decimal = Decimal(0)  # rolling: sum of spends
    bucket: int = -1  # calendar: the current bucket
    bucket_total: Decimal = Decimal(0)  # calendar: spend in the current bucket
    warned: bool = False  # soft limit already reported for the current period


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
        self._open: dict[str, BudgetReservation] = {}  # outstanding reservations by id
        self._ids = itertools.count(1)

    def spent(self, rule: int, entity: str) -> Decimal:
        """Settled spend of ``entity`` under rule number ``rule`` in its current period."""
        account = self._accounts.get((rule, entity))
        return Decimal(0) if account is None else self._spent(rule, account)

    def outstanding(self, rule: int, entity: str) -> Decimal:
        account = self._accounts.get((rule, entity))
        return Decimal(0) if account is None else account.outstanding

    def reserve(self, amount: Decimal, attribution: Attribution) -> BudgetReservation:
        """Hold ``amount`` against every matching budget, or raise BudgetExceeded and hold nothing."""
        if not amount.is_finite() or amount < 0:
            raise ConfigError("budget.amount", f"expected a non-negative amount, got {amount!r}")
        charges = []
        for i, rule in enumerate(self.rules):
            entity = rule.entity_for(attribution)
            if entity is None:
                continue
            account = self._account(i, entity)
            used = self._spent(i, account) + account.outstanding
            if rule.hard_usd is not None and used + amount > rule.hard_usd:
                self._emit("budget.hard_limit", rule, entity, rule.hard_usd, used, requested_usd=str(amount))
                raise BudgetExceeded(f"{rule.name}={entity}", rule.hard_usd, used, amount)
            charges.append((i, entity))
        for i, entity in charges:
            account = self._accounts[(i, entity)]
            account.outstanding += amount
            self._check_soft(i, entity, account)
        reservation = BudgetReservation(f"b{next(self._ids)}", amount, attribution, tuple(charges))
        self._open[reservation.id] = reservation
        return reservation

    def settle(self, reservation: BudgetReservation, actual: Decimal) -> None:
        """Replace the reservation by the actual cost (charged at the current time and period)."""
        if self._open.pop(reservation.id, None) is None:
            return  # settled or cancelled already
        now = self._clock()
        if actual > reservation.amount:
            self._on_event(
                PolicyEvent(
                    "budget.overrun", reservation.id, now,
                    {"reserved_usd": str(reservation.amount), "actual_usd": str(actual)},
                )
            )  # fmt: skip
        for i, entity in reservation.charges:
            account = self._account(i, entity)
            account.outstanding -= reservation.amount
            if self.rules[i].mode == "rolling":
                account.spends.append((now, actual))
                account.rolling_total += actual
            else:
                account.bucket_total += actual
            self._check_soft(i, entity, account)

    def cancel(self, reservation: BudgetReservation) -> None:
        """Drop a reservation whose request cost nothing (never sent, or not billed)."""
        if self._open.pop(reservation.id, None) is None:
            return
        for i, entity in reservation.charges:
            self._account(i, entity).outstanding -= reservation.amount

    async def reserve_async(self, amount: Decimal, attribution: Attribution) -> BudgetReservation:
        return self.reserve(amount, attribution)

    async def settle_async(self, reservation: BudgetReservation, actual: Decimal) -> None:
        self.settle(reservation, actual)

    async def cancel_async(self, reservation: BudgetReservation) -> None:
        self.cancel(reservation)

    # -- internals -------------------------------------------------------------------------------
    def _account(self, rule: int, entity: str) -> _Account:
        account = self._accounts.get((rule, entity))
        if account is None:
            account = self._accounts[(rule, entity)] = _Account()
        return account

    def _spent(self, i: int, account: _Account) -> Decimal:
        rule = self.rules[i]
        if rule.mode == "calendar" or rule.period == "total":
            bucket = period_bucket(rule.period, self._wall())
            if bucket != account.bucket:
                account.bucket, account.bucket_total, account.warned = bucket, Decimal(0), False
            return account.bucket_total
        horizon = self._clock() - PERIODS[rule.period]
        while account.spends and account.spends[0][0] <= horizon:
            account.rolling_total -= account.spends.popleft()[1]
        return account.rolling_total

    def _check_soft(self, i: int, entity: str, account: _Account) -> None:
        rule = self.rules[i]
        if rule.soft_usd is None:
            return
        used = self._spent(i, account) + account.outstanding
        if used >= rule.soft_usd and not account.warned:
            account.warned = True
            self._emit("budget.soft_limit", rule, entity, rule.soft_usd, used)
        elif used < rule.soft_usd and rule.mode == "rolling":
            account.warned = False  # re-arm once the rolling spend has dropped back

    def _emit(self, kind: str, rule: BudgetRule, entity: str, limit: Decimal, used: Decimal, **extra: str) -> None:
        data = {"rule": rule.name, "entity": entity, "limit_usd": str(limit), "spent_usd": str(used), **extra}
        self._on_event(PolicyEvent(kind, f"{rule.name}={entity}", self._clock(), data))

    def __repr__(self) -> str:
        return f"BudgetLedger({len(self.rules)} rules, {len(self._open)} open reservations)"
