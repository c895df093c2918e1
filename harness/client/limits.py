"""What a rate limiter is asked and answers: limits, demands, reservations, and the waiting loop.

The data the client and every limiter share — :class:`LimitConfig` (the ``[client] limits`` table),
:class:`Demand` (what one request may use), :class:`Reservation` (granted, or queued with a wait) —
the :class:`Limiter` protocol that :class:`harness.client.limiter.RateLimiter` (in memory) and
``RedisRateLimiter`` implement, and :func:`wait_for_capacity`, the sleep-until-granted loop over any
of them. How the in-memory limiter keeps its window is in :mod:`harness.client.limiter`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from harness.clock import Clock, Sleep
from harness.errors import BadRequest, ConfigError, DeadlineExceeded
from harness.pricing import Usage
from harness.validate import Table

__all__ = [
    "DIMENSIONS",
    "OBSERVATION_KEYS",
    "Demand",
    "LimitConfig",
    "Limiter",
    "Reservation",
    "usage_weights",
    "wait_for_capacity",
]

#: the limited dimensions, in the order weights are stored
DIMENSIONS = ("requests", "tokens", "input_tokens", "output_tokens")
#: the keywords of ``Limiter.observe``: per dimension, in that order, its limit, remaining and reset
OBSERVATION_KEYS = tuple(name for d in DIMENSIONS for name in (f"limit_{d}", f"remaining_{d}", f"reset_{d}_s"))
_LIMIT_FIELDS = ("rpm", "tpm", "itpm", "otpm")


@dataclass(frozen=True, slots=True)
class LimitConfig:
    """Limits per minute (``None``: not limited, or learned from headers) and the queue's behaviour.

    Example (TOML ``[client.limits]``)::

        rpm = 500
        tpm = 30000            # OpenAI style: prompt + max_tokens at admission
        # itpm = 20000         # Anthropic style: input and output separately
        # otpm = 8000
        lanes = ["interactive", "batch"]
    """

    rpm: int | None = None  # requests per window
    tpm: int | None = None  # input + output tokens per window (OpenAI)
    itpm: int | None = None  # input tokens per window (Anthropic)
    otpm: int | None = None  # output tokens per window (Anthropic)
    window_s: float = 60.0  # the window the limits apply to
    lanes: tuple[str, ...] = ("interactive", "batch")  # priority order, highest first
    max_queue_wait_s: float = 10.0  # each time a ticket has waited this long it moves one lane up (no starvation)
    ticket_grace_s: float = 2.0  # a queued ticket not asked about within wait + grace is forgotten
    poll_s: float = 0.01  # smallest wait handed to a queued ticket that is not first in line
    refund_unused: bool = True  # settle refunds unused estimate (False: only charges extra)
    learn_safety: float = 0.95  # learned limits are used at this fraction
    bucket_s: float = 0.1  # admissions this close together share one window bucket (see the module docstring)
    learn: bool = True  # take the provider's rate-limit headers into account (False: configured limits only)
    #: capacity comes back this long after one window: the provider counts a request when it arrives, a
    #: little after the limiter admitted it and by a varying amount (event loop, network), so without this
    #: margin a request sent quickly can reach the provider less than a window after one that travelled
    #: slowly, and the provider's window holds one request too many (docs/client-policies.md)
    transit_margin_s: float = 0.25

    def __post_init__(self) -> None:
        for name in _LIMIT_FIELDS:
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigError(f"limits.{name}", f"expected an integer ≥ 1, got {value!r}")
        positive = ("window_s", "max_queue_wait_s", "ticket_grace_s", "poll_s", "bucket_s")
        for name in positive:
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ConfigError(f"limits.{name}", f"expected a number > 0, got {value!r}")
        if not self.lanes or len(set(self.lanes)) != len(self.lanes):
            raise ConfigError("limits.lanes", f"expected distinct lane names, got {list(self.lanes)!r}")
        margin = self.transit_margin_s
        if isinstance(margin, bool) or not isinstance(margin, int | float) or not 0 <= margin < math.inf:
            raise ConfigError("limits.transit_margin_s", f"expected a number ≥ 0, got {margin!r}")
        if not 0 < self.learn_safety <= 1:
            raise ConfigError("limits.learn_safety", f"expected a number in (0, 1], got {self.learn_safety!r}")
        if self.bucket_s > self.window_s:
            expected = f"a number ≤ window_s ({self.window_s:g})"
            raise ConfigError("limits.bucket_s", f"expected {expected}, got {self.bucket_s!r}")

    @property
    def limits(self) -> tuple[int | None, ...]:
        """Configured limits in :data:`DIMENSIONS` order."""
        return (self.rpm, self.tpm, self.itpm, self.otpm)

    def scaled(self, share: float) -> LimitConfig:
        """The same config with every limit multiplied by ``share`` (a process's local share)."""

        def part(v: int | None) -> int | None:
            return None if v is None else max(1, math.floor(v * share))

        return LimitConfig(
            part(self.rpm), part(self.tpm), part(self.itpm), part(self.otpm), self.window_s, self.lanes,
            self.max_queue_wait_s, self.ticket_grace_s, self.poll_s, self.refund_unused, self.learn_safety,
            self.bucket_s, self.learn, self.transit_margin_s,
        )  # fmt: skip

    @classmethod
    def parse(cls, data: object, path: str = "limits") -> LimitConfig:
        t = Table(data, path)
        config = cls(
            rpm=t.int("rpm", default=None, min=1),
            tpm=t.int("tpm", default=None, min=1),
            itpm=t.int("itpm", default=None, min=1),
            otpm=t.int("otpm", default=None, min=1),
            window_s=t.float("window_s", default=60.0, min=0, exclusive_min=True),
            lanes=t.str_list("lanes", default=("interactive", "batch")),
            max_queue_wait_s=t.float("max_queue_wait_s", default=10.0, min=0, exclusive_min=True),
            ticket_grace_s=t.float("ticket_grace_s", default=2.0, min=0, exclusive_min=True),
            poll_s=t.float("poll_s", default=0.01, min=0, exclusive_min=True),
            refund_unused=t.bool("refund_unused", default=True),
            learn_safety=t.float("learn_safety", default=0.95, min=0, max=1, exclusive_min=True),
            bucket_s=t.float("bucket_s", default=0.1, min=0, exclusive_min=True),
            learn=t.bool("learn", default=True),
            transit_margin_s=t.float("transit_margin_s", default=0.25, min=0),
        )
        t.done()
        return config


@dataclass(frozen=True, slots=True)
class Demand:
    """What one request will use at most: its prompt tokens and its max_tokens."""

    input_tokens: int = 0  # prompt tokens (estimated with harness.tokenizer)
    max_output_tokens: int = 0  # the request's max_tokens

    def weights(self) -> tuple[float, float, float, float]:
        i, o = max(0, self.input_tokens), max(0, self.max_output_tokens)
        return (1.0, float(i + o), float(i), float(o))


def usage_weights(usage: Usage) -> tuple[float, float, float, float]:
    return (1.0, float(usage.input_tokens + usage.output_tokens), float(usage.input_tokens), float(usage.output_tokens))


@dataclass(frozen=True, slots=True)
class Reservation:
    """The limiter's answer: granted now, or queued with how long to wait before asking again.

    ``reason``: ``"ok"``, ``"queued"``, ``"too_large"`` (the demand exceeds a limit by itself; it can
    never fit) or ``"backend_unavailable"`` (a Redis limiter failing closed).
    """

    id: str  # reservation / ticket id (pass the reservation back to acquire, settle, cancel)
    granted: bool  # may the request be sent now?
    wait_s: float  # when not granted: seconds to wait before asking again
    demand: Demand  # what was asked for
    lane: str = "interactive"  # priority lane
    key: str = "default"  # fairness key (user, API key label)
    reason: str = "ok"  # see the class docstring
    backend: str = "memory"  # "memory", "redis", or "local" (a Redis limiter's fallback share)
    at: float = 0.0  # decision time on the backend's clock (Redis's own clock for the Redis backend)


@runtime_checkable
class Limiter(Protocol):
    """What the client needs from a limiter; :class:`RateLimiter` and ``RedisRateLimiter`` both are one."""

    async def acquire(
        self, demand: Demand, *, lane: str = "interactive", key: str = "default", ticket: Reservation | None = None
    ) -> Reservation: ...

    async def settle(self, reservation: Reservation, usage: Usage) -> None: ...

    async def cancel(self, reservation: Reservation) -> None: ...

    async def observe(self, **observation: float | None) -> None: ...


async def wait_for_capacity(
    limiter: Limiter,
    demand: Demand,
    *,
    sleep: Sleep,
    lane: str = "interactive",
    key: str = "default",
    clock: Clock | None = None,
    deadline: float | None = None,
) -> Reservation:
    """Acquire, sleeping through ``sleep`` until granted.

    Raises :class:`~harness.errors.DeadlineExceeded` (after cancelling the ticket) when the next wait
    would end past ``deadline`` (a ``clock`` reading), and :class:`~harness.errors.BadRequest` when the
    demand exceeds a limit by itself and can never be admitted.
    """
    reservation = await limiter.acquire(demand, lane=lane, key=key)
    while not reservation.granted:
        if reservation.reason == "too_large":
            raise BadRequest(f"request needs more than a whole window's limit: {demand}", code="request_too_large")
        if deadline is not None and clock is not None and clock() + reservation.wait_s > deadline:
            await limiter.cancel(reservation)
            raise DeadlineExceeded("rate limiter wait would pass the request's deadline", code="limiter_wait")
        try:
            await sleep(reservation.wait_s)
        except BaseException:
            await limiter.cancel(reservation)
            raise
        reservation = await limiter.acquire(demand, lane=lane, key=key, ticket=reservation)
    return reservation
