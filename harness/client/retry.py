"""The retry decision: which failures to retry, how long to wait, and when to stop.

:class:`RetryPolicy` is pure: hand it the failure and a :class:`RetryState` (attempts so far, the
previous delay, the clock reading, the deadline) and it returns a :class:`RetryDecision`.

* **By error class** (``harness.errors``): retried: timeouts and connection errors
  (``TransportError``), 408/409 (``RequestTimeoutStatus``), 429 (``RateLimited``), 5xx
  (``ServerError``), 529 (``Overloaded``), broken streams (configurable). Never: ``BadRequest`` and
  its subclasses (400, 401, 403, 404, context length, content filter), ``QuotaExhausted`` (retrying
  the same key cannot help; a fallback key may). A bare ``ProviderError`` is judged by its status.
* **Retry hints**: the wire adapters parse every form (Retry-After seconds or HTTP date,
  retry-after-ms, x-ratelimit-reset-*, anthropic-ratelimit-*-reset, Gemini RetryInfo) into
  ``error.retry_after_s``. The delay is never earlier than the hint. ``hint_mode="jitter"`` (default)
  waits ``hint + U(0, max(hint_jitter · hint, hint_jitter_min_s))`` so that a hint every client
  received does not re-synchronise the herd; ``"max"`` waits ``max(hint, backoff)``. Hints over
  ``max_hint_s`` are refused (give up now; default, like openai 3.x past 120 s) or clamped.
* **Timeouts fail over**: the client (not this policy) moves a request to the next model of its
  chain after ``timeouts_before_failover`` timed-out attempts (default 1) when that model's breaker
  admits it: a silent or slow primary costs one deadline, not ``max_attempts`` of them. A second
  deadline on the same model rarely ends differently (the first one already waited as long as the
  caller accepts), while a healthy fallback answers at once. A chain of one keeps retrying.
* **Limits**: ``max_attempts`` per logical request (first attempt included) and the request's deadline
  (no retry whose wait would end past it).

Two shared brakes stop retries from amplifying an overload:

* :class:`RetryBudget`, the gRPC A6 / Finagle model as a token bucket: each first attempt deposits
  ``ratio`` tokens, each retry withdraws one, the balance starts at and is capped by ``reserve``. Over
  any run, retries ≤ reserve + ratio · requests, so amplification ≤ 1 + ratio + reserve/requests.
* :class:`AdaptiveThrottle`, Google SRE "Handling Overload": reject locally with probability
  ``max(0, (requests − K·accepts) / (requests + 1))`` over a two-minute window, K = 2.

Example::

    policy = RetryPolicy(RetryConfig(max_attempts=4, backoff=full_jitter(0.5, 8)))
    decision = policy.decide(error, RetryState(attempt=1, previous_delay=0, now=clock(), deadline=t0 + 30), rng)
    if decision.retry:
        await sleep(decision.delay_s)
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field

from harness.client.backoff import Backoff, full_jitter, parse_backoff
from harness.clock import Clock
from harness.errors import (
    BadRequest,
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
    "HINT_MODES",
    "AdaptiveThrottle",
    "RetryBudget",
    "RetryConfig",
    "RetryDecision",
    "RetryPolicy",
    "RetryState",
    "is_retryable",
    "is_timeout",
]

#: how a retry hint is used: "jitter" (hint + a spread), "max" (max(hint, backoff)), "ignore" (not read: a client
#: that does not honour Retry-After; never recommended, it exists to model such clients)
HINT_MODES = ("jitter", "max", "ignore")
_RETRY_STATUSES = frozenset({408, 409, 429, 529})
_TERMINAL_DEADLINES = frozenset({"total", "limiter_wait"})


def is_timeout(error: BaseException) -> bool:
    """Did the attempt time out (connect, first byte, first token, stall or attempt deadline)?

    Not the request's own deadlines (``total``, ``limiter_wait``): those end the request everywhere.
    """
    return isinstance(error, DeadlineExceeded) and error.code not in _TERMINAL_DEADLINES


def is_retryable(error: BaseException, *, retry_stream_broken: bool = True) -> bool:
    """May sending the same request again (same model, same key) succeed?"""
    if isinstance(error, BadRequest | QuotaExhausted):
        return False
    if isinstance(error, DeadlineExceeded) and error.code in _TERMINAL_DEADLINES:
        return False  # the request's own time ran out (or would, waiting for the limiter): no retry can help
    if isinstance(error, TransportError | RequestTimeoutStatus | RateLimited | ServerError | Overloaded):
        return True
    if isinstance(error, StreamBroken):
        return retry_stream_broken
    if isinstance(error, ProviderError):
        return error.status in _RETRY_STATUSES or error.status >= 500
    return False


@dataclass(frozen=True, slots=True)
class RetryConfig:
    """How one logical request is retried.

    Example (TOML ``[client.retry]``)::

        max_attempts = 4
        backoff = { strategy = "full_jitter", base_s = 0.5, cap_s = 8 }
        hint_mode = "jitter"     # or "max"
        max_hint_s = 60
        long_hint = "refuse"     # or "clamp"
        timeouts_before_failover = 1   # 0: retry a timed-out model up to max_attempts first
    """

    max_attempts: int = 3  # attempts per logical request, the first included
    backoff: Backoff = field(default_factory=lambda: full_jitter(0.5, 8.0))  # delay without a hint
    hint_mode: str = "jitter"  # "jitter": hint + spread on top; "max": max(hint, backoff); "ignore": backoff only
    hint_jitter: float = 0.25  # jitter spread on top of a hint, as a fraction of the hint
    hint_jitter_min_s: float = 0.1  # smallest spread on top of a hint, seconds
    max_hint_s: float = 120.0  # hints above this are refused or clamped
    long_hint: str = "refuse"  # "refuse": do not retry; "clamp": wait max_hint_s
    retry_stream_broken: bool = True  # retry a stream that broke (the caller saw no partial answer)
    #: timed-out attempts (connect, first byte, first token, stall, attempt deadline) on one model after
    #: which the request moves to the next model of its chain instead of retrying, when the chain has one
    #: whose breaker admits it; 0: never (retry up to max_attempts, as a chain of one always does)
    timeouts_before_failover: int = 1

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigError("retry.max_attempts", f"expected an integer ≥ 1, got {self.max_attempts!r}")
        if not (isinstance(self.timeouts_before_failover, int) and self.timeouts_before_failover >= 0):
            raise ConfigError(
                "retry.timeouts_before_failover", f"expected an integer ≥ 0, got {self.timeouts_before_failover!r}"
            )
        if self.hint_mode not in HINT_MODES:
            raise ConfigError("retry.hint_mode", f'expected "jitter", "max" or "ignore", got {self.hint_mode!r}')
        if self.long_hint not in ("refuse", "clamp"):
            raise ConfigError("retry.long_hint", f'expected "refuse" or "clamp", got {self.long_hint!r}')
        for name in ("hint_jitter", "hint_jitter_min_s", "max_hint_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ConfigError(f"retry.{name}", f"expected a finite number ≥ 0, got {value!r}")

    @classmethod
    def parse(cls, data: object, path: str = "retry") -> RetryConfig:
        t = Table(data, path)
        backoff = t.raw("backoff", default=None)
        config = cls(
            max_attempts=t.int("max_attempts", default=3, min=1),
            backoff=full_jitter(0.5, 8.0) if backoff is None else parse_backoff(backoff, t.field("backoff")),
            hint_mode=t.choice("hint_mode", HINT_MODES, default="jitter"),
            hint_jitter=t.float("hint_jitter", default=0.25, min=0),
            hint_jitter_min_s=t.float("hint_jitter_min_s", default=0.1, min=0),
            max_hint_s=t.float("max_hint_s", default=120.0, min=0),
            long_hint=t.choice("long_hint", ("refuse", "clamp"), default="refuse"),
            retry_stream_broken=t.bool("retry_stream_broken", default=True),
            timeouts_before_failover=t.int("timeouts_before_failover", default=1, min=0),
        )
        t.done()
        return config


@dataclass(frozen=True, slots=True)
class RetryState:
    """What the policy needs to know about one logical request after a failed attempt."""

    attempt: int  # attempts made so far (1 after the first attempt failed)
    previous_delay: float = 0.0  # the delay before the previous retry (0 before the first)
    now: float = 0.0  # clock reading now
    deadline: float = math.inf  # the logical request's deadline on the same clock


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """Retry after ``delay_s`` seconds, or stop; ``reason`` says why (for logs and reports)."""

    retry: bool  # send again?
    delay_s: float  # how long to wait first (0 when not retrying)
    reason: str  # "backoff", "hint", "not_retryable", "attempts", "deadline", "hint_too_long"
    hinted: bool = False  # the delay honoured a provider hint


class RetryPolicy:
    """Decides whether and when to retry one failed attempt; pure, reusable across requests."""

    def __init__(self, config: RetryConfig | None = None) -> None:
        self.config = config or RetryConfig()  # the policy's settings

    def decide(self, error: BaseException, state: RetryState, rng: random.Random) -> RetryDecision:
        cfg = self.config
        if not is_retryable(error, retry_stream_broken=cfg.retry_stream_broken):
            return RetryDecision(False, 0.0, "not_retryable")
        if state.attempt >= cfg.max_attempts:
            return RetryDecision(False, 0.0, "attempts")
        backoff = max(0.0, cfg.backoff.delay(state.attempt, state.previous_delay, rng))
        hint = getattr(error, "retry_after_s", None)
        hinted = cfg.hint_mode != "ignore" and isinstance(hint, int | float) and math.isfinite(hint) and hint > 0
        if hinted:
            assert isinstance(hint, int | float)
            if hint > cfg.max_hint_s:
                if cfg.long_hint == "refuse":
                    return RetryDecision(False, 0.0, "hint_too_long")
                hint = cfg.max_hint_s
            if cfg.hint_mode == "max":
                delay = max(float(hint), backoff)
            else:
                spread = max(cfg.hint_jitter * hint, cfg.hint_jitter_min_s)
                delay = float(hint) + rng.uniform(0.0, spread)
        else:
            delay = backoff
        if state.now + delay > state.deadline:
            return RetryDecision(False, 0.0, "deadline")
        return RetryDecision(True, delay, "hint" if hinted else "backoff", hinted=hinted)


class RetryBudget:
    """Retries at most ``ratio`` of first attempts plus a ``reserve`` (gRPC A6 / Finagle, as a token bucket).

    ``on_request()`` for each first attempt deposits ``ratio``; ``try_spend()`` before a retry withdraws
    one token if the balance allows. The balance starts at ``reserve`` and never exceeds it, so over any
    period retries ≤ reserve + ratio · requests. Defaults follow the SRE book's 10%.
    """

    def __init__(self, ratio: float = 0.1, reserve: float = 10.0) -> None:
        if not (math.isfinite(ratio) and ratio >= 0):
            raise ConfigError("retry_budget.ratio", f"expected a finite number ≥ 0, got {ratio!r}")
        if not (math.isfinite(reserve) and reserve >= 0):
            raise ConfigError("retry_budget.reserve", f"expected a finite number ≥ 0, got {reserve!r}")
        self.ratio = ratio  # tokens deposited per first attempt
        self.reserve = reserve  # starting balance and cap
        self.balance = reserve  # tokens available now; a retry costs one
        self.requests = 0  # first attempts seen
        self.retries = 0  # retries allowed
        self.refused = 0  # retries refused

    def on_request(self) -> None:
        self.requests += 1
        balance = self.balance + self.ratio
        self.balance = balance if balance < self.reserve else self.reserve

    def try_spend(self) -> bool:
        if self.balance >= 1.0:
            self.balance -= 1.0
            self.retries += 1
            return True
        self.refused += 1
        return False

    def refund(self) -> None:
        """Give back the token of a retry that was not sent after all."""
        self.balance = min(self.reserve, self.balance + 1.0)
        self.retries -= 1

    def __repr__(self) -> str:
        return (
            f"RetryBudget(ratio={self.ratio}, reserve={self.reserve}, balance={self.balance:.2f}, "
            f"requests={self.requests}, retries={self.retries}, refused={self.refused})"
        )


class AdaptiveThrottle:
    """Client-side adaptive throttling from the Google SRE book ("Handling Overload").

    Before sending, ``should_reject(rng)`` rejects locally with probability
    ``max(0, (requests − k · accepts) / (requests + 1))`` over the last ``window_s`` seconds; after an
    attempt, ``record(accepted)``: accepted means the backend processed it (anything but overload,
    429 or 5xx). Locally rejected requests count as requests, as in the book.
    """

    def __init__(self, *, clock: Clock, k: float = 2.0, window_s: float = 120.0, bucket_s: float = 1.0) -> None:
        if not k >= 1:
            raise ConfigError("throttle.k", f"expected a number ≥ 1, got {k!r}")
        if not (window_s > 0 and bucket_s > 0):
            raise ConfigError("throttle.window_s", f"expected a positive window, got {window_s!r}")
        self.k = k  # accepts multiplier: K = 2 lets 2x the accepted load through
        self.window_s = window_s  # how far back requests and accepts count
        self.bucket_s = bucket_s  # granularity of the sliding window
        self._clock = clock
        self._buckets: deque[list[float]] = deque()  # [bucket start, requests, accepts], oldest first
        self._requests = 0.0  # sum over the live buckets
        self._accepts = 0.0  # sum over the live buckets
        self._fresh_until = -math.inf  # until then the newest bucket is current and none expires

    def _bucket(self) -> list[float]:
        now = self._clock()
        if now < self._fresh_until:
            return self._buckets[-1]
        horizon = now - self.window_s
        while self._buckets and self._buckets[0][0] + self.bucket_s <= horizon:
            _, req, acc = self._buckets.popleft()
            self._requests -= req
            self._accepts -= acc
        start = math.floor(now / self.bucket_s) * self.bucket_s
        if not self._buckets or self._buckets[-1][0] != start:
            self._buckets.append([start, 0.0, 0.0])
        # the next call needs the slow path when a new bucket starts or the oldest leaves the window
        self._fresh_until = min(start + self.bucket_s, self._buckets[0][0] + self.bucket_s + self.window_s)
        return self._buckets[-1]

    def reject_probability(self) -> float:
        self._bucket()
        return max(0.0, (self._requests - self.k * self._accepts) / (self._requests + 1))

    def should_reject(self, rng: random.Random) -> bool:
        bucket = self._bucket()
        excess = self._requests - self.k * self._accepts
        if excess <= 0:  # the common case: no rejection, no random draw
            return False
        rejected = rng.random() < excess / (self._requests + 1)
        if rejected:
            bucket[1] += 1
            self._requests += 1
        return rejected

    def record(self, accepted: bool) -> None:
        bucket = self._bucket()
        bucket[1] += 1
        self._requests += 1
        if accepted:
            bucket[2] += 1
            self._accepts += 1

    def __repr__(self) -> str:
        return f"AdaptiveThrottle(k={self.k}, requests={self._requests:g}, accepts={self._accepts:g})"
