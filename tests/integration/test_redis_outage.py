"""Redis stopped, restarted empty, paused: each policy's fallback, one process at a time, step by step.

The fleet tests (test_redis_under_load.py) show the aggregate promises under load; these show the
mechanics that make them hold: the limiter's wait of one window, its local share and the write-back of
what it admitted alone; the budget's lease, spent without Redis and booked when Redis returns; the
re-seed after a restart and the recovery period; a hold whose answer was lost, cancelled afterwards.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest

from harness.client.breaker import BreakerConfig
from harness.client.breaker_redis import RedisCircuitBreaker
from harness.client.budget import BudgetRule
from harness.client.budget_redis import RedisBudgetLedger
from harness.client.cost import Attribution
from harness.client.events import EventLog
from harness.client.limiter import Demand, LimitConfig
from harness.client.limiter_redis import RedisRateLimiter
from harness.client.redis_support import RedisFallback, make_redis
from harness.errors import BudgetExceeded
from harness.pricing import Usage
from tests.integration.redis_server import PrivateRedis

pytestmark = pytest.mark.redis

FAST = {"retry_interval_s": 0.2, "timeout_s": 0.3, "recovery_s": 0.6}
LOCAL = RedisFallback(mode="local", local_share=0.5, lease_share=0.1, lease_s=30, **FAST)
CLOSED = RedisFallback(mode="closed", **FAST)
WHO = Attribution("gpt-4o")


async def test_the_limiter_waits_a_window_then_admits_its_share_and_writes_it_back(
    private_redis: PrivateRedis,
) -> None:
    redis = make_redis(private_redis.url, timeout_s=0.3)
    log = EventLog()
    cfg = LimitConfig(rpm=4, window_s=2.0, transit_margin_s=0)  # the window exactly: this test times it
    limiter = RedisRateLimiter(redis, cfg, name="outage", clock=time.monotonic, fallback=LOCAL, on_event=log)
    strict = RedisRateLimiter(redis, cfg, name="outage-strict", clock=time.monotonic, fallback=CLOSED)
    try:
        assert (await limiter.acquire(Demand())).backend == "redis"
        assert (await strict.acquire(Demand())).granted

        private_redis.stop()
        # what the other processes admitted just before is unknown: the window counts as full for one window
        waiting = await limiter.acquire(Demand())
        assert not waiting.granted
        assert waiting.reason == "backend_unavailable"
        assert 0 < waiting.wait_s <= 2.0
        refused = await strict.acquire(Demand())  # closed: not granted, ask again after retry_interval_s
        assert (refused.granted, refused.reason, refused.wait_s) == (False, "backend_unavailable", 0.2)
        assert [e.kind for e in log][:1] == ["limiter.fallback"]
        await asyncio.sleep(2.05)
        alone = [await limiter.acquire(Demand()) for _ in range(3)]  # then its local share: 4 × 0.5 = 2 a window
        assert [(r.granted, r.backend) for r in alone] == [(True, "local"), (True, "local"), (False, "local")]
        await limiter.settle(alone[0], Usage())
        await limiter.cancel(alone[2])

        private_redis.start()  # same port, empty: the restart lost the log
        await asyncio.sleep(0.25)  # past retry_interval_s
        back = await limiter.acquire(Demand())
        assert (back.granted, back.reason) == (False, "recovering")  # the fleet re-seeds meanwhile
        assert [e.kind for e in log].count("limiter.reseeded") == 1
        assert [e.kind for e in log].count("limiter.written_back") == 1
        await asyncio.sleep(back.wait_s + 0.01)
        # the two local admissions are in the log again: two more fit in this window, not three
        after = [await limiter.acquire(Demand(), key=f"k{i}") for i in range(3)]
        assert [r.granted for r in after] == [True, True, False]
        assert log.of_kind("limiter.recovered")
        assert (await strict.acquire(Demand())).reason == "recovering"  # its own log was lost too
    finally:
        await redis.aclose()


async def test_the_budget_spends_its_lease_without_redis_and_books_it_when_redis_returns(
    private_redis: PrivateRedis,
) -> None:
    redis = make_redis(private_redis.url, timeout_s=0.3)
    log = EventLog()
    rules = [BudgetRule(hard_usd=Decimal(10))]
    budget = RedisBudgetLedger(redis, rules, name="lease", clock=time.monotonic, wall=time.time, fallback=LOCAL,
                               on_event=log)  # fmt: skip
    strict = RedisBudgetLedger(redis, rules, name="lease", clock=time.monotonic, wall=time.time, fallback=CLOSED)
    breaker = RedisCircuitBreaker(redis, BreakerConfig(), name="outage", clock=time.monotonic, fallback=LOCAL)
    try:
        first = await budget.reserve_async(Decimal(1), WHO)
        assert first.backend == "redis"
        await budget.settle_async(first, Decimal("0.5"))
        lease = budget.leases[(0, "global")]
        assert lease.amount == 900_000_000_000  # 10 % of what was free (10 - 1), held in Redis for this process

        private_redis.stop()
        held = await budget.reserve_async(Decimal("0.3"), WHO)  # from the lease, no exception
        assert held.backend == "local"
        with pytest.raises(BudgetExceeded, match="lease"):
            await budget.reserve_async(Decimal("0.7"), WHO)  # 0.9 - 0.3 left
        with pytest.raises(BudgetExceeded, match="failing closed"):
            await strict.reserve_async(Decimal("0.01"), WHO)
        await budget.settle_async(held, Decimal("0.2"))
        permit = await breaker.acquire()  # the local breaker takes over
        await breaker.report(permit, "success")

        private_redis.start()  # empty
        await asyncio.sleep(0.25)
        during = await budget.reserve_async(Decimal("0.1"), WHO)  # recovering: still the lease
        assert during.backend == "local"
        await budget.cancel_async(during)
        assert [e.kind for e in log].count("budget.reseeded") == 1
        await asyncio.sleep(0.65)
        after = await budget.reserve_async(Decimal("0.1"), WHO)  # Redis again; the lease's 0.2 is written back
        assert after.backend == "redis"
        await budget.cancel_async(after)
        assert (lease.spent, lease.applied) == (200_000_000_000, 200_000_000_000)
        # the shared state is whole again: spent 0.5 (seen before the restart) + 0.2 (the lease's) and the
        # rest of the lease (0.7) held: 8.6 of 10 is free, not a cent more
        assert (await strict.reserve_async(Decimal("8.6"), WHO)).backend == "redis"
        with pytest.raises(BudgetExceeded):
            await strict.reserve_async(Decimal("0.01"), WHO)
        assert not (await breaker.acquire()).probe  # the shared circuit is closed (state lost with the restart)
    finally:
        await redis.aclose()


async def test_a_reservation_whose_answer_was_lost_is_cancelled_later(private_redis: PrivateRedis) -> None:
    redis = make_redis(private_redis.url, timeout_s=0.3)
    budget = RedisBudgetLedger(redis, [BudgetRule(hard_usd=Decimal(10))], name="ghost", clock=time.monotonic,
                               wall=time.time, fallback=CLOSED)  # fmt: skip
    try:
        await budget.cancel_async(await budget.reserve_async(Decimal(1), WHO))
        private_redis.pause()  # the next script waits in Redis's socket and runs when it resumes
        with pytest.raises(BudgetExceeded, match="failing closed"):
            await budget.reserve_async(Decimal(4), WHO)
        private_redis.resume()
        await asyncio.sleep(0.25)
        first = await budget.reserve_async(Decimal(1), WHO)  # Redis answers: the lost hold is cancelled
        assert (await budget.reserve_async(Decimal(9), WHO)).backend == "redis"  # 10 - 1: the 4 is not held
        await budget.cancel_async(first)
    finally:
        await redis.aclose()


async def test_a_lease_not_renewed_is_written_off_then_refunded_and_nothing_is_booked_twice(
    private_redis: PrivateRedis,
) -> None:
    short = RedisFallback(mode="local", lease_share=0.1, lease_s=1.0, **FAST)
    redis = make_redis(private_redis.url, timeout_s=0.3)
    budget = RedisBudgetLedger(redis, [BudgetRule("global", "*", "total", hard_usd=Decimal(10))], name="w",
                               clock=time.monotonic, wall=time.time, fallback=short)  # fmt: skip
    spend_key = "{harness:budget:w}:0:global:cal:0"

    async def spend_alone(amount: str) -> None:
        private_redis.pause()
        held = await budget.reserve_async(Decimal("0.3"), WHO)  # no answer: from the lease
        assert held.backend == "local"
        await budget.settle_async(held, Decimal(amount))

    try:
        await budget.settle_async(await budget.reserve_async(Decimal(1), WHO), Decimal("0.5"))
        await spend_alone("0.2")
        await asyncio.sleep(1.1)  # the lease's time in Redis runs out: Redis writes it off as spent
        private_redis.resume()
        await asyncio.sleep(0.25)
        await budget.cancel_async(await budget.reserve_async(Decimal("0.1"), WHO))  # sees it written off, refunds
        with private_redis.client() as r:
            assert int(r.get(spend_key)) == 700_000_000_000  # 0.5 + the 0.2 really spent, not the 0.9 written off
        lease = budget.leases[(0, "global")]
        assert (lease.written_off, lease.applied) == (False, 200_000_000_000)
        await budget.cancel_async(await budget.reserve_async(Decimal("0.1"), WHO))  # a new lease is taken
        assert lease.amount > 0
        await spend_alone("0.1")
        private_redis.resume()
        await asyncio.sleep(0.25)
        await budget.cancel_async(await budget.reserve_async(Decimal("0.1"), WHO))  # written back: only the 0.1
        with private_redis.client() as r:
            assert int(r.get(spend_key)) == 800_000_000_000
        assert (lease.spent, lease.applied) == (300_000_000_000, 300_000_000_000)
    finally:
        await redis.aclose()


async def test_a_reservation_in_flight_through_a_restart_is_held_again_without_a_new_request(
    private_redis: PrivateRedis,
) -> None:
    """A request can outlive the recovery period; its process puts its hold back unasked (a check every
    retry_interval_s while it holds anything), so another process cannot spend it meanwhile."""
    redis = make_redis(private_redis.url, timeout_s=0.3)
    rules = [BudgetRule(hard_usd=Decimal(10))]
    log = EventLog()
    a = RedisBudgetLedger(redis, rules, name="inflight", clock=time.monotonic, wall=time.time, fallback=CLOSED,
                          on_event=log)  # fmt: skip
    b = RedisBudgetLedger(redis, rules, name="inflight", clock=time.monotonic, wall=time.time, fallback=CLOSED)
    try:
        long_request = await a.reserve_async(Decimal(6), WHO)  # sent; the answer will take a while
        private_redis.stop()
        private_redis.start()  # empty
        await asyncio.sleep(1.0)  # a makes no call; b comes along after the recovery period
        assert log.of_kind("budget.reseeded")
        with pytest.raises(BudgetExceeded):
            await b.reserve_async(Decimal(5), WHO)  # 6 are still held for a's request
        assert (await b.reserve_async(Decimal(4), WHO)).backend == "redis"
        await a.settle_async(long_request, Decimal(6))
    finally:
        await a.aclose()
        await redis.aclose()
