"""Shared plumbing of the Redis backends: the connection, script calls, error classes and epochs.

Every Redis-backed policy makes one round trip per operation: a Lua script run with EVALSHA (redis-py's
``Script`` re-loads it once after a Redis restart). Scripts read Redis's own clock (``TIME``), so the
processes sharing a policy may have drifting clocks.

**Connections.** :func:`make_redis` builds a client on a *blocking* pool of ``max_connections`` with
redis-py's own retries off (a retried script could run twice), and :class:`RedisLink` lets at most that
many script calls of one client run at once: a burst of concurrent requests waits for a connection
(``pool_timeout_s`` at most) instead of failing, so the process's own load is never taken for an outage.

**What counts as an outage.** A refused or reset connection, timeouts while *nothing* answered for two
timeouts in a row, ``LOADING`` (a restart reading its data), ``BUSY`` (another script hogs the server),
``OOM`` (``maxmemory`` reached with ``noeviction``: Redis is full), ``READONLY`` / ``MASTERDOWN`` (a
failover) and a failed login mark Redis down for ``retry_interval_s`` and report ``<policy>.fallback``.
A timeout while other calls were answered (Redis merely slow, or this process's loop busy), or the
first of a silence, fails only that call, as does a wait for a connection past ``pool_timeout_s``. A
script error is a bug (``<policy>.error``), never an outage. Timeouts and broken connections are
*ambiguous* — the script may have run — and the policies treat them so (a budget hold is cancelled
later, a limiter admission simply stays booked). No Redis exception reaches the caller
(:class:`RedisUnavailable` is internal).

**Epochs.** Each shared policy keeps an epoch key (a random id). A Redis restart without persistence,
or ``FLUSHDB``, loses it with the state; the first script to run afterwards creates a new one, and
every process that knew the old id is told so by its next script call, re-seeds what it knows of the
lost state, and then carries on. While the new epoch *recovers* (``recovery_s`` after the first process
that knew the old epoch noticed), the limiter admits nothing and the budget holds nothing new from the
shared pool, so that every live process has re-seeded before the shared limits are trusted again. (A
limiter without any limit, configured or learned, has nothing to protect and always admits.)
"""

from __future__ import annotations

