"""Hypothesis on the provider's quotas with a fake clock: a client pushing twice the limit.

Tokens admitted in any sliding 60 s window never exceed the limit; the rate-limit headers of an answer
report the internal state (a 429's say 0 remaining, as every 429 does: docs/fake-provider.md); a 429's
retry hint is when capacity actually returns (±50 ms: refused 50 ms before the hint, admitted at it).
"""

from __future__ import annotations

import json
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fake_provider.config import ProviderConfig
from fake_provider.core import Exchange, ProviderCore, ProviderRequest
from fake_provider.plan import Delivery
from fake_provider.quotas import Limits, QuotaConfig
from harness.clock import ManualClock
from harness.judge.facts import LimitFact
from harness.judge.metrics import limit_violations
from harness.records import ProviderRecord
from harness.wire import anthropic, openai, openai_limits

WINDOW = 60.0
DURATION = 240.0  # four windows of traffic
WORDS = "the quick brown fox jumps over a lazy dog and keeps on running far".split()


def make_core(quotas: QuotaConfig) -> tuple[ProviderCore, ManualClock]:
    clock = ManualClock(500.0)
    return ProviderCore(ProviderConfig(quotas=quotas), clock=clock, wall_clock=lambda: 1.8e9 + clock()), clock


def chat(core: ProviderCore, words: int, max_tokens: int) -> Exchange:
    text = " ".join(WORDS[i % len(WORDS)] for i in range(words))
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], "max_tokens": max_tokens}
    return core.handle(
        ProviderRequest("POST", openai.CHAT_PATH, "", {"authorization": "Bearer k"}, json.dumps(body).encode())
    )


def messages(core: ProviderCore, words: int, max_tokens: int) -> Exchange:
    text = " ".join(WORDS[i % len(WORDS)] for i in range(words))
    body = {"model": "claude-haiku-4-5", "max_tokens": max_tokens, "messages": [{"role": "user", "content": text}]}
    return core.handle(
        ProviderRequest("POST", anthropic.MESSAGES_PATH, "", {"x-api-key": "k"}, json.dumps(body).encode())
    )


def windows_respected(admitted: list[tuple[float, int]], limit: int) -> bool:
    """Every admission's trailing window (t - 60, t], itself included, holds at most ``limit``."""
    admitted.sort()
    total, left = 0, 0
    for t, weight in admitted:
        total += weight
        while admitted[left][0] <= t - WINDOW:
            total -= admitted[left][1]
            left += 1
        if total > limit:
            return False
    return True


def overload(rng: random.Random, limit: int, per_request: int) -> list[float]:
    """Arrival times that ask for twice ``limit`` per minute, in bursts and lulls."""
    count = int(2 * limit * DURATION / WINDOW / per_request) + 1
    times = [rng.random() ** rng.choice([1.0, 2.0]) * DURATION for _ in range(count)]  # some skewed early
    return sorted(times)


@settings(max_examples=30, deadline=None)
@given(limit=st.integers(300, 4000), rng=st.randoms(use_true_random=False))
def test_admitted_tokens_never_exceed_the_tpm_in_any_window(limit: int, rng: random.Random) -> None:
    core, clock = make_core(QuotaConfig(Limits(tpm=limit)))
    start = clock()
    admitted: list[tuple[float, int]] = []
    records: list[ProviderRecord] = []
    refused = 0
    for offset in overload(rng, limit, 60):
        clock.set(start + offset)
        exchange = chat(core, rng.randint(1, 40), rng.randint(1, 60))
        headers = {k.lower(): v for k, v in exchange.plan.headers}
        state = core.quotas.windows(exchange.context.client, "gpt-4o-mini")  # type: ignore[union-attr]
        ((_, window),) = state
        # the remaining header is the internal state right after the decision; a 429 says 0 (every 429 does)
        assert window.remaining == limit - window.used
        expected = window.remaining if exchange.plan.status == 200 else 0
        assert int(headers["x-ratelimit-remaining-tokens"]) == expected
        record = exchange.finish(Delivery(status=exchange.plan.status, tokens_sent=exchange.plan.body_tokens))
        if record.status == 200:
            assert record.max_tokens is not None
            admitted.append((record.t, record.prompt_tokens + record.max_tokens))
            records.append(record)
        else:
            refused += 1
            assert record.fault == "quota:tpm"
    assert refused > 0  # twice the limit was asked for: some were refused
    assert windows_respected(admitted, limit)
    assert limit_violations(records, LimitFact("tpm", limit)) == 0  # the judge agrees


@settings(max_examples=30, deadline=None)
@given(
    itpm=st.integers(200, 2000),
    otpm=st.integers(100, 1000),
    rng=st.randoms(use_true_random=False),
)
def test_input_and_output_token_limits_hold_with_the_output_corrected(itpm: int, otpm: int, rng: random.Random) -> None:
    quotas = QuotaConfig(models=(("claude-haiku-4-5", Limits(itpm=itpm, otpm=otpm)),))
    core, clock = make_core(quotas)
    start = clock()
    inputs: list[tuple[float, int]] = []
    outputs: list[tuple[float, int]] = []
    for offset in overload(rng, min(itpm, otpm), 30):
        clock.set(start + offset)
        exchange = messages(core, rng.randint(1, 20), rng.randint(1, 40))
        planned = exchange.plan.body_tokens
        sent = rng.randint(0, planned)  # a client that left early, or an answer shorter than max_tokens
        record = exchange.finish(Delivery(status=exchange.plan.status, tokens_sent=sent if planned else 0))
        if record.status == 200:
            inputs.append((record.t, record.prompt_tokens))
            outputs.append((record.t, record.output_tokens))
    assert windows_respected(inputs, itpm)
    assert windows_respected(outputs, otpm)


@settings(max_examples=40, deadline=None)
@given(
    rpm=st.integers(1, 30),
    tpm=st.integers(200, 3000),
    sizes=st.lists(st.tuples(st.integers(1, 30), st.integers(1, 80), st.integers(0, 64 * 20)), min_size=1, max_size=60),
)
def test_the_retry_hint_is_when_capacity_returns(rpm: int, tpm: int, sizes: list[tuple[int, int, int]]) -> None:
    core, clock = make_core(QuotaConfig(Limits(rpm=rpm, tpm=tpm)))
    for words, max_tokens, gap in sizes:
        clock.advance(gap / 64)
        exchange = chat(core, words, max_tokens)
        exchange.settle(Delivery(status=exchange.plan.status, tokens_sent=exchange.plan.body_tokens))
        if exchange.plan.status != 429:
            continue
        headers: dict[str, Any] = {k.lower(): v for k, v in exchange.plan.headers}
        hint = openai_limits.parse_rate_limits(headers).retry_after_s
        if hint is None:  # larger than the limit itself: never fits, and no hint is given
            assert exchange.context.prompt_tokens + max_tokens > tpm
            continue
        refused_at = clock()
        if hint > 0.05:
            clock.set(refused_at + hint - 0.05)
            early = chat(core, words, max_tokens)
            early.settle(Delivery(status=early.plan.status))
            assert early.plan.status == 429, f"capacity was back {hint:.3f} s after the refusal, 50 ms early"
        clock.set(refused_at + hint)
        retried = chat(core, words, max_tokens)
        retried.settle(Delivery(status=retried.plan.status, tokens_sent=retried.plan.body_tokens))
        assert retried.plan.status == 200, f"not admitted at the hint ({hint:.3f} s)"
