"""The Redis plumbing without a server: what counts as an outage, the connection gate, fallback settings, leases."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

import pytest
from redis.exceptions import BusyLoadingError, OutOfMemoryError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from harness.client.budget_lease import Lease
from harness.client.events import EventLog
from harness.client.redis_support import RedisFallback, RedisLink, RedisUnavailable
from harness.clock import ManualClock
from harness.errors import ConfigError


class _Pool:
    max_connections = 2


class _FakeRedis:
    """Just what RedisLink looks at: the pool's size (scripts are passed to ``run`` directly)."""

    connection_pool = _Pool()

    def register_script(self, lua: str) -> Any:
        return lua


def _link(clock: ManualClock, log: EventLog, **fallback: Any) -> RedisLink:
    fb = RedisFallback(**{"retry_interval_s": 1.0, "timeout_s": 0.5, "recovery_s": 2.0, **fallback})
    return RedisLink(_FakeRedis(), clock=clock, fallback=fb, source="s", kind="budget", on_event=log)  # type: ignore[arg-type]


def _raising(exc: BaseException) -> Callable[..., Any]:
    async def script(keys: list[str], args: list[object]) -> Any:
        raise exc

    return script


async def _ok(keys: list[str], args: list[object]) -> Any:
    return [1]


@pytest.mark.parametrize(
    ("error", "reason", "ambiguous"),
    [
        (RedisConnectionError("Connection refused"), "connection", True),
        (OSError("reset"), "connection", True),
        (BusyLoadingError("LOADING Redis is loading the dataset in memory"), "loading", False),
        (OutOfMemoryError("OOM command not allowed when used memory > 'maxmemory'"), "full (OOM)", False),
        (ResponseError("BUSY Redis is busy running a script"), "busy", False),
        (ResponseError("MASTERDOWN Link with MASTER is down"), "masterdown", False),
    ],
)
async def test_outages_mark_redis_down_until_the_retry_interval(
    error: BaseException, reason: str, ambiguous: bool
) -> None:
    clock, log = ManualClock(), EventLog()
    link = _link(clock, log)
    with pytest.raises(RedisUnavailable) as caught:
        await link.run(_raising(error), [], [])
    assert (caught.value.reason, caught.value.ambiguous) == (reason, ambiguous)
    assert link.down
    assert [e.kind for e in log] == ["budget.fallback"]
    with pytest.raises(RedisUnavailable, match="down"):  # not tried again meanwhile
        await link.run(_ok, [], [])
    clock.advance(1.0)
    assert await link.run(_ok, [], []) == [1]
    assert [e.kind for e in log] == ["budget.fallback", "budget.recovered"]


@pytest.mark.parametrize(
    "error",
    [RedisConnectionError("No connection available."), ResponseError("ERR user_script:3: bad argument")],
)
async def test_a_busy_pool_or_a_script_error_is_not_an_outage(error: BaseException) -> None:
    clock, log = ManualClock(), EventLog()
    link = _link(clock, log)
    with pytest.raises(RedisUnavailable):
        await link.run(_raising(error), [], [])
    assert not link.down
    assert "budget.fallback" not in [e.kind for e in log]
    assert await link.run(_ok, [], []) == [1]


async def test_timeouts_are_an_outage_only_after_two_timeouts_of_silence() -> None:
    clock, log = ManualClock(), EventLog()
    link = _link(clock, log)
    await link.run(_ok, [], [])

    async def slow_then_timeout(keys: list[str], args: list[object]) -> Any:
        clock.advance(0.5)
        raise RedisTimeoutError("Timeout reading from socket")

    with pytest.raises(RedisUnavailable) as first:
        await link.run(slow_then_timeout, [], [])
    assert first.value.ambiguous  # the script may have run
    assert not link.down  # one silence: a stall somewhere, not yet an outage
    with pytest.raises(RedisUnavailable):
        await link.run(slow_then_timeout, [], [])
    assert link.down  # silent for two timeouts
    assert [e.data["reason"] for e in log.of_kind("budget.fallback")] == ["TimeoutError"]


