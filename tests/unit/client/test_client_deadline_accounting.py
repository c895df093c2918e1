"""What a request that runs out of time leaves behind: the limiter keeps what the provider counted,
the breaker is not told the provider failed, no retry is started, and every attempt has its cost."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from harness.client import BreakerConfig, LimitConfig, RateLimiter, Timeouts, fixed
from harness.client.retry import is_retryable
from harness.client.testing import by_attempt
from harness.errors import DeadlineExceeded
from tests.unit.client.test_client_support import World, ask, config, run, spec


def test_terminal_deadlines_are_not_retryable() -> None:
    assert not is_retryable(DeadlineExceeded("late", code="total"))
    assert not is_retryable(DeadlineExceeded("queued too long", code="limiter_wait"))
    assert is_retryable(DeadlineExceeded("this attempt was slow", code="attempt"))


def test_a_request_abandoned_in_flight_keeps_its_limiter_charge_and_spares_the_breaker() -> None:
    limited = spec("slow", limits=LimitConfig(rpm=100, tpm=10_000))
    cfg = config(
        limited,
        timeouts=Timeouts(connect_s=1, first_token_s=30, stall_s=30, attempt_s=30, total_s=2),
        breaker=BreakerConfig(consecutive_failures=1, failure_rate=None, open_backoff=fixed(5)),
    )

    async def body(world: World) -> None:
        # "slow" answers a plain request only after its whole generation (8 s): the 2 s total passes in flight
        ok = await world.client.call(ask("slow", max_tokens=8))
        assert not ok
        (outcome,) = world.client.outcomes()
        assert outcome.status == "DeadlineExceeded"
        (record,) = await world.settled(1)  # one attempt: a passed total deadline is not retried
        assert record.finish == "client_gone"
        limiter = world.client.routes["slow"].limiter
        assert isinstance(limiter, RateLimiter)
        requests, tokens, *_ = limiter.in_window()
        # the provider admitted prompt + max_tokens against its TPM: the client keeps counting them too
        assert (requests, tokens) == (1, record.prompt_tokens + 8)
        breaker = world.client.routes["slow"].breaker
        assert getattr(breaker, "state", None) == "closed"  # the provider did nothing wrong

    run(body, cfg)


@pytest.mark.parametrize(("min_send_s", "sent"), [(5.0, False), (0.0, True)])
def test_a_queued_request_is_not_sent_with_too_little_time_left(min_send_s: float, sent: bool) -> None:
    # one request per 28 s window: the second waits 28 s for capacity, of its 30 s; with min_send_s = 5 it
    # would be sent with 2 s left, so it is given up instead; with 0 it is sent, and answered
    limited = spec("gpt-4o-mini", limits=LimitConfig(rpm=1, window_s=28))
    timeouts = Timeouts(connect_s=1, first_token_s=5, stall_s=5, attempt_s=5, total_s=30, min_send_s=min_send_s)

    async def body(world: World) -> None:
        assert await world.client.call(ask(request_id="first"))
        assert await world.client.call(ask(request_id="second")) is sent
        second = world.client.outcomes()[1]
        if not sent:
            assert second.status == "DeadlineExceeded"
            assert "rate limiter wait" in (second.error or "")
        expected = ["first", "second"] if sent else ["first"]
        assert [r.logical_id for r in world.records] == expected

    run(body, config(limited, timeouts=timeouts))


@pytest.mark.parametrize("fault", ["stream_cut_after=3", "malformed_at=2"])
def test_every_attempt_records_what_the_client_charged_for_it(fault: str) -> None:
    async def body(world: World) -> None:
        assert await world.client.call(ask(max_tokens=12, stream=True, request_id="r"))
        (outcome,) = world.client.outcomes()
        assert [a.error is None for a in outcome.attempts] == [False, True]
        billed = {r.request_id: Decimal(r.cost_usd) for r in world.records}
        answer = outcome.attempts[-1]
        assert answer.cost_usd is not None
        assert Decimal(answer.cost_usd) == billed[answer.request_id]  # the answer: exactly the provider's bill
        assert Decimal(answer.cost_usd) > 0
        assert sum(Decimal(a.cost_usd or "0") for a in outcome.attempts) == Decimal(outcome.cost_usd)

    run(body, rule=by_attempt({0: {"x-fake-fault": fault}}), rng=random.Random(1))
