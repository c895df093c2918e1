"""Backoff strategies, the retry decision, the retry budget and adaptive throttling."""

from __future__ import annotations

import random
import statistics

import pytest

from harness.client.backoff import (
    DecorrelatedJitter,
    decorrelated_jitter,
    equal_jitter,
    exponential,
    fixed,
    full_jitter,
    none,
    parse_backoff,
    scaled,
    uniform,
)
from harness.client.retry import AdaptiveThrottle, RetryBudget, RetryConfig, RetryPolicy, RetryState, is_retryable
from harness.clock import ManualClock
from harness.errors import (
    AuthenticationError,
    BadRequest,
    ConfigError,
    ConnectionReset,
    ContentFiltered,
    ContextLengthExceeded,
    DeadlineExceeded,
    NotFound,
    Overloaded,
    ProviderError,
    QuotaExhausted,
    RateLimited,
    RequestTimeoutStatus,
    ServerError,
)


def test_exponential_doubles_from_base_to_cap() -> None:
    rng = random.Random(1)
    assert [exponential(0.5, 8).delay(n, 0, rng) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 8, 8]
    assert exponential(0.5, 8).delay(10_000, 0, rng) == 8  # no overflow on absurd attempt numbers


def test_jittered_strategies_stay_in_their_ranges() -> None:
    rng = random.Random(2)
    for n in range(1, 12):
        ceiling = min(8.0, 0.5 * 2 ** (n - 1))
        for _ in range(200):
            assert 0 <= full_jitter(0.5, 8).delay(n, 0, rng) <= ceiling
            assert ceiling / 2 <= equal_jitter(0.5, 8).delay(n, 0, rng) <= ceiling
            assert 0.375 * ceiling <= scaled(exponential(0.5, 8), 0.75, 1).delay(n, 0, rng) <= ceiling


def test_full_jitter_coefficient_of_variation_is_one_over_root_three() -> None:
    rng = random.Random(3)
    delays = [full_jitter(0.5, 8).delay(4, 0, rng) for _ in range(20_000)]
    cv = statistics.pstdev(delays) / statistics.fmean(delays)
    assert cv == pytest.approx(3**-0.5, abs=0.01)


def test_decorrelated_jitter_uses_the_previous_delay() -> None:
    rng = random.Random(4)
    first = decorrelated_jitter(0.1, 10).delay(1, 0.0, rng)
    assert 0.1 <= first <= 0.3
    later = DecorrelatedJitter(0.1, 10).delay(5, 2.0, rng)
    assert 0.1 <= later <= 6.0
    assert DecorrelatedJitter(0.1, 1).delay(5, 100.0, rng) <= 1.0


def test_strategies_compose() -> None:
    rng = random.Random(5)
    combo = fixed(1) + uniform(0, 0.5)
    assert all(1 <= combo.delay(1, 0, rng) <= 1.5 for _ in range(100))
    assert (exponential(1, 100) + fixed(5)).capped(6).delay(3, 0, rng) == 6
    assert none().delay(3, 1, rng) == 0


def test_seeded_strategies_are_reproducible() -> None:
    a = [full_jitter().delay(n, 0, random.Random(9)) for n in range(1, 6)]
    b = [full_jitter().delay(n, 0, random.Random(9)) for n in range(1, 6)]
    assert a == b


def test_parse_backoff_names_the_field() -> None:
    assert parse_backoff({"strategy": "equal_jitter", "base_s": 1, "cap_s": 4}) == equal_jitter(1, 4)
    with pytest.raises(ConfigError, match=r"client\.retry\.backoff\.cap_s"):
        parse_backoff({"strategy": "full_jitter", "base_s": 5, "cap_s": 1}, "client.retry.backoff")
    with pytest.raises(ConfigError, match="strategy"):
        parse_backoff({"strategy": "fibonacci"})
    with pytest.raises(ConfigError, match="jitter"):
        parse_backoff({"jitter": [1.2, 0.8]})


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (DeadlineExceeded("t"), True),
        (ConnectionReset("r"), True),
        (RequestTimeoutStatus("408", status=408), True),
        (RequestTimeoutStatus("409", status=409), True),
        (RateLimited("429", status=429), True),
        (ServerError("500", status=500), True),
        (Overloaded("529", status=529), True),
        (ProviderError("502", status=502), True),
        (ProviderError("418", status=418), False),
        (BadRequest("400", status=400), False),
        (AuthenticationError("401", status=401), False),
        (AuthenticationError("403", status=403), False),
        (NotFound("404", status=404), False),
        (ContextLengthExceeded("ctx", status=400), False),
        (ContentFiltered("cf", status=400), False),
        (QuotaExhausted("quota", status=429), False),
        (ValueError("not a provider error"), False),
    ],
)
def test_retry_decision_by_error_class(error: BaseException, retry: bool) -> None:
    assert is_retryable(error) is retry
    decision = RetryPolicy().decide(error, RetryState(attempt=1), random.Random(0))
    assert decision.retry is retry


