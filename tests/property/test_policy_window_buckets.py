"""Stateful: the limiter's and the budget's time buckets never forget early and never hold more than one
bucket (beyond the limiter's transit margin) too long, against an exact per-admission (per-spend) log kept alongside."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from harness.client.budget import ROLLING_BUCKETS, BudgetLedger, BudgetRule
from harness.client.cost import Attribution
from harness.client.limiter import Demand, LimitConfig, RateLimiter
from harness.clock import ManualClock
from harness.pricing import Usage

WINDOW, BUCKET, RPM, TPM = 10.0, 0.5, 8, 600
MARGIN = LimitConfig().transit_margin_s  # capacity comes back this long after the window, on purpose


class LimiterBuckets(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.limiter = RateLimiter(LimitConfig(rpm=RPM, tpm=TPM, window_s=WINDOW, bucket_s=BUCKET), clock=self.clock)
        self.log: dict[int, list[float]] = {}  # admission → [time, tokens as booked]
        self.open: list[tuple[int, Any, int, int, bool]] = []  # (admission, grant or reservation, i, o, fast)
        self.n = 0

    @rule(i=st.integers(0, 120), o=st.integers(0, 120), fast=st.booleans())
    def admit(self, i: int, o: int, fast: bool) -> None:
        if fast:
            grant: Any = self.limiter.grant_now(i, o)
        else:
            reservation = self.limiter.reserve(Demand(i, o))
            grant = reservation if reservation.granted else None
            if not reservation.granted:
                self.limiter.cancel_now(reservation)
        if grant is not None:
            self.n += 1
            self.log[self.n] = [self.clock(), float(i + o)]
            self.open.append((self.n, grant, i, o, fast))

    @precondition(lambda self: self.open)
    @rule(data=st.data(), used=st.floats(0, 1), cancel=st.booleans())
    def settle(self, data: st.DataObject, used: float, cancel: bool) -> None:
        n, grant, i, o, fast = self.open.pop(data.draw(st.integers(0, len(self.open) - 1)))
        if cancel:
            self.limiter.cancel_grant(grant, i, o) if fast else self.limiter.cancel_now(grant)
            del self.log[n]
            return
        out = int(o * used)
        if fast:
            self.limiter.settle_grant(grant, i, o, Usage(i, out))
        else:
            self.limiter.settle_now(grant, Usage(i, out))
        self.log[n][1] = float(i + out)

    @rule(dt=st.sampled_from([0.0, 0.01, 0.1, 0.3, 0.5, 1.0, 3.0, 9.9, 10.0]))
    def advance(self, dt: float) -> None:
        self.clock.advance(dt)

    def _exact(self, since: float) -> tuple[int, float]:
        now = self.clock()
        live = [tokens for t, tokens in self.log.values() if since < t <= now]
        return len(live), sum(live)

    @invariant()
    def held_between_the_exact_window_and_one_bucket_more(self) -> None:
        now = self.clock()
        requests, tokens, _, _ = self.limiter.in_window()
        low = self._exact(now - WINDOW)  # admissions of the last window: all counted
        # counted at most one bucket (and the transit margin) longer
        high = self._exact(now - WINDOW - MARGIN - BUCKET - 1e-9)
        assert low[0] <= requests <= high[0]
        assert low[1] - 1e-6 <= tokens <= high[1] + 1e-6
        assert requests <= RPM
        assert tokens <= TPM + 1e-6


class BudgetBuckets(RuleBasedStateMachine):
    PERIOD = 3600.0
    WIDTH = PERIOD / ROLLING_BUCKETS

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(1_000_000.0)
        rule_ = BudgetRule("global", "*", "hour", "rolling", hard_usd=Decimal(1000))
        self.ledger = BudgetLedger([rule_], clock=self.clock, wall=self.clock)
        self.spends: list[tuple[float, Decimal]] = []

    @rule(amount=st.decimals(min_value=0, max_value=5, places=3))
    def spend(self, amount: Decimal) -> None:
        self.ledger.settle(self.ledger.reserve(amount, Attribution("m")), amount)
        self.spends.append((self.clock(), amount))

    @rule(dt=st.sampled_from([0.0, 0.5, 1.0, WIDTH, 60.0, 1800.0, PERIOD - 1, PERIOD]))
    def advance(self, dt: float) -> None:
        self.clock.advance(dt)

    @invariant()
    def never_forgotten_early_nor_kept_a_bucket_too_long(self) -> None:
        now = self.clock()
        spent = self.ledger.spent(0, "global")
        exact = sum((a for t, a in self.spends if now - self.PERIOD < t), Decimal(0))
        loose = sum((a for t, a in self.spends if now - self.PERIOD - self.WIDTH < t), Decimal(0))
        assert exact <= spent <= loose


TestLimiterBuckets = LimiterBuckets.TestCase
TestBudgetBuckets = BudgetBuckets.TestCase
