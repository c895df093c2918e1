"""The Redis backends over a real Redis (db 15): shared limiter, breaker and budgets, under concurrency."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from decimal import Decimal

import pytest

from harness.client.backoff import fixed
from harness.client.breaker import Breaker, BreakerConfig
from harness.client.breaker_redis import RedisCircuitBreaker
from harness.client.budget import BudgetRule, Budgets
from harness.client.budget_redis import RedisBudgetLedger
from harness.client.cost import Attribution
from harness.client.events import EventLog
from harness.client.limiter import Demand, LimitConfig, Limiter
from harness.client.limiter_redis import RedisRateLimiter
from harness.client.redis_support import RedisFallback, make_redis, redis_client
from harness.errors import BudgetExceeded, CircuitOpen
from harness.pricing import Usage

pytestmark = pytest.mark.redis


async def test_limiter_shares_one_quota_and_settles(redis_url: str) -> None:
    r1, r2 = make_redis(redis_url), make_redis(redis_url)
    cfg = LimitConfig(rpm=3, tpm=1000)
    a = RedisRateLimiter(r1, cfg, name="shared-quota", clock=time.monotonic)
    b = RedisRateLimiter(r2, cfg, name="shared-quota", clock=time.monotonic)
    assert isinstance(a, Limiter)
    await a.reset()
    g1 = await a.acquire(Demand(100, 400))
    g2 = await b.acquire(Demand(100, 400))
    assert g1.granted
    assert g2.granted
    assert g1.backend == "redis"
    blocked = await a.acquire(Demand(100, 400), key="x")
    assert not blocked.granted
    assert blocked.wait_s > 50
    await a.cancel(blocked)
    await b.settle(g2, Usage(input_tokens=100, output_tokens=10))  # refund 390
    assert (await a.acquire(Demand(100, 250))).granted  # 500 + 110 + 350 ≤ 1000
    assert not (await b.acquire(Demand())).granted  # but that was the third request
    assert (await a.acquire(Demand(5000, 0))).reason == "too_large"
    await r1.aclose()
    await r2.aclose()


async def test_redis_limiter_lanes_and_learning(redis_url: str) -> None:
    r = make_redis(redis_url)
    lim = RedisRateLimiter(r, LimitConfig(rpm=1, window_s=0.5, transit_margin_s=0), name="lanes", clock=time.monotonic)
    await lim.reset()
    assert (await lim.acquire(Demand())).granted
    batch = await lim.acquire(Demand(), lane="batch")
    inter = await lim.acquire(Demand(), lane="interactive")
    await asyncio.sleep(0.55)
    assert not (await lim.acquire(Demand(), lane="batch", ticket=batch)).granted
    assert (await lim.acquire(Demand(), ticket=inter)).granted
    learned = RedisRateLimiter(r, LimitConfig(), name="learned", clock=time.monotonic)
    await learned.reset()
    await learned.observe(remaining_requests=0, reset_requests_s=30)
    held = await learned.acquire(Demand())
    assert not held.granted
    assert 29 < held.wait_s <= 30
    await r.aclose()


def _hammer(url: str, name: str, seconds: float) -> list[float]:
    async def main() -> list[float]:
        redis = make_redis(url)
        lim = RedisRateLimiter(redis, LimitConfig(rpm=20, window_s=1.0), name=name, clock=time.monotonic)
        admitted: list[float] = []
        end = time.monotonic() + seconds
        ticket = None
        while time.monotonic() < end:
            res = await lim.acquire(Demand(), ticket=ticket)
            if res.granted:
                admitted.append(res.at)
                ticket = None
            else:
                ticket = res
                await asyncio.sleep(min(res.wait_s, 0.05))
        if ticket is not None:
            await lim.cancel(ticket)
        await redis.aclose()
        return admitted

    return asyncio.run(main())


@pytest.mark.slow
def test_four_processes_never_exceed_the_limit_in_any_window(redis_url: str) -> None:
    r = make_redis(redis_url)
    asyncio.run(RedisRateLimiter(r, name="four", clock=time.monotonic).reset())
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        results = pool.starmap(_hammer, [(redis_url, "four", 3.0)] * 4)
    times = sorted(t for per in results for t in per)  # Redis's own clock: one timeline for all
    assert all(per for per in results)  # every process got some
    for t in times:
        assert sum(1 for u in times if t - 1.0 < u <= t) <= 20
    assert len(times) >= 20 * 2  # and the quota was used (at least two full windows in three seconds)


async def test_breaker_state_is_shared(redis_url: str) -> None:
    r1, r2 = make_redis(redis_url), make_redis(redis_url)
    cfg = BreakerConfig(consecutive_failures=2, open_backoff=fixed(0.3), half_open_probes=1)
    log = EventLog()
    a = RedisCircuitBreaker(r1, cfg, name="shared-breaker", clock=time.monotonic, on_event=log)
    b = RedisCircuitBreaker(r2, cfg, name="shared-breaker", clock=time.monotonic)
    assert isinstance(a, Breaker)
    await a.reset()
    for _ in range(2):
        await a.report(await a.acquire(), "server_error")
    with pytest.raises(CircuitOpen):
        await b.acquire()  # the other process sees the open circuit at once
    await asyncio.sleep(0.35)
    probe = await b.acquire()
    assert probe.probe
    with pytest.raises(CircuitOpen):
        await a.acquire()  # one probe at a time, fleet-wide
    await b.report(probe, "success")
    assert not (await a.acquire()).probe  # closed again
    assert [e.data["to"] for e in log.of_kind("breaker.state")][:1] == ["open"]
    await r1.aclose()
    await r2.aclose()


async def test_hundreds_of_concurrent_reservations_never_overspend(redis_url: str) -> None:
    rules = [BudgetRule("user", "*", "day", "rolling", hard_usd=Decimal("1.00"))]
    # a generous timeout and a closed fallback: a GC pause on a loaded machine must not look like Redis
    # being down (the local fallback of four ledgers would each allow the whole budget)
    clients = [make_redis(redis_url, timeout_s=5.0) for _ in range(4)]
    closed = RedisFallback(mode="closed")
    ledgers = [
        RedisBudgetLedger(c, rules, name="concurrent", clock=time.monotonic, wall=time.time, fallback=closed)
        for c in clients
    ]
    assert isinstance(ledgers[0], Budgets)
    await ledgers[0].reset()
    refused = granted = 0

    async def one(i: int) -> Decimal:
        nonlocal refused, granted
        ledger = ledgers[i % 4]
        try:
            res = await ledger.reserve_async(Decimal("0.013"), Attribution("gpt-4o", user="ana"))
        except BudgetExceeded:
            refused += 1
            return Decimal(0)
        granted += 1
        await asyncio.sleep(0)
        actual = Decimal("0.013") if i % 3 else Decimal("0.005")
        if i % 7 == 0:
            await ledger.cancel_async(res)
            return Decimal(0)
        await ledger.settle_async(res, actual)
        return actual

    try:
        spent = sum(await asyncio.gather(*(one(i) for i in range(400))), Decimal(0))
    finally:
        for c in clients:
            await c.aclose()
    assert spent <= Decimal("1.00")
    assert refused > 0
    assert granted * Decimal("0.013") > Decimal("0.95")  # all but the last sliver of the budget was usable


async def test_more_concurrent_calls_than_connections_wait_for_one_instead_of_failing(redis_url: str) -> None:
    """A pool that refuses past its size (redis-py's MaxConnectionsError) made every process fall back to
    local budgets under its own load; the policies wait for a connection instead: only the cap refuses."""
    knobs = RedisFallback(mode="closed", max_connections=2)
    redis = redis_client(redis_url, knobs)
    log = EventLog()
    rules = [BudgetRule("global", "*", "total", "rolling", hard_usd=Decimal("1.00"))]
    ledger = RedisBudgetLedger(redis, rules, name="pool", clock=time.monotonic, wall=time.time, fallback=knobs,
                               on_event=log)  # fmt: skip
    limiter = RedisRateLimiter(redis, LimitConfig(rpm=1_000_000), name="pool", clock=time.monotonic, fallback=knobs,
                               on_event=log)  # fmt: skip
    await ledger.reset()
    await limiter.reset()

    async def one() -> bool:
        try:
            held = await ledger.reserve_async(Decimal("0.01"), Attribution("gpt-4o"))
        except BudgetExceeded:
            return False
        grant = await limiter.acquire(Demand(10, 10))
        assert grant.granted
        await limiter.settle(grant, Usage(10, 5))
        await ledger.settle_async(held, Decimal("0.01"))
        return True

    try:
        done = await asyncio.gather(*(one() for _ in range(300)))
    finally:
        await redis.aclose()
    assert sum(done) == 100  # exactly the cap, every call answered
    assert len(log.of_kind("budget.hard_limit")) == 200  # the others refused by the cap, not by a fallback
    assert not [e for e in log if e.kind.endswith((".fallback", ".error"))]
    assert ledger.refused_locally == 0
