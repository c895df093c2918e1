"""Shared plumbing of the Redis backends: connection, script calls, and what to do when Redis is away.

Every Redis-backed policy makes one round trip per operation: a Lua script run with EVALSHA (redis-py's
``Script`` caches the SHA and re-loads the script once after a Redis restart). Scripts read Redis's own
clock (``TIME``), so the processes sharing a limiter may have drifting clocks.

When Redis cannot be reached, :class:`RedisLink` marks it down for ``retry_interval_s`` (so callers do
not each pay a connect timeout), reports a ``<policy>.fallback`` event, and the policy applies its
:class:`RedisFallback`: ``"local"`` (fail open to a local in-memory policy; for the limiter, with
``local_share`` of the quota) or ``"closed"`` (refuse). No Redis exception reaches the caller. After the
interval the next call tries Redis again; success reports ``<policy>.recovered``.

Example::

    redis = make_redis("redis://127.0.0.1:6379/0")
    limiter = RedisRateLimiter(redis, LimitConfig(rpm=500), name="openai-main",
                               fallback=RedisFallback(mode="local", local_share=0.25), clock=loop_clock())
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from harness.client.events import EventSink, PolicyEvent, ignore_events
from harness.clock import Clock
from harness.errors import ConfigError
from harness.validate import Table

__all__ = ["RedisFallback", "RedisLink", "RedisUnavailable", "make_redis"]


class RedisUnavailable(Exception):
    """Internal: Redis could not be reached; policies catch it and fall back (never raised to callers)."""


@dataclass(frozen=True, slots=True)
class RedisFallback:
    """What a Redis-backed policy does while Redis is unreachable.

    Example (TOML ``[client.redis]``)::

        url = "redis://127.0.0.1:6379/0"
        fallback = "local"      # or "closed"
        local_share = 0.25      # this process's share of the quota while on its own
        retry_interval_s = 1.0
    """

    mode: str = "local"  # "local": fail open to an in-memory policy; "closed": refuse
    local_share: float = 1.0  # limiter: fraction of the configured limits used locally (1 / processes)
    retry_interval_s: float = 1.0  # after a failure, Redis is not tried again for this long

    def __post_init__(self) -> None:
        if self.mode not in ("local", "closed"):
            raise ConfigError("redis.fallback", f'expected "local" or "closed", got {self.mode!r}')
        if not 0 < self.local_share <= 1:
            raise ConfigError("redis.local_share", f"expected a number in (0, 1], got {self.local_share!r}")
        if not self.retry_interval_s > 0:
            raise ConfigError("redis.retry_interval_s", f"expected a number > 0, got {self.retry_interval_s!r}")

    @classmethod
    def parse(cls, data: object, path: str = "redis") -> RedisFallback:
        t = Table(data, path)
        result = cls(
            mode=t.choice("fallback", ("local", "closed"), default="local"),
            local_share=t.float("local_share", default=1.0, min=0, max=1, exclusive_min=True),
            retry_interval_s=t.float("retry_interval_s", default=1.0, min=0, exclusive_min=True),
        )
        t.raw("url", default=None)  # read by make_redis's caller
        t.done()
        return result


def make_redis(url: str, *, timeout_s: float = 0.5) -> aioredis.Redis:
    """An asyncio Redis client with short timeouts, so an unreachable Redis is noticed quickly."""
    return aioredis.Redis.from_url(
        url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s, retry_on_timeout=False, decode_responses=False
    )


class RedisLink:
    """Runs a policy's scripts, notices Redis going away and coming back, and reports both."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        clock: Clock,
        fallback: RedisFallback,
        source: str,
        kind: str,
        on_event: EventSink = ignore_events,
    ) -> None:
        self.redis = redis  # the asyncio client
        self.fallback = fallback  # the configured fallback
        self.source = source  # policy name, for events
        self.kind = kind  # "limiter", "breaker" or "budget": event prefix
        self._clock = clock
        self._on_event = on_event
        self.down_until = -1.0  # clock time before which Redis is not tried
        self.down = False  # is Redis believed unreachable?
        self.round_trips = 0  # script calls sent (for the benchmark)
        self.failures = 0  # calls that failed for want of Redis

    def script(self, lua: str) -> Any:
        return self.redis.register_script(lua)

    async def run(self, script: Any, keys: Sequence[str], args: Sequence[object]) -> Any:
        """Run one script; raises :class:`RedisUnavailable` when Redis is (or was recently) unreachable."""
        now = self._clock()
        if self.down and now < self.down_until:
            raise RedisUnavailable(self.source)
        try:
            self.round_trips += 1
            result = await script(keys=list(keys), args=list(args))
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            self.failures += 1
            self.down_until = self._clock() + self.fallback.retry_interval_s
            if not self.down:
                self.down = True
                self._emit("fallback", type(exc).__name__)
            raise RedisUnavailable(self.source) from None
        except RedisError as exc:  # a script error is a bug, not an outage: still never crash the caller
            self.failures += 1
            self._emit("error", f"{type(exc).__name__}: {exc}")
            raise RedisUnavailable(self.source) from None
        if self.down:
            self.down = False
            self._emit("recovered", "redis answered")
        return result

    def _emit(self, what: str, reason: str) -> None:
        data = {"reason": reason, "mode": self.fallback.mode}
        self._on_event(PolicyEvent(f"{self.kind}.{what}", self.source, self._clock(), data))
