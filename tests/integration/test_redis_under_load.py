"""The shared policies keep their promises under their own load and through Redis faults (docs/client-policies.md).

Four worker processes (each its own event loop and the reference client's real call path) share one
hard budget or one rate limit through Redis; the provider's billing ledgers are the truth about what
was spent, the limiter's admissions are timed on the host's clock. Faults hit a private redis-server
(no persistence: a restart loses everything) once the fleet has spent part of the budget.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.integration.redis_fleet import (
    BudgetJob,
    Fleet,
    LimiterJob,
    RedisKnobs,
    max_in_window,
    sleep_until,
    total_billed,
)
from tests.integration.redis_server import PrivateRedis

pytestmark = [pytest.mark.redis, pytest.mark.slow]

#: the production defaults of RedisFallback (timeouts of 1 s, retry after 1 s, recovery 3 s)
PRODUCTION = RedisKnobs(retry_interval_s=1.0, timeout_s=1.0, recovery_s=3.0, lease_s=300.0)
PRODUCTION_CLOSED = RedisKnobs(mode="closed", retry_interval_s=1.0, timeout_s=1.0, recovery_s=3.0)


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    workers = Fleet(4)
    try:
        yield workers
    finally:
        workers.close()


def _events(results: list[dict[str, Any]], prefix: str) -> int:
    return sum(n for r in results for kind, n in r["events"].items() if kind.startswith(prefix))


def _summary(results: list[dict[str, Any]]) -> str:
    keep = ("statuses", "served_locally", "refused_locally", "hard_after_recovery", "billed")
    rows = [{k: r[k] for k in keep if k in r} | {"events": {k: n for k, n in r["events"].items()
            if not k.startswith("budget_hard")}} for r in results]  # fmt: skip
    return "\n".join(str(row) for row in rows)


def _name(what: str) -> str:
    return f"{what}-{uuid.uuid4().hex[:8]}"


def test_a_hard_budget_never_overspends_under_its_own_load(fleet: Fleet, redis_url: str) -> None:
    """4 processes × 125 concurrent requests (more than the default pool of any Redis client), 10 runs."""
    cap = Decimal("0.02")  # about 40 % of what the 500 requests would cost
    for run in range(10):
        knobs = PRODUCTION if run < 5 else PRODUCTION_CLOSED
        results = fleet.run(BudgetJob(redis_url, _name("own-load"), str(cap), knobs, users=125))
        billed = total_billed(results)
        assert billed <= cap, f"run {run} ({knobs.mode}): billed {billed} over the cap {cap}"
        assert billed >= cap * Decimal("0.4"), f"run {run}: only {billed} of {cap} spent"
        assert sum(r["statuses"].get("BudgetExceeded", 0) for r in results) > 0  # the cap did bind
        assert _events(results, "budget_fallback") == 0, f"run {run}: its own load was taken for an outage"


def _until_spent(server: PrivateRedis, job: BudgetJob, fraction: float) -> None:
    """Wait until the fleet has spent ``fraction`` of the cap (so a fault lands mid-budget)."""
    key = f"{{harness:budget:{job.name}}}:0:global:cal:0"
    target = Decimal(job.cap_usd) * Decimal(fraction) / Decimal("1e-12")
    with server.client() as r:
        for _ in range(2000):
            if Decimal(int(r.get(key) or 0)) >= target:
                return
            time.sleep(0.01)
    raise AssertionError(f"the fleet never spent {fraction:.0%} of the cap")


def _kill_and_restart(server: PrivateRedis) -> None:
    server.stop()
    time.sleep(1.0)
    server.start()


def _pause(server: PrivateRedis) -> None:
    server.pause()
    time.sleep(1.5)
    server.resume()


def _fill(server: PrivateRedis) -> None:
    server.fill()
    time.sleep(1.0)
    server.unfill()


def _slow(server: PrivateRedis) -> None:
    with server.client() as r:
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            r.execute_command("DEBUG", "SLEEP", "0.2")  # every call waits up to 0.2 s: slow, not down
            time.sleep(0.05)


FAULTS: dict[str, Callable[[PrivateRedis], None]] = {
    "killed": _kill_and_restart, "paused": _pause, "full": _fill, "slow": _slow,
}  # fmt: skip


@pytest.mark.parametrize(
    ("fault", "mode"),
    [("killed", "closed"), ("killed", "local"), ("paused", "closed"), ("paused", "local"), ("full", "closed"),
     ("slow", "local")],
)  # fmt: skip
def test_a_hard_budget_never_overspends_through_redis_faults(
    fleet: Fleet, private_redis: PrivateRedis, fault: str, mode: str
) -> None:
    """Overspend 0 in both modes: closed refuses, local spends only the leases it holds (bound: 0).

    (That leases do serve while Redis is away is shown one process at a time in test_redis_outage.py: under
    this much contention the pool is full of holds and each process has drawn its lease down already.)
    """
    cap = Decimal("0.04")
    job = BudgetJob(private_redis.url, _name(fault), str(cap), RedisKnobs(mode=mode), run_s=6.0, ttft=(0.5, 1.0))

    def during() -> None:
        _until_spent(private_redis, job, 0.4)
        FAULTS[fault](private_redis)

    results = fleet.run(job, during)
    billed = total_billed(results)
    summary = _summary(results)
    assert billed <= cap, f"{fault}/{mode}: billed {billed} over the cap {cap}\n{summary}"
    # demand went on after the fault until the shared cap refused it: a lost or unreconciled state would show
    assert sum(r["hard_after_recovery"] for r in results) > 0, summary
    if fault == "slow":
        assert _events(results, "budget_fallback") == 0, f"a slow Redis was taken for an outage\n{summary}"
    elif fault == "killed":
        assert _events(results, "budget_fallback") >= 4, summary  # every process noticed
    else:  # a pause is noticed after two timeouts of silence; a call in between is refused alone
        assert _events(results, "budget_fallback") >= 1, summary
    if fault == "killed":
        assert _events(results, "budget_reseeded") == 4, summary  # every process put back what it knew
    if mode == "closed":
        assert sum(r["served_locally"] for r in results) == 0


@pytest.mark.parametrize("mode", ["closed", "local"])
def test_the_limiters_window_survives_a_redis_restart(fleet: Fleet, private_redis: PrivateRedis, mode: str) -> None:
    """Admissions across processes never exceed the limit in any window (tolerance 0), across the restart."""
    limit, window = 20, 1.0
    job = LimiterJob(private_redis.url, _name("window"), limit, window, RedisKnobs(mode=mode), run_s=6.0)
    log, members = f"{{harness:limiter:{job.name}}}:log", f"{{harness:limiter:{job.name}}}:members"

    def during() -> None:
        with private_redis.client() as r:  # once every process has been seen and the window is in use
            for _ in range(2000):
                if r.zcard(members) >= 4 and r.zcard(log) >= limit // 2:
                    break
                time.sleep(0.01)
        t0 = time.monotonic()
        sleep_until(t0, 0.4)
        private_redis.stop()
        sleep_until(t0, 2.6)  # down for more than a window: local mode admits on its own
        private_redis.start()

    results = fleet.run(job, during)
    admitted = [t for r in results for t, _ in r["admitted"]]
    summary = "\n".join(str(r["events"]) for r in results)
    assert max_in_window(admitted, window) <= limit, summary
    assert _events(results, "limiter.reseeded") >= 1, summary  # the restart was noticed (and the log re-seeded)
    first = min(admitted)
    assert any(t > first + 3.2 for t in admitted)  # admitting again after the restart and the recovery
    local = [t for r in results for t, backend in r["admitted"] if backend == "local"]
    if mode == "local":
        assert local, "no admission was made without Redis"
        assert _events(results, "limiter.written_back") >= 1
    else:
        assert not local
