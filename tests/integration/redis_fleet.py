"""A fleet of worker processes that load the Redis-backed policies, for the load and fault tests.

Each worker is a real process (spawned once per test module) with its own event loop. A job runs in
all workers at once (a barrier starts them together, so the test can inject a fault at a known
moment): a :class:`BudgetJob` sends requests through the reference client's real call path
(``ResilientClient`` → budget in Redis → the in-memory transport → a fake provider core of the
worker's own, whose billing ledger is the truth about what was spent); a :class:`LimiterJob` drives a
:class:`RedisRateLimiter` and records every admission on the host's clock. Everything is bounded in
time (``run_s``) and stops by itself.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class RedisKnobs:
    """The fallback settings under test (short intervals: the tests last seconds)."""

    mode: str = "local"
    retry_interval_s: float = 0.25
    timeout_s: float = 0.5
    recovery_s: float = 1.0
    lease_share: float = 0.05
    lease_s: float = 30.0

    def fallback(self) -> Any:
        from harness.client.redis_support import RedisFallback

        return RedisFallback(
            mode=self.mode, retry_interval_s=self.retry_interval_s, timeout_s=self.timeout_s,
            recovery_s=self.recovery_s, lease_share=self.lease_share, lease_s=self.lease_s,
        )  # fmt: skip


@dataclass(frozen=True)
class BudgetJob:
    """``users`` concurrent users per worker send requests for ``run_s`` against a shared hard budget."""

    url: str
    name: str
    cap_usd: str
    knobs: RedisKnobs
    users: int = 125
    run_s: float = 0.0  # 0: each user sends exactly one request
    ttft: tuple[float, float] = (0.05, 0.15)  # the provider's latency, uniform
    max_tokens: int = 200


@dataclass(frozen=True)
class LimiterJob:
    """``users`` concurrent users per worker ask a shared limiter for ``run_s`` and record admissions."""

    url: str
    name: str
    limit: int
    window_s: float
    knobs: RedisKnobs
    users: int = 20
    run_s: float = 4.0


async def _budget(job: BudgetJob, worker: int) -> dict[str, Any]:
    from fake_provider import ModelConfig, ProviderConfig, ProviderCore
    from harness.client import (
        BudgetRule,
        ClientConfig,
        ModelSpec,
        RedisConfig,
        ResilientClient,
        RetryConfig,
        Timeouts,
    )
    from harness.client.types import ChatRequest, Message
    from harness.clock import loop_clock
    from harness.distributions import Distribution
    from harness.pricing import DEFAULT_PRICES
    from harness.runner.memory_transport import MemoryTransport

    model = ModelConfig("gpt-4o-mini", "openai", DEFAULT_PRICES["gpt-4o-mini"], ttft=Distribution.uniform(*job.ttft))
    core = ProviderCore(ProviderConfig(seed=worker).with_models(model), clock=loop_clock())
    config = ClientConfig(
        models=(ModelSpec("gpt-4o-mini", "openai", api_keys=("sk-test",)),),
        budgets=(BudgetRule("global", "*", "total", "rolling", hard_usd=Decimal(job.cap_usd)),),
        redis=RedisConfig(job.url, job.name, job.knobs.fallback()),
        retry=RetryConfig(max_attempts=1), breaker=None, timeouts=Timeouts(total_s=30), seed=worker,
    )  # fmt: skip
    loop = asyncio.get_running_loop()
    end = loop.time() + job.run_s
    async with ResilientClient(config, transport=MemoryTransport(core)) as client:

        async def user(u: int) -> None:
            n = 0
            while True:
                text = f"worker {worker} user {u} question {n}"
                ok = await client.call(ChatRequest("gpt-4o-mini", (Message("user", text),), max_tokens=job.max_tokens))
                n += 1
                if loop.time() >= end:
                    return
                if not ok:
                    await asyncio.sleep(0.2)  # refused: ask again a little later

        await asyncio.gather(*(user(u) for u in range(job.users)))
        statuses = Counter(o.status for o in client.outcomes())
        events = Counter(f"{e.kind}:{e.detail}" for e in client.events())
        back = max((e.t for e in client.events() if e.kind in ("budget_recovered", "budget_reseeded")), default=0.0)
        hard_after = sum(1 for e in client.events() if e.kind == "budget_hard" and e.t > back)
        client_cost = sum((Decimal(o.cost_usd) for o in client.outcomes()), Decimal(0))
        ledger: Any = client.budgets
    return {
        "served_locally": ledger.served_locally,
        "refused_locally": ledger.refused_locally,
        "hard_after_recovery": hard_after,  # refusals by the shared cap once Redis was back
        "billed": str(core.ledger.total.cost_usd),
        "client_cost": str(client_cost),
        "statuses": dict(statuses),
        "events": dict(events),
    }


async def _limiter(job: LimiterJob, worker: int) -> dict[str, Any]:
    from harness.client.limiter import Demand, LimitConfig
    from harness.client.limiter_redis import RedisRateLimiter
    from harness.client.redis_support import redis_client
    from harness.pricing import Usage

    knobs = job.knobs.fallback()
    redis = redis_client(job.url, knobs)
    events: Counter[str] = Counter()
    limiter = RedisRateLimiter(
        redis, LimitConfig(rpm=job.limit, window_s=job.window_s), name=job.name, clock=time.monotonic,
        fallback=knobs, on_event=lambda e: events.update([e.kind]),
    )  # fmt: skip
    admitted: list[tuple[float, str]] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + job.run_s

    async def user() -> None:
        ticket = None
        while loop.time() < end:
            res = await limiter.acquire(Demand(), ticket=ticket)
            if res.granted:
                admitted.append((res.at if res.backend == "redis" else time.time(), res.backend))
                ticket = None
                await asyncio.sleep(0.005)
                await limiter.settle(res, Usage())
            else:
                ticket = res
                await asyncio.sleep(min(res.wait_s, 0.05))
        if ticket is not None:
            await limiter.cancel(ticket)

    try:
        await asyncio.gather(*(user() for _ in range(job.users)))
    finally:
        await redis.aclose()
    return {"admitted": admitted, "events": dict(events)}


def _serve(commands: Any, results: Any, barrier: Any, worker: int) -> None:
    import fake_provider  # noqa: F401  (imported before the first barrier: a job starts at once)
    import harness.client
    import harness.client.limiter_redis  # noqa: F401

    while True:
        job = commands.get()
        if job is None:
            return
        barrier.wait()
        try:
            run = _budget if isinstance(job, BudgetJob) else _limiter
            out = asyncio.run(run(job, worker))  # type: ignore[operator]
        except BaseException:
            out = {"error": traceback.format_exc()}
        results.put(out)


class Fleet:
    """``size`` spawned worker processes that run jobs together."""

    def __init__(self, size: int = 4) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.size = size
        self._barrier = ctx.Barrier(size + 1)
        self._commands = [ctx.Queue() for _ in range(size)]
        self._results = ctx.Queue()
        self._procs = [
            ctx.Process(target=_serve, args=(q, self._results, self._barrier, i), daemon=True)
            for i, q in enumerate(self._commands)
        ]
        for p in self._procs:
            p.start()

    def run(self, job: BudgetJob | LimiterJob, during: Callable[[], None] | None = None) -> list[dict[str, Any]]:
        """Run ``job`` in every worker; ``during`` runs here once they have started (faults); results."""
        for q in self._commands:
            q.put(job)
        self._barrier.wait(timeout=60)
        if during is not None:
            during()
        out = [self._results.get(timeout=120) for _ in range(self.size)]
        errors = [o["error"] for o in out if "error" in o]
        assert not errors, errors[0]
        return out

    def close(self) -> None:
        for q in self._commands:
            q.put(None)
        for p in self._procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
                p.join()


def max_in_window(times: list[float], window_s: float) -> int:
    """The most admissions in any window (t - window_s, t]."""
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - window_s:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def total_billed(results: list[dict[str, Any]]) -> Decimal:
    return sum((Decimal(r["billed"]) for r in results), Decimal(0))


def sleep_until(t0: float, at: float) -> None:
    time.sleep(max(0.0, t0 + at - time.monotonic()))
