"""Redis stopped mid-test: the configured fallback happens, nothing raises, and Redis is used again when it returns."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
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
from harness.pricing import Usage

pytestmark = pytest.mark.redis


class PrivateRedis:
    """A redis-server of our own on a free loopback port, which this test may kill and restart."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture
def private_redis(redis_url: str) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_fallbacks_while_redis_is_down_and_recovery(private_redis: PrivateRedis) -> None:
    redis = make_redis(private_redis.url, timeout_s=0.3)
    log = EventLog()
    local = RedisFallback(mode="local", local_share=0.5, retry_interval_s=0.2)
    closed = RedisFallback(mode="closed", retry_interval_s=0.2)
    cfg = LimitConfig(rpm=4)
    limiter = RedisRateLimiter(redis, cfg, name="outage", clock=time.monotonic, fallback=local, on_event=log)
    strict = RedisRateLimiter(redis, cfg, name="outage-strict", clock=time.monotonic, fallback=closed)
    breaker = RedisCircuitBreaker(redis, BreakerConfig(), name="outage", clock=time.monotonic, fallback=local)
    budget = RedisBudgetLedger(redis, [BudgetRule(hard_usd=Decimal(10))], name="outage", clock=time.monotonic,
                               wall=time.time, fallback=local)  # fmt: skip
    try:
        assert (await limiter.acquire(Demand())).backend == "redis"
        assert (await strict.acquire(Demand())).granted

        private_redis.stop()
        # fail open to a local share of the quota (4 × 0.5 = 2 per minute), no exception
        local_grants = [await limiter.acquire(Demand()) for _ in range(3)]
        assert [r.backend for r in local_grants] == ["local"] * 3
        assert [r.granted for r in local_grants] == [True, True, False]
        await limiter.settle(local_grants[0], Usage())
        await limiter.cancel(local_grants[2])
        # fail closed: not granted, ask again later; still no exception
        refused = await strict.acquire(Demand())
        assert not refused.granted
        assert refused.reason == "backend_unavailable"
        assert refused.wait_s == pytest.approx(0.2)
        permit = await breaker.acquire()  # the local breaker takes over
        await breaker.report(permit, "success")
        held = await budget.reserve_async(Decimal(1), Attribution("gpt-4o"))
        assert held.backend == "local"
        await budget.settle_async(held, Decimal("0.5"))
        assert [e.kind for e in log][:1] == ["limiter.fallback"]

        private_redis.start()  # same port
        await asyncio.sleep(0.25)  # past retry_interval_s
        back = await limiter.acquire(Demand())
        assert back.backend == "redis"
        assert back.granted
        assert log.of_kind("limiter.recovered")
        assert (await strict.acquire(Demand())).granted
        assert (await budget.reserve_async(Decimal(1), Attribution("gpt-4o"))).backend == "redis"
        assert not (await breaker.acquire()).probe
    finally:
        await redis.aclose()