async def test_a_timeout_while_others_are_answered_is_a_slow_reply() -> None:
    clock, log = ManualClock(), EventLog()
    link = _link(clock, log)
    release = asyncio.Event()

    async def stuck(keys: list[str], args: list[object]) -> Any:
        await release.wait()
        raise TimeoutError

    slow = asyncio.ensure_future(link.run(stuck, [], []))
    await asyncio.sleep(0)
    clock.advance(0.1)
    assert await link.run(_ok, [], []) == [1]  # answered after the slow call was sent
    release.set()
    with pytest.raises(RedisUnavailable, match="slow reply"):
        await slow
    assert not link.down


async def test_no_more_calls_in_flight_than_connections() -> None:
    clock, log = ManualClock(), EventLog()
    link = _link(clock, log)
    in_flight = peak = 0

    async def script(keys: list[str], args: list[object]) -> Any:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0)
        in_flight -= 1
        return [1]

    results = await asyncio.gather(*(link.run(script, [], []) for _ in range(50)))
    assert results == [[1]] * 50  # every call waited for a connection, none failed
    assert peak == _Pool.max_connections
    assert not log.events


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"mode": "open"}, "redis.fallback"),
        ({"local_share": 0.0}, "redis.local_share"),
        ({"lease_share": 0.6}, "redis.lease_share"),
        ({"max_connections": 0}, "redis.max_connections"),
        ({"max_connections": True}, "redis.max_connections"),
        ({"timeout_s": math.inf}, "redis.timeout_s"),
        ({"recovery_s": 1.0}, "redis.recovery_s"),  # shorter than retry_interval_s + timeout_s
        ({"lease_s": 2.0}, "redis.lease_s"),  # shorter than 4 × retry_interval_s
    ],
)
def test_fallback_settings_are_validated_naming_the_field(fields: dict[str, Any], name: str) -> None:
    with pytest.raises(ConfigError, match=name.replace(".", r"\.")):
        RedisFallback(**fields)


def test_fallback_settings_parse_from_the_redis_table() -> None:
    fb = RedisFallback.parse({"url": "redis://x", "fallback": "closed", "lease_share": 0.1, "max_connections": 32})
    assert (fb.mode, fb.lease_share, fb.max_connections, fb.local_share) == ("closed", 0.1, 32, None)
    with pytest.raises(ConfigError, match=r"redis\.lease_shar"):
        RedisFallback.parse({"lease_shar": 0.1})
    slow = RedisFallback.parse({"retry_interval_s": 5, "timeout_s": 2})  # the derived settings follow
    assert (slow.recovery_s, slow.lease_s) == (8.0, 300.0)
    with pytest.raises(ConfigError, match=r"redis\.recovery_s"):
        RedisFallback.parse({"retry_interval_s": 5, "recovery_s": 3})


def test_a_lease_is_used_only_while_valid_and_books_spend_once() -> None:
    lease = Lease()
    assert lease.available(0.0) == 0  # none yet
    lease.update(1000, 3, "A", sent=10.0, lease_s=100.0, renewed=True)
    assert lease.available(10.0) == 1000
    assert lease.available(10.0 + 97.95) == 0  # expired (early, never late: from the time the call was sent)
    lease.update(500, 2, "A", sent=11.0, lease_s=100.0, renewed=True)  # an older answer arriving late
    assert lease.amount == 1000
    lease.held += 300
    assert lease.available(20.0) == 700
    lease.held -= 300
    lease.spent += 200  # settled locally: not yet in Redis
    assert (lease.available(20.0), lease.locked, lease.dirty) == (800, 200, True)
    lease.booked(200, 800, 4, "A")  # Redis booked it: the lease shrank by what was spent
    assert (lease.amount, lease.applied, lease.dirty, lease.available(20.0)) == (800, 200, False, 800)
    lease.update(0, 5, "R", sent=30.0, lease_s=100.0, renewed=False)  # written off by Redis
    assert (lease.written_off, lease.dirty, lease.available(30.0)) == (True, True, 0)
    lease.booked(200, 0, -1, "-")  # refunded: a new lease comes with the next reservation
    assert (lease.written_off, lease.version, lease.amount) == (False, -1, 0)
