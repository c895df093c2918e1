"""Backoff delays stay within their bounds for any attempt, previous delay and seed."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from harness.client.backoff import decorrelated_jitter, equal_jitter, exponential, full_jitter
from harness.client.retry import RetryConfig, RetryPolicy, RetryState
from harness.errors import RateLimited

bases = st.floats(0.001, 5)
attempts = st.integers(1, 10_000)
seeds = st.integers(0, 2**32)


@given(base=bases, extra=st.floats(0, 100), attempt=attempts, previous=st.floats(0, 1000), seed=seeds)
def test_delays_within_bounds(base: float, extra: float, attempt: int, previous: float, seed: int) -> None:
    cap = base + extra
    rng = random.Random(seed)
    # 2.0 ** 1024 overflows a float; past 2 ** 64 · base the cap has long been reached anyway
    ceiling = min(cap, base * 2.0 ** (attempt - 1)) if attempt <= 64 else cap
    assert exponential(base, cap).delay(attempt, previous, rng) <= cap
    assert 0 <= full_jitter(base, cap).delay(attempt, previous, rng) <= ceiling
    assert ceiling / 2 <= equal_jitter(base, cap).delay(attempt, previous, rng) <= ceiling
    assert base <= decorrelated_jitter(base, cap).delay(attempt, previous, rng) <= cap


@given(hint=st.floats(0.001, 120), attempt=st.integers(1, 2), seed=seeds)
def test_never_earlier_than_the_hint(hint: float, attempt: int, seed: int) -> None:
    decision = RetryPolicy(RetryConfig()).decide(
        RateLimited("429", retry_after_s=hint), RetryState(attempt=attempt), random.Random(seed)
    )
    assert decision.retry
    assert decision.delay_s >= hint
