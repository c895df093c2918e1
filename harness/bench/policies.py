"""Cost of the policies on the request path: one limiter acquire + one breaker check + one cost settle.

In memory (target: under 20 µs for the three together: ``core_us``; ``full_cycle_us`` adds the budget
reserve and settle, the breaker record and the limiter settle) and with Redis (each operation is one Lua
script: one round trip; the Redis numbers are dominated by the loopback round trip).

    .venv/bin/python bench/policies.py --json [--redis redis://127.0.0.1:6379/15] [--n 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from decimal import Decimal

from harness.client.breaker import BreakerConfig, CircuitBreaker
from harness.client.breaker_redis import RedisCircuitBreaker
from harness.client.budget import BudgetLedger, BudgetRule
from harness.client.budget_redis import RedisBudgetLedger
from harness.client.cost import Attribution, CostTracker
from harness.client.limiter import Demand, LimitConfig, RateLimiter
from harness.client.limiter_redis import RedisRateLimiter
from harness.client.redis_support import make_redis
from harness.pricing import Usage

USAGE = Usage(input_tokens=120, output_tokens=80)
DEMAND = Demand(input_tokens=120, max_output_tokens=256)
# limits far above the benchmark's rate: we measure the bookkeeping, not the waiting
LIMITS = LimitConfig(rpm=10_000_000, tpm=10_000_000_000)


def bench_memory(n: int) -> dict[str, float]:
    clock = time.monotonic
    limiter = RateLimiter(LIMITS, clock=clock)
    breaker = CircuitBreaker(BreakerConfig(), clock=clock)
    tracker = CostTracker()
    ledger = BudgetLedger([BudgetRule("user", "*", "day", hard_usd=Decimal(10**9))], clock=clock, wall=time.time)
    attribution = Attribution("gpt-4o-mini", user="ana")
    estimate = tracker.estimate("gpt-4o-mini", 120, 256)

    def one() -> None:
        res = limiter.reserve(DEMAND)
        permit = breaker.allow()
        held = ledger.reserve(estimate, attribution)
        breaker.record(permit, "success")
        limiter.settle_now(res, USAGE)
        ledger.settle(held, tracker.record_for(attribution, USAGE))

    def core() -> None:  # the measure: one acquire + one breaker check + one cost settle
        limiter.reserve(DEMAND)
        breaker.allow()
        tracker.record_for(attribution, USAGE)

    out: dict[str, float] = {"n": n}
    for name, fn in (("core_us", core), ("full_cycle_us", one)):
        for _ in range(min(n, 2000)):
            fn()  # warm up
        start = time.perf_counter()
        for _ in range(n):
            fn()
        out[name] = round((time.perf_counter() - start) / n * 1e6, 2)
    return out


async def bench_redis(url: str, n: int) -> dict[str, float]:
    redis = make_redis(url, timeout_s=2.0)
    clock = time.monotonic
    limiter = RedisRateLimiter(redis, LIMITS, name="bench", clock=clock)
    breaker = RedisCircuitBreaker(redis, BreakerConfig(), name="bench", clock=clock)
    ledger = RedisBudgetLedger(redis, [BudgetRule("user", "*", "day", hard_usd=Decimal(10**6))], name="bench",
                               clock=clock, wall=time.time)  # fmt: skip
    tracker = CostTracker()
    attribution = Attribution("gpt-4o-mini", user="ana")
    estimate = tracker.estimate("gpt-4o-mini", 120, 256)
    await limiter.reset()
    await breaker.reset()
    await ledger.reset()
    ping_start = time.perf_counter()
    for _ in range(200):
        await redis.ping()
    ping_us = (time.perf_counter() - ping_start) / 200 * 1e6
    timings = {"acquire": 0.0, "breaker_check": 0.0, "budget_reserve": 0.0, "settle": 0.0, "budget_settle": 0.0}
    links = (limiter.link, breaker.link, ledger.link)
    trips_before = sum(link.round_trips for link in links)
    for _ in range(n):
        t0 = time.perf_counter()
        res = await limiter.acquire(DEMAND)
        t1 = time.perf_counter()
        permit = await breaker.acquire()
        t2 = time.perf_counter()
        held = await ledger.reserve_async(estimate, attribution)
        t3 = time.perf_counter()
        await breaker.report(permit, "success")
        await limiter.settle(res, USAGE)
        t4 = time.perf_counter()
        await ledger.settle_async(held, tracker.record_for(attribution, USAGE))
        t5 = time.perf_counter()
        for key, dt in zip(timings, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True):
            timings[key] += dt
    round_trips = sum(link.round_trips for link in links) - trips_before
    await limiter.reset()
    await breaker.reset()
    await ledger.reset()
    await redis.aclose()
    out = {f"{k}_us": round(v / n * 1e6, 1) for k, v in timings.items()}
    out["per_request_us"] = round(sum(timings.values()) / n * 1e6, 1)
    out["round_trips_per_request"] = round(round_trips / n, 2)
    out["ping_us"] = round(ping_us, 1)
    out["n"] = n
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15", help="empty string to skip")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result: dict[str, object] = {"memory": bench_memory(args.n), "target_memory_us": 20}
    if args.redis:
        try:
            result["redis"] = asyncio.run(bench_redis(args.redis, max(1, args.n // 10)))
        except Exception as exc:  # a bench without Redis still reports the in-memory numbers
            result["redis"] = {"error": f"{type(exc).__name__}: {exc}"}
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
    else:
        for section, values in result.items():
            print(section, values)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