import asyncio
import math
import random
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import (
    AuthenticationError,
    BusyLoadingError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from harness.client.events import EventSink, PolicyEvent, ignore_events
from harness.clock import Clock
from harness.errors import ConfigError
from harness.validate import Table

__all__ = ["EPOCH_LUA", "RedisFallback", "RedisLink", "RedisUnavailable", "make_redis", "redis_client", "text"]

#: Lua prelude of every epoch-checked script. KEYS[1]: the epoch hash; ARGV[1]: the epoch the caller
#: knows ("" = none yet), ARGV[2]: the id to create a missing epoch with, ARGV[3]: recovery seconds.
#: Defines NOW (Redis time), f() (exact number format), EPOCH and RECOVER_UNTIL, and returns
#: {-1, epoch, recover_until} when the caller's epoch is not the current one.
EPOCH_LUA = r"""
local T = redis.call('TIME'); local NOW = tonumber(T[1]) + tonumber(T[2]) / 1000000
local function f(x) return string.format('%.17g', x) end
local EPOCH, RECOVER_UNTIL
do
  local e = redis.call('HMGET', KEYS[1], 'id', 'until')
  if not e[1] then
    local u = 0
    if ARGV[1] ~= '' then u = NOW + tonumber(ARGV[3]) end
    redis.call('HSET', KEYS[1], 'id', ARGV[2], 'until', f(u))
    e = {ARGV[2], f(u)}
  end
  EPOCH, RECOVER_UNTIL = e[1], tonumber(e[2])
end
if ARGV[1] ~= '' and ARGV[1] ~= EPOCH then return {-1, EPOCH, f(RECOVER_UNTIL)} end
"""

# extend the recovery period of the current epoch (a process wrote back admissions made on its own)
_EXTEND_RECOVERY = (
    EPOCH_LUA
    + r"""
local u = math.max(RECOVER_UNTIL, NOW + tonumber(ARGV[4]))
redis.call('HSET', KEYS[1], 'until', f(u))
return {1, EPOCH, f(u - NOW)}
"""
)


class RedisUnavailable(Exception):
    """Internal: no answer from Redis for this call; policies catch it and fall back (never raised to callers).

    ``ambiguous``: the script may have run all the same (a timeout, a connection broken mid-call).
    """

    def __init__(self, source: str, reason: str, *, ambiguous: bool = False) -> None:
        super().__init__(f"{source}: {reason}")
        self.reason = reason
        self.ambiguous = ambiguous


@dataclass(frozen=True, slots=True)
class RedisFallback:
    """What Redis-backed policies do while Redis is unreachable, and how they come back.

    Example (TOML ``[client.redis]``)::

        url = "redis://127.0.0.1:6379/0"
        fallback = "local"          # or "closed"
        # local_share = 0.25        # limiter: this process's share while alone (default: 1 / processes seen)
        retry_interval_s = 1.0
        recovery_s = 3.0
        lease_share = 0.05          # budgets: each process holds this much of every hard limit in advance
        lease_s = 300
    """

    mode: str = "local"  # "local": go on with what this process holds; "closed": refuse
    local_share: float | None = None  # limiter share while alone; None: 1 / processes seen recently
    retry_interval_s: float = 1.0  # after an outage is noticed, Redis is not tried again for this long
    recovery_s: float = 3.0  # after a restart lost the shared state: nothing new admitted this long
    lease_share: float = 0.05  # budgets (local mode): fraction of each hard limit held in advance
    lease_s: float = 300.0  # a lease not renewed this long is written off as spent (refunded on return)
    max_connections: int = 16  # Redis connections of one process (more concurrent script calls wait)
    timeout_s: float = 1.0  # connect and reply timeout of one script call
    pool_timeout_s: float = 5.0  # longest wait for a free connection before the call fails (not an outage)

    def __post_init__(self) -> None:
        if self.mode not in ("local", "closed"):
            raise ConfigError("redis.fallback", f'expected "local" or "closed", got {self.mode!r}')
        share = self.local_share
        if share is not None and not (isinstance(share, int | float) and 0 < share <= 1):
            raise ConfigError("redis.local_share", f"expected a number in (0, 1], got {share!r}")
        if not (isinstance(self.lease_share, int | float) and 0 <= self.lease_share <= 0.5):
            raise ConfigError("redis.lease_share", f"expected a number in [0, 0.5], got {self.lease_share!r}")
        if isinstance(self.max_connections, bool) or not isinstance(self.max_connections, int):
            raise ConfigError("redis.max_connections", f"expected an integer ≥ 1, got {self.max_connections!r}")
        if self.max_connections < 1:
            raise ConfigError("redis.max_connections", f"expected an integer ≥ 1, got {self.max_connections!r}")
        for name in ("retry_interval_s", "recovery_s", "lease_s", "timeout_s", "pool_timeout_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ConfigError(f"redis.{name}", f"expected a number > 0, got {value!r}")
        if self.recovery_s < self.retry_interval_s + self.timeout_s:
            expected = f"a number ≥ retry_interval_s + timeout_s ({self.retry_interval_s + self.timeout_s:g})"
            raise ConfigError("redis.recovery_s", f"expected {expected}, got {self.recovery_s!r}")
        if self.lease_s < 4 * self.retry_interval_s:
            expected = f"a number ≥ 4 × retry_interval_s ({4 * self.retry_interval_s:g})"
            raise ConfigError("redis.lease_s", f"expected {expected}, got {self.lease_s!r}")

    @classmethod
    def parse(cls, data: object, path: str = "redis") -> RedisFallback:
        t = Table(data, path)
        d = cls()
        retry = t.float("retry_interval_s", default=d.retry_interval_s, min=0, exclusive_min=True)
        timeout = t.float("timeout_s", default=d.timeout_s, min=0, exclusive_min=True)
        # not given: long enough for the retry and timeout given (a second more than both)
        recovery = max(d.recovery_s, retry + timeout + 1.0) if not t.has("recovery_s") else None
        lease_s = max(d.lease_s, 4 * retry) if not t.has("lease_s") else None
        result = cls(
            mode=t.choice("fallback", ("local", "closed"), default="local"),
            local_share=t.float("local_share", default=None, min=0, max=1, exclusive_min=True),
            retry_interval_s=retry,
            recovery_s=t.float("recovery_s", default=recovery, min=0, exclusive_min=True),
            lease_share=t.float("lease_share", default=d.lease_share, min=0, max=0.5),
            lease_s=t.float("lease_s", default=lease_s, min=0, exclusive_min=True),
            max_connections=t.int("max_connections", default=d.max_connections, min=1),
            timeout_s=timeout,
            pool_timeout_s=t.float("pool_timeout_s", default=d.pool_timeout_s, min=0, exclusive_min=True),
        )
        t.raw("url", default=None)  # read by the caller
        t.raw("name", default=None)
        t.done()
        return result


def make_redis(
    url: str, *, timeout_s: float = 1.0, max_connections: int = 16, pool_timeout_s: float = 5.0
) -> aioredis.Redis:
    """An asyncio Redis client for the policies: short timeouts, a blocking pool, no retries of its own.

    ``max_connections`` bounds this process's connections; more concurrent calls wait for one (at most
    ``pool_timeout_s``) rather than fail. Pass the same numbers as the policies' :class:`RedisFallback`.
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=pool_timeout_s, socket_connect_timeout=timeout_s,
        socket_timeout=timeout_s, retry_on_timeout=False, retry=Retry(NoBackoff(), 0), decode_responses=False,
    )  # fmt: skip
    from_pool = getattr(aioredis.Redis, "from_pool", None)
    if from_pool is not None:
        client: aioredis.Redis = from_pool(pool)
        return client
    return aioredis.Redis(connection_pool=pool, auto_close_connection_pool=True)  # pragma: no cover - redis < 5.0.1


def redis_client(url: str, fallback: RedisFallback) -> aioredis.Redis:
    """:func:`make_redis` with the connection settings of ``fallback``."""
    return make_redis(
        url, timeout_s=fallback.timeout_s, max_connections=fallback.max_connections,
        pool_timeout_s=fallback.pool_timeout_s,
    )  # fmt: skip


#: one gate per Redis client: at most as many script calls in flight as the pool has connections
_GATES: weakref.WeakKeyDictionary[Any, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def _gate(redis: Any) -> asyncio.Semaphore:
    gate = _GATES.get(redis)
    if gate is None:
        pool = getattr(redis, "connection_pool", None)
        size = getattr(pool, "max_connections", None)
        gate = _GATES[redis] = asyncio.Semaphore(size if isinstance(size, int) and 0 < size < 100_000 else 16)
    return gate


def _is_outage_reply(exc: ResponseError) -> str | None:
    """The outage a Redis error reply means (the script did not run), or None for a genuine error."""
    if isinstance(exc, OutOfMemoryError):
        return "full (OOM)"
    if isinstance(exc, ReadOnlyError):
        return "read-only replica"
    text = str(exc)
    for prefix in ("BUSY", "LOADING", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "OOM", "READONLY"):
        if text.startswith(prefix):
            return prefix.lower()
    return None


class RedisLink:
    """Runs a policy's scripts, classifies failures, notices Redis going away and coming back."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        clock: Clock,
        fallback: RedisFallback,
        source: str,
        kind: str,
        on_event: EventSink = ignore_events,
        epoch_key: str = "",
    ) -> None:
        self.redis = redis  # the asyncio client
        self.fallback = fallback  # the configured fallback
        self.source = source  # policy name, for events
        self.kind = kind  # "limiter", "breaker" or "budget": event prefix
        self._clock = clock
        self._on_event = on_event
        self.down_until = -1.0  # clock time before which Redis is not tried
        self.down = False  # is Redis believed unreachable?
        self.down_since = -1.0  # clock time the current outage was noticed
        self.last_ok = -math.inf  # clock time of the last answer
        self._silent_since: float | None = None  # first timeout with no answer since (None: answers flow)
        self.round_trips = 0  # script calls sent (for the benchmark)
        self.failures = 0  # calls that got no answer
        self.epoch = ""  # the shared state's epoch this process knows ("" before the first answer)
        self.epoch_key = epoch_key  # the policy's epoch hash ("": the policy keeps no epoch)
        self._token = f"{random.Random().getrandbits(64):016x}"
        self._epochs = 0
        self._extend = self.script(_EXTEND_RECOVERY)

    @property
    def token(self) -> str:
        """Random per process (per link): makes ids unique across the processes sharing a policy."""
        return self._token

    def script(self, lua: str) -> Any:
        return self.redis.register_script(lua)

    def epoch_args(self, epoch: str | None = None) -> list[object]:
        """ARGV[1..3] of an epoch-checked script."""
        self._epochs += 1
        known = self.epoch if epoch is None else epoch
        return [known, f"{self._token}.{self._epochs}", self.fallback.recovery_s]

    async def run_checked(
        self,
        script: Any,
        keys: Sequence[str],
        args: Sequence[object],
        reseed: Callable[[str, float], Awaitable[None]],
        name: str,
    ) -> Any:
        """Run an epoch-checked script (``keys`` begin with the epoch key, ``args`` follow the epoch's);
        call ``reseed(epoch, recovered_at)`` and run it again when Redis lost the state meanwhile."""
        for _ in range(4):
            reply = await self.run(script, keys, [*self.epoch_args(), *args])
            if int(reply[0]) != -1:
                if not self.epoch:
                    self.epoch = text(reply[1])
                return reply
            await reseed(text(reply[1]), float(reply[2]))
        raise RedisUnavailable(name, "the state keeps being lost")

    async def run(self, script: Any, keys: Sequence[str], args: Sequence[object]) -> Any:
        """Run one script; raises :class:`RedisUnavailable` when there is no answer (see the module docstring)."""
        if self.down and self._clock() < self.down_until:
            raise RedisUnavailable(self.source, "down")
        gate = _gate(self.redis)
        if gate.locked():  # wait for a connection: our own load, not an outage
            try:
                async with asyncio.timeout(self.fallback.pool_timeout_s):
                    await gate.acquire()
            except TimeoutError:
                self.failures += 1
                raise RedisUnavailable(self.source, "no free connection") from None
        else:
            await gate.acquire()
        try:
            if self.down and self._clock() < self.down_until:  # went down while we waited
                raise RedisUnavailable(self.source, "down")
            sent = self._clock()
            self.round_trips += 1
            try:
                result = await script(keys=list(keys), args=list(args))
            except (RedisTimeoutError, TimeoutError) as exc:
                self.failures += 1
                now = self._clock()
                if self.last_ok > sent:  # others were answered meanwhile: slow, not down
                    raise RedisUnavailable(self.source, "slow reply", ambiguous=True) from None
                if self._silent_since is None:  # the first silence: a stall here or there, not yet an outage
                    self._silent_since = now
                elif now - self._silent_since >= self.fallback.timeout_s:  # silent for two timeouts: down
                    self._mark_down(type(exc).__name__)
                raise RedisUnavailable(self.source, "timeout", ambiguous=True) from None
            except BusyLoadingError:
                self.failures += 1
                self._mark_down("loading")
                raise RedisUnavailable(self.source, "loading") from None
            except AuthenticationError as exc:
                self.failures += 1
                self._emit("error", f"{type(exc).__name__}: login refused")
                self._mark_down("login refused")
                raise RedisUnavailable(self.source, "login refused") from None
            except (RedisConnectionError, OSError) as exc:
                self.failures += 1
                if "No connection available" in str(exc):  # the pool's own wait ran out: our load
                    raise RedisUnavailable(self.source, "no free connection") from None
                self._mark_down(type(exc).__name__)
                raise RedisUnavailable(self.source, "connection", ambiguous=True) from None
            except ResponseError as exc:
                self.failures += 1
                outage = _is_outage_reply(exc)
                if outage is None:  # a script error is a bug, not an outage: still never crash the caller
                    self._emit("error", f"{type(exc).__name__}: {str(exc)[:200]}")
                    raise RedisUnavailable(self.source, "script error") from None
                self._mark_down(outage)
                raise RedisUnavailable(self.source, outage) from None
            except RedisError as exc:
                self.failures += 1
                self._emit("error", f"{type(exc).__name__}: {str(exc)[:200]}")
                raise RedisUnavailable(self.source, "error") from None
        finally:
            gate.release()
        now = self._clock()
        self.last_ok = max(self.last_ok, now)
        self._silent_since = None
        if self.down:
            self.down = False
            self._emit("recovered", "redis answered")
        return result

    async def extend_recovery(self, seconds: float, epoch: str | None = None) -> bool:
        """Keep the shared pool closed ``seconds`` from now (after admissions made without Redis, or when
        the new epoch was made by a process that never saw the old state). False: the epoch changed."""
        reply = await self.run(self._extend, [self.epoch_key], [*self.epoch_args(epoch), seconds])
        return int(reply[0]) != -1

    def _mark_down(self, reason: str) -> None:
        now = self._clock()
        self.down_until = now + self.fallback.retry_interval_s
        if not self.down:
            self.down = True
            self.down_since = now
            self._emit("fallback", reason)

    def _emit(self, what: str, reason: str) -> None:
        data = {"reason": reason, "mode": self.fallback.mode}
        self._on_event(PolicyEvent(f"{self.kind}.{what}", self.source, self._clock(), data))


def text(value: object) -> str:
    """A script's reply item as text (replies are bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)
