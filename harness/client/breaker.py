"""The circuit breaker: stop calling a provider that is failing, probe it, resume when it recovers.

States: **closed** (calls pass; outcomes are counted), **open** (calls are refused with
:class:`~harness.errors.CircuitOpen` until the open period ends), **half-open** (at most
``half_open_probes`` calls in flight; ``half_open_probes`` successes close the circuit, one failure
re-opens it). It trips, while closed, on any of:

* ``consecutive_failures`` failures in a row;
* a failure rate ≥ ``failure_rate`` over the window (the last ``window_size`` calls, or the last
  ``window_s`` seconds with ``window = "time"``) once it holds ``minimum_calls``;
* a slow-call rate ≥ ``slow_call_rate`` over the same window, a call being slow when its reported
  duration (or time to first token) is ≥ ``slow_call_s`` (resilience4j's model).

The open period is the provider's retry hint when the tripping failure carried one (capped at
``max_hint_open_s``), else the ``open_backoff`` schedule for the number of consecutive trips: growing
and jittered, so a fleet of clients does not probe in step. Either way it never exceeds
``max_open_s`` (default 30 s): a primary that recovered is probed within that long, instead of
traffic staying on a (often dearer) fallback for minutes while the schedule grows. Which outcome
kinds count as failures is configurable (:data:`OUTCOME_KINDS`; 429 ``rate_limited`` is separate
from 5xx and not counted by default: a rate limit says "slow down", not "broken"). Every state change
is a ``breaker.state`` event.

Use::

    permit = breaker.allow()            # raises CircuitOpen when open
    ...                                 # make the call
    breaker.record(permit, outcome_kind(error), duration_s=ttft, retry_after_s=error.retry_after_s)
"""

from __future__ import annotations

import itertools
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from harness.client.backoff import Backoff, equal_jitter
from harness.client.events import EventSink, PolicyEvent, ignore_events
from harness.client.fastinit import positional_maker
from harness.clock import Clock
from harness.errors import (
    BadRequest,
    CircuitOpen,
    ConfigError,
    DeadlineExceeded,
    Overloaded,
    ProviderError,
    QuotaExhausted,
    RateLimited,
    RequestTimeoutStatus,
    ServerError,
    StreamBroken,
    TransportError,
)
from harness.validate import Table

__all__ = [
    "OUTCOME_KINDS",
    "Breaker",
    "BreakerConfig",
    "CircuitBreaker",
    "OutcomeWindow",
    "Permit",
    "open_period",
    "outcome_kind",
]

#: what an attempt's outcome can be, for counting
OUTCOME_KINDS = (
    "success",  # a usable answer
    "rate_limited",  # 429 rate limit
    "quota",  # 429 insufficient quota
    "overloaded",  # 529 / 503 overloaded
    "server_error",  # 500, 502, 503, 504
    "timeout",  # a deadline passed, or 408/409
    "connection",  # connect failure, reset
    "stream_broken",  # a stream cut or malformed midway
    "client_error",  # 4xx the request caused: the provider is fine
    "other",  # anything else
)
DEFAULT_COUNTED = frozenset({"overloaded", "server_error", "timeout", "connection", "stream_broken"})
#: a count window's entries, by (failed, slow): the time is never read there
_COUNTED = (((0.0, False, False), (0.0, False, True)), ((0.0, True, False), (0.0, True, True)))


