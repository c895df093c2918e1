"""The circuit breaker, the cost tracker and the budget ledger."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from harness.client.backoff import fixed
from harness.client.breaker import BreakerConfig, CircuitBreaker, outcome_kind
from harness.client.budget import BudgetLedger, BudgetRule
from harness.client.cost import Attribution, CostTracker, estimate_max_cost, key_label
from harness.client.events import EventLog
from harness.clock import ManualClock
from harness.errors import BudgetExceeded, CircuitOpen, ConfigError, RateLimited, ServerError
from harness.pricing import PriceTable, Usage


def _fail(b: CircuitBreaker, kind: str = "server_error", **kw: float) -> None:
    b.record(b.allow(), kind, **kw)


def test_trips_on_consecutive_failures_then_probes_and_closes() -> None:
    clock, log = ManualClock(), EventLog()
    b = CircuitBreaker(BreakerConfig(consecutive_failures=3, open_backoff=fixed(5), half_open_probes=2),
                       clock=clock, on_event=log)  # fmt: skip
    for _ in range(3):
        _fail(b)
    assert b.state == "open"
    with pytest.raises(CircuitOpen) as info:
        b.allow()
    assert info.value.retry_at == 5
    clock.advance(5)
    p1, p2 = b.allow(), b.allow()
    assert p1.probe
    assert p2.probe
    with pytest.raises(CircuitOpen):
        b.allow()  # only two probes in flight
    b.record(p1, "success")
    b.record(p2, "success")
    assert b.state == "closed"
    assert [e.data["to"] for e in log.of_kind("breaker.state")] == ["open", "half_open", "closed"]


def test_failed_probe_reopens_with_a_growing_period() -> None:
    clock = ManualClock()
    b = CircuitBreaker(BreakerConfig(consecutive_failures=1), clock=clock)
    _fail(b)
    first = b.open_until
    clock.set(first)
    _fail(b)
    assert b.state == "open"
    assert b.trips == 2
    assert 5 / 2 <= first <= 5
    assert 10 / 2 <= b.open_until - first <= 10


def test_open_period_follows_the_retry_hint() -> None:
    clock = ManualClock()
    cfg = BreakerConfig(consecutive_failures=1, counts=frozenset({"rate_limited"}), max_open_s=60)
    b = CircuitBreaker(cfg, clock=clock)
    _fail(b, "server_error")  # not counted here
    assert b.state == "closed"
    _fail(b, "rate_limited", retry_after_s=42)
    assert b.open_until == 42


def test_no_open_period_exceeds_max_open_s() -> None:
    """The default schedule grows 2.5–5, 5–10, 10–20, then 15–30 s; hints and other schedules are capped."""
    clock = ManualClock()
    b = CircuitBreaker(BreakerConfig(consecutive_failures=1), clock=clock, rng=random.Random(3))
    periods = []
    for _ in range(12):
        _fail(b, "server_error")
        assert b.state == "open"
        periods.append(b.open_until - clock.now)
        clock.now = b.open_until  # half-open: the probe fails again
    assert 2.5 <= periods[0] <= 5
    assert 5 <= periods[1] <= 10
    assert 10 <= periods[2] <= 20
    assert all(15 <= p <= 30 for p in periods[3:]), periods
    assert len({round(p, 6) for p in periods[3:]}) > 1  # still jittered at the cap
    hinted = CircuitBreaker(BreakerConfig(consecutive_failures=1), clock=clock)
    _fail(hinted, "server_error", retry_after_s=120)
    assert hinted.open_until - clock.now == 30
    long = CircuitBreaker(BreakerConfig(consecutive_failures=1, open_backoff=fixed(90), max_open_s=20), clock=clock)
    _fail(long, "server_error")
    assert long.open_until - clock.now == 20


def test_failure_rate_and_slow_calls_over_windows() -> None:
    clock = ManualClock()
    cfg = BreakerConfig(consecutive_failures=None, failure_rate=0.5, minimum_calls=10, window_size=10)
    b = CircuitBreaker(cfg, clock=clock)
    for i in range(9):
        _fail(b, "success" if i % 2 else "timeout")
    assert b.state == "closed"  # under minimum_calls
    _fail(b, "timeout")
    assert b.state == "open"
    slow = CircuitBreaker(
        BreakerConfig(consecutive_failures=None, failure_rate=None, slow_call_rate=0.5, slow_call_s=2,
                      window="time", window_s=10, minimum_calls=4), clock=clock)  # fmt: skip
    for _ in range(4):
        slow.record(slow.allow(), "success", duration_s=3)
    assert slow.state == "open"


def test_stale_outcomes_and_released_probes() -> None:
    clock = ManualClock()
    b = CircuitBreaker(BreakerConfig(consecutive_failures=2, open_backoff=fixed(1)), clock=clock)
    early = b.allow()
    _fail(b)
    _fail(b)
    b.record(early, "server_error")  # from before the trip: ignored
    assert b.trips == 1
    clock.advance(1)
    probe = b.allow()
    b.release(probe)
    assert b.probes_in_flight() == 0
    assert b.allow().probe


def test_outcome_kinds_and_config_errors() -> None:
    assert outcome_kind(None) == "success"
    assert outcome_kind(RateLimited("x", status=429)) == "rate_limited"
    assert outcome_kind(ServerError("x", status=503)) == "server_error"
    with pytest.raises(ConfigError, match=r"breaker\.counts"):
        BreakerConfig.parse({"counts": ["server_eror"]})
    with pytest.raises(ConfigError, match=r"breaker\.failure_rate"):
        BreakerConfig(failure_rate=2)


def test_cost_tracker_attributes_exact_decimals() -> None:
    tracker = CostTracker(PriceTable.default())
    cost = tracker.record("gpt-4o-mini", Usage(input_tokens=1000, output_tokens=200), user="ana", feature="search",
                          key=key_label("sk-secret"))  # fmt: skip
    assert cost == Decimal("0.00027")
    tracker.record("gpt-4o", Usage(input_tokens=1000, cached_input_tokens=1000, output_tokens=10), user="bo")
    assert tracker.totals("user") == {"ana": Decimal("0.00027"), "bo": Decimal("0.00135")}
    assert tracker.total == Decimal("0.00162")
    assert "sk-secret" not in repr(tracker.to_dict())
    # the estimate assumes every prompt token is a 1-hour cache write (the dearest input)
    assert estimate_max_cost(PriceTable.default(), "claude-sonnet-4-20250514", 1000, 100) == Decimal("0.0075")


def test_budget_soft_event_hard_refusal_and_settle() -> None:
    clock, log = ManualClock(), EventLog()
    rule = BudgetRule("user", "*", "hour", soft_usd=Decimal("0.5"), hard_usd=Decimal("1"))
    ledger = BudgetLedger([rule], clock=clock, wall=clock, on_event=log)
    ana = Attribution("gpt-4o", user="ana")
    r1 = ledger.reserve(Decimal("0.6"), ana)
    assert log.of_kind("budget.soft_limit")
    with pytest.raises(BudgetExceeded):
        ledger.reserve(Decimal("0.5"), ana)
    ledger.reserve(Decimal("0.5"), Attribution("gpt-4o", user="bo"))  # other users have their own budget
    ledger.settle(r1, Decimal("0.1"))
    assert ledger.spent(0, "ana") == Decimal("0.1")
    r2 = ledger.reserve(Decimal("0.9"), ana)
    ledger.cancel(r2)
    clock.advance(3600)  # rolling hour: the spend has left the window
    assert ledger.spent(0, "ana") == 0


def test_calendar_budget_resets_at_the_utc_boundary() -> None:
    clock = ManualClock(86400 * 100 + 3599)
    ledger = BudgetLedger([BudgetRule(period="hour", mode="calendar", hard_usd=Decimal(1))], clock=clock, wall=clock)
    ledger.settle(ledger.reserve(Decimal(1), Attribution("m")), Decimal(1))
    with pytest.raises(BudgetExceeded):
        ledger.reserve(Decimal("0.01"), Attribution("m"))
    clock.advance(1)
    ledger.reserve(Decimal("0.01"), Attribution("m"))


def test_budget_rule_parse_names_fields() -> None:
    rule = BudgetRule.parse({"scope": "feature", "entity": "chat", "period": "month", "hard_usd": "12.5"})
    assert rule.hard_usd == Decimal("12.5")
    with pytest.raises(ConfigError, match=r"budgets\[0\]\.period"):
        BudgetRule.parse({"period": "week", "hard_usd": 1}, "budgets[0]")
    with pytest.raises(ConfigError, match=r"budgets\[0\]"):
        BudgetRule.parse({}, "budgets[0]")