def test_attempt_limit_and_deadline() -> None:
    policy = RetryPolicy(RetryConfig(max_attempts=3, backoff=fixed(2)))
    rng = random.Random(0)
    err = ServerError("boom", status=500)
    assert policy.decide(err, RetryState(attempt=2), rng).retry
    assert policy.decide(err, RetryState(attempt=3), rng).reason == "attempts"
    assert policy.decide(err, RetryState(attempt=1, now=9, deadline=10), rng).reason == "deadline"


def test_hint_is_never_undercut_and_gets_jitter_on_top() -> None:
    policy = RetryPolicy(RetryConfig(backoff=fixed(0.1)))
    rng = random.Random(0)
    delays = [policy.decide(RateLimited("429", retry_after_s=2.0), RetryState(attempt=1), rng) for _ in range(500)]
    assert all(d.retry and d.hinted and 2.0 <= d.delay_s <= 2.5 for d in delays)
    assert statistics.pstdev([d.delay_s for d in delays]) > 0.1  # a shared hint does not re-synchronise


def test_hint_mode_max_and_long_hints() -> None:
    rng = random.Random(0)
    max_mode = RetryPolicy(RetryConfig(backoff=fixed(5), hint_mode="max"))
    assert max_mode.decide(RateLimited("x", retry_after_s=1), RetryState(attempt=1), rng).delay_s == 5
    assert max_mode.decide(RateLimited("x", retry_after_s=7), RetryState(attempt=1), rng).delay_s == 7
    refuse = RetryPolicy(RetryConfig(max_hint_s=60))
    assert refuse.decide(RateLimited("x", retry_after_s=61), RetryState(attempt=1), rng).reason == "hint_too_long"
    clamp = RetryPolicy(RetryConfig(max_hint_s=60, long_hint="clamp", hint_jitter=0, hint_jitter_min_s=0))
    assert clamp.decide(RateLimited("x", retry_after_s=3600), RetryState(attempt=1), rng).delay_s == 60


def test_retry_config_parse() -> None:
    cfg = RetryConfig.parse({"max_attempts": 4, "backoff": {"strategy": "none"}, "hint_mode": "max"})
    assert cfg.max_attempts == 4
    assert cfg.hint_mode == "max"
    with pytest.raises(ConfigError, match=r"retry\.max_attemps"):
        RetryConfig.parse({"max_attemps": 4})


def test_retry_budget_bounds_amplification() -> None:
    budget = RetryBudget(ratio=0.1, reserve=10)
    allowed = 0
    for _ in range(1000):  # sustained overload: every attempt fails and asks for a retry
        budget.on_request()
        allowed += budget.try_spend()
    assert allowed <= 10 + 0.1 * 1000
    assert allowed >= 0.1 * 1000  # and it does let the ratio through
    assert budget.refused == 1000 - allowed


def test_adaptive_throttle_follows_the_sre_formula() -> None:
    clock = ManualClock()
    throttle = AdaptiveThrottle(clock=clock)
    rng = random.Random(0)
    for _ in range(100):
        throttle.record(accepted=True)
    assert throttle.reject_probability() == 0
    for _ in range(300):
        throttle.record(accepted=False)
    assert throttle.reject_probability() == pytest.approx((400 - 2 * 100) / 401)
    rejected = sum(throttle.should_reject(rng) for _ in range(200))
    assert rejected > 50
    clock.advance(121)  # the window forgets
    assert throttle.reject_probability() == 0


def test_hint_mode_ignore_backs_off_as_if_there_were_no_hint() -> None:
    policy = RetryPolicy(RetryConfig(backoff=fixed(0.2), hint_mode="ignore"))
    decision = policy.decide(RateLimited("slow down", retry_after_s=5.0), RetryState(attempt=1), random.Random(1))
    assert decision.retry
    assert decision.delay_s == 0.2
    assert not decision.hinted
    assert RetryConfig.parse({"hint_mode": "ignore"}).hint_mode == "ignore"