def outcome_kind(error: BaseException | None) -> str:
    """Map an attempt's error (``None`` for success) to an :data:`OUTCOME_KINDS` name."""
    if error is None:
        return "success"
    if isinstance(error, QuotaExhausted):
        return "quota"
    if isinstance(error, RateLimited):
        return "rate_limited"
    if isinstance(error, Overloaded):
        return "overloaded"
    if isinstance(error, ServerError):
        return "server_error"
    if isinstance(error, DeadlineExceeded | RequestTimeoutStatus | TimeoutError):
        return "timeout"
    if isinstance(error, TransportError):
        return "connection"
    if isinstance(error, StreamBroken):
        return "stream_broken"
    if isinstance(error, BadRequest):
        return "client_error"
    if isinstance(error, ProviderError):
        return "server_error" if error.status >= 500 else "other"
    return "other"


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """When the breaker trips, how long it stays open, and how it probes.

    Example (TOML ``[client.breaker]``)::

        consecutive_failures = 5
        failure_rate = 0.5
        minimum_calls = 20
        window = "time"
        window_s = 30
        slow_call_rate = 0.8
        slow_call_s = 10
        half_open_probes = 2
        counts = ["server_error", "overloaded", "timeout", "connection"]
        open = { strategy = "equal_jitter", base_s = 5, cap_s = 30 }
        max_open_s = 30
    """

    consecutive_failures: int | None = 5  # trip after this many failures in a row (None: off)
    failure_rate: float | None = 0.5  # trip at this failure rate over the window (None: off)
    slow_call_rate: float | None = None  # trip at this slow-call rate over the window (None: off)
    slow_call_s: float = 10.0  # a call whose duration / TTFT reaches this is slow
    window: str = "count"  # "count": the last window_size calls; "time": the last window_s seconds
    window_size: int = 100  # calls in a count window
    window_s: float = 60.0  # seconds in a time window
    minimum_calls: int = 20  # rates are judged only over at least this many calls
    half_open_probes: int = 1  # probes in flight at once while half-open, and successes needed to close
    probe_timeout_s: float = 60.0  # a probe not reported within this frees its slot
    open_backoff: Backoff = field(default_factory=lambda: equal_jitter(5.0, 30.0))  # open period per trip
    max_hint_open_s: float = 300.0  # a retry hint longer than this is capped
    max_open_s: float = 30.0  # no open period (schedule or hint) is longer: a recovered model is probed soon
    counts: frozenset[str] = DEFAULT_COUNTED  # outcome kinds that count as failures

    def __post_init__(self) -> None:
        def bad(name: str, expected: str) -> ConfigError:
            return ConfigError(f"breaker.{name}", f"expected {expected}, got {getattr(self, name)!r}")

        if self.consecutive_failures is not None and self.consecutive_failures < 1:
            raise bad("consecutive_failures", "an integer ≥ 1")
        for name in ("failure_rate", "slow_call_rate"):
            value = getattr(self, name)
            if value is not None and not 0 < value <= 1:
                raise bad(name, "a number in (0, 1]")
        if self.window not in ("count", "time"):
            raise bad("window", '"count" or "time"')
        for name in ("window_size", "minimum_calls", "half_open_probes"):
            if getattr(self, name) < 1:
                raise bad(name, "an integer ≥ 1")
        for name in ("slow_call_s", "window_s", "probe_timeout_s", "max_hint_open_s", "max_open_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise bad(name, "a number > 0")
        unknown = set(self.counts) - set(OUTCOME_KINDS)
        if unknown:
            raise ConfigError("breaker.counts", f"unknown outcome kinds {sorted(unknown)}; expected {OUTCOME_KINDS}")

    @classmethod
    def parse(cls, data: object, path: str = "breaker") -> BreakerConfig:
        from harness.client.backoff import parse_backoff

        t = Table(data, path)
        opened = t.raw("open", default=None)
        counts = t.str_list("counts", default=tuple(sorted(DEFAULT_COUNTED)))
        for kind in counts:
            if kind not in OUTCOME_KINDS:
                raise t.error("counts", f"unknown outcome kind {kind!r}; expected one of {', '.join(OUTCOME_KINDS)}")
        config = cls(
            consecutive_failures=t.int("consecutive_failures", default=5, min=1),
            failure_rate=t.float("failure_rate", default=0.5, min=0, max=1, exclusive_min=True),
            slow_call_rate=t.float("slow_call_rate", default=None, min=0, max=1, exclusive_min=True),
            slow_call_s=t.float("slow_call_s", default=10.0, min=0, exclusive_min=True),
            window=t.choice("window", ("count", "time"), default="count"),
            window_size=t.int("window_size", default=100, min=1),
            window_s=t.float("window_s", default=60.0, min=0, exclusive_min=True),
            minimum_calls=t.int("minimum_calls", default=20, min=1),
            half_open_probes=t.int("half_open_probes", default=1, min=1),
            probe_timeout_s=t.float("probe_timeout_s", default=60.0, min=0, exclusive_min=True),
            open_backoff=equal_jitter(5.0, 30.0) if opened is None else parse_backoff(opened, t.field("open")),
            max_hint_open_s=t.float("max_hint_open_s", default=300.0, min=0, exclusive_min=True),
            max_open_s=t.float("max_open_s", default=30.0, min=0, exclusive_min=True),
            counts=frozenset(counts),
        )
        t.done()
        return config


@dataclass(frozen=True, slots=True)
class Permit:
    """Leave to make one call; hand it back to ``record`` (or ``release`` if the call was not made)."""

    id: int  # unique per breaker
    generation: int  # the state generation it was issued in; outcomes of older generations are ignored
    probe: bool  # a half-open probe
    issued_at: float  # clock time


_make_permit = positional_maker(Permit)


@runtime_checkable
class Breaker(Protocol):
    """What the client needs from a breaker; :class:`CircuitBreaker` and ``RedisCircuitBreaker`` both are one."""

    async def acquire(self) -> Permit: ...

    async def report(
        self, permit: Permit, kind: str, *, duration_s: float | None = None, retry_after_s: float | None = None
    ) -> None: ...

    async def release_permit(self, permit: Permit) -> None: ...

    def blocked_until(self) -> float | None:
        """Until when (clock time) a call would be refused, as far as this process knows; None: admitted now.

        Cheap and without I/O: the call path asks it before a retry (an open circuit sends the request
        to the next model at once, without a backoff sleep or a retry-budget token).
        """
        ...


def open_period(config: BreakerConfig, retry_after_s: float | None, scheduled: Callable[[], float]) -> float:
    """How long a trip keeps the circuit open: the hint if any, else the schedule; never past ``max_open_s``."""
    if retry_after_s is not None and math.isfinite(retry_after_s) and retry_after_s > 0:
        period = min(float(retry_after_s), config.max_hint_open_s)
    else:
        period = max(scheduled(), 0.0)
    return min(period, config.max_open_s)


class OutcomeWindow:
    """Failure and slow-call counts over the last N calls or the last T seconds."""

    def __init__(self, config: BreakerConfig) -> None:
        self._config = config
        self._calls: deque[tuple[float, bool, bool]] = deque()  # (time, failed, slow), oldest first
        self._by_count = config.window == "count"
        self.failures = 0  # failed calls in the window
        self.slow = 0  # slow calls in the window
        self.consecutive = 0  # failures in a row, most recent last

    def add(self, now: float, failed: bool, slow: bool) -> None:
        # a count window never reads the time: share one tuple per outcome instead of one per call
        self._calls.append(_COUNTED[failed][slow] if self._by_count else (now, failed, slow))
        self.failures += failed
        self.slow += slow
        self.consecutive = self.consecutive + 1 if failed else 0
        if self._by_count:
            if len(self._calls) > self._config.window_size:
                _, failed_out, slow_out = self._calls.popleft()
                self.failures -= failed_out
                self.slow -= slow_out
        else:
            self.prune(now)

    def prune(self, now: float) -> None:
        cfg = self._config
        while self._calls and (
            len(self._calls) > cfg.window_size if cfg.window == "count" else self._calls[0][0] <= now - cfg.window_s
        ):
            _, failed, slow = self._calls.popleft()
            self.failures -= failed
            self.slow -= slow

    def trip_reason(self) -> str | None:
        cfg = self._config
        calls = len(self._calls)
        if cfg.consecutive_failures is not None and self.consecutive >= cfg.consecutive_failures:
            return "consecutive_failures"
        if calls >= cfg.minimum_calls:
            if cfg.failure_rate is not None and self.failures >= cfg.failure_rate * calls:
                return "failure_rate"
            if cfg.slow_call_rate is not None and self.slow >= cfg.slow_call_rate * calls:
                return "slow_call_rate"
        return None

    def clear(self) -> None:
        self._calls.clear()
        self.failures = self.slow = self.consecutive = 0

    def __len__(self) -> int:
        return len(self._calls)


class CircuitBreaker:
    """The in-memory breaker (see the module docstring); sync core plus the async :class:`Breaker` API."""

    def __init__(
        self,
        config: BreakerConfig | None = None,
        *,
        clock: Clock,
        rng: random.Random | None = None,
        name: str = "breaker",
        on_event: EventSink = ignore_events,
    ) -> None:
        self.config = config or BreakerConfig()  # thresholds and schedule
        self.name = name  # in events and CircuitOpen
        self._clock = clock
        self._rng = rng or random.Random(0)
        self._on_event = on_event
        self._state = "closed"  # "closed", "open" or "half_open"
        self.generation = 0  # bumped on every state change
        self.open_until = 0.0  # clock time the open period ends
        self.trips = 0  # consecutive trips since the circuit last closed
        self._last_open_s = 0.0  # the previous open period, for decorrelated schedules
        self._window = OutcomeWindow(self.config)
        self._probes: dict[int, float] = {}  # probe permit id -> issued at
        self._successes = 0  # probe successes in this half-open period
        self._ids = itertools.count(1)
        self._open_watchers: dict[int, Callable[[], None]] = {}  # called when the circuit opens

    @property
    def state(self) -> str:
        """Current state; an open circuit whose period has ended reads as half-open."""
        if self._state == "open" and self._clock() >= self.open_until:
            self._transition("half_open", "open period ended")
        return self._state

    def probes_in_flight(self) -> int:
        self._expire_probes(self._clock())
        return len(self._probes)

    # -- the core (sync) -------------------------------------------------------------------------
    def allow(self) -> Permit:
        """A permit for one call, or :class:`CircuitOpen` when the breaker refuses it."""
        if self._state == "closed":  # the common case (only an open circuit changes state on reading)
            return _make_permit(next(self._ids), self.generation, False, self._clock())
        state = self.state
        now = self._clock()
        if state == "closed":
            return Permit(next(self._ids), self.generation, False, now)
        if state == "open":
            raise CircuitOpen(self.name, self.open_until)
        self._expire_probes(now)
        if len(self._probes) >= self.config.half_open_probes:
            # every probe slot is taken: come back when the oldest probe times out at the latest
            raise CircuitOpen(self.name, min(self._probes.values()) + self.config.probe_timeout_s)
        permit = Permit(next(self._ids), self.generation, True, now)
        self._probes[permit.id] = now
        return permit

    def record(
        self, permit: Permit, kind: str, *, duration_s: float | None = None, retry_after_s: float | None = None
    ) -> None:
        """Report a permitted call's outcome kind (:data:`OUTCOME_KINDS`), duration or TTFT, and retry hint."""
        now = self._clock()
        if permit.generation != self.generation:
            return  # issued before the last state change: stale news
        failed = kind in self.config.counts
        slow = duration_s is not None and duration_s >= self.config.slow_call_s
        if self._state == "closed":
            self._window.add(now, failed, slow)
            reason = self._window.trip_reason()
            if reason is not None:
                self._trip(reason, retry_after_s)
        elif self._state == "half_open" and permit.probe:
            self._probes.pop(permit.id, None)
            if failed or slow:
                self._trip("probe failed" if failed else "probe slow", retry_after_s)
            else:
                self._successes += 1
                if self._successes >= self.config.half_open_probes:
                    self.trips = 0
                    self._window.clear()
                    self._transition("closed", "probes succeeded")

    def release(self, permit: Permit) -> None:
        """The permitted call was not made: free its probe slot."""
        if permit.probe and permit.generation == self.generation:
            self._probes.pop(permit.id, None)

    def open_period(self, retry_after_s: float | None) -> float:
        """How long the next trip keeps the circuit open."""
        schedule, trip = self.config.open_backoff, self.trips + 1
        return open_period(self.config, retry_after_s, lambda: schedule.delay(trip, self._last_open_s, self._rng))

    def notify_open(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` (once) the next time the circuit opens; returns a function that forgets it.

        The client waits for a retry's backoff with one of these: when other requests trip the circuit
        meanwhile, the wait ends and the request goes to the next model instead of sleeping on.
        """
        key = next(self._ids)
        self._open_watchers[key] = callback
        return lambda: self._open_watchers.pop(key, None) and None

    def blocked_until(self) -> float | None:
        """Until when a call would be refused (open, or every half-open probe slot taken); None: admitted."""
        if self._state == "closed":
            return None
        state = self.state
        if state == "open":
            return self.open_until
        if state == "half_open":
            self._expire_probes(self._clock())
            if len(self._probes) >= self.config.half_open_probes:
                return min(self._probes.values()) + self.config.probe_timeout_s
        return None

    # -- the async Breaker API -------------------------------------------------------------------
    async def acquire(self) -> Permit:
        return self.allow()

    async def report(
        self, permit: Permit, kind: str, *, duration_s: float | None = None, retry_after_s: float | None = None
    ) -> None:
        self.record(permit, kind, duration_s=duration_s, retry_after_s=retry_after_s)

    async def release_permit(self, permit: Permit) -> None:
        self.release(permit)

    # -- internals -------------------------------------------------------------------------------
    def _trip(self, reason: str, retry_after_s: float | None) -> None:
        period = self.open_period(retry_after_s)
        self._last_open_s = period
        self.trips += 1
        self.open_until = self._clock() + period
        self._window.clear()
        self._transition("open", reason)

    def _expire_probes(self, now: float) -> None:
        timeout = self.config.probe_timeout_s
        for pid in [pid for pid, at in self._probes.items() if now - at >= timeout]:
            del self._probes[pid]

    def _transition(self, to: str, reason: str) -> None:
        before = self._state
        self._state = to
        self.generation += 1
        self._probes.clear()
        self._successes = 0
        data: dict[str, object] = {"from": before, "to": to, "reason": reason}
        if to == "open":
            data["open_until"] = self.open_until
            watchers, self._open_watchers = self._open_watchers, {}
            for callback in watchers.values():
                callback()
        self._on_event(PolicyEvent("breaker.state", self.name, self._clock(), data))

    def __repr__(self) -> str:
        return (
            f"CircuitBreaker({self.name!r}, state={self._state}, trips={self.trips}, "
            f"window={len(self._window)} calls/{self._window.failures} failed, probes={len(self._probes)})"
        )
