"""Backoff strategies: how long to wait before retry number ``attempt``.

Each strategy is a frozen dataclass and a pure function of ``(attempt, previous, rng)``:

* ``attempt``: the retry about to be made, from 1 (the first retry);
* ``previous``: the delay chosen before the previous retry (0.0 before the first), which only
  decorrelated jitter uses;
* ``rng``: a ``random.Random``; every random draw comes from it, so a seeded run is reproducible.

The exponential ceiling is ``min(cap, base · multiplier^(attempt−1))``: ``base`` is the first retry's
ceiling, so ``full_jitter(base=0.5, cap=8)`` spans the OpenAI/Anthropic SDKs' 0.5 s → 8 s. (The AWS
blog writes ``min(cap, base · 2^n)`` with n from 1, so its "base 5 ms" is our ``base=0.010``.)

Strategies compose, tenacity style: ``a + b`` adds two delays (``exponential(1, 60) + uniform(0, 1)``),
``s.capped(10)`` clamps a composition. Factories are lowercase::

    full_jitter(base=0.5, cap=8)          # U(0, ceiling): CV 1/√3 ≈ 0.577 — the AWS recommendation
    equal_jitter(base=0.5, cap=8)         # ceiling/2 + U(0, ceiling/2)
    decorrelated_jitter(base=0.5, cap=8)  # min(cap, U(base, 3·previous))
    exponential(base=0.5, cap=8)          # no jitter: re-synchronises a herd; for comparison
    scaled(exponential(0.5, 8), 0.75, 1)  # the SDKs' ×U(0.75, 1); gRPC's ±20% is scaled(…, 0.8, 1.2)
    none()                                # retry at once
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from harness.errors import ConfigError
from harness.validate import Table

__all__ = [
    "Backoff",
    "Capped",
    "DecorrelatedJitter",
    "EqualJitter",
    "Exponential",
    "Fixed",
    "FullJitter",
    "NoBackoff",
    "Scaled",
    "Sum",
    "Uniform",
    "decorrelated_jitter",
    "equal_jitter",
    "exponential",
    "fixed",
    "full_jitter",
    "none",
    "parse_backoff",
    "scaled",
    "uniform",
]

STRATEGIES = ("none", "fixed", "exponential", "full_jitter", "equal_jitter", "decorrelated_jitter")


class Backoff:
    """Base of every strategy: ``delay(attempt, previous, rng)`` seconds, composable with ``+``."""

    __slots__ = ()

    def delay(self, attempt: int, previous: float, rng: random.Random) -> float:
        raise NotImplementedError

    def __add__(self, other: Backoff) -> Backoff:
        return Sum(self, other)

    def capped(self, cap: float) -> Backoff:
        return Capped(self, cap)


def _ceiling(base: float, cap: float, multiplier: float, attempt: int) -> float:
    # exponent clamped so that huge attempt numbers cannot overflow a float
    exponent = min(max(attempt - 1, 0), 1024)
    try:
        return min(cap, base * multiplier**exponent)
    except OverflowError:
        return cap


def _check(base: float, cap: float, multiplier: float = 2.0) -> None:
    if not base >= 0:
        raise ConfigError("backoff.base_s", f"expected a number ≥ 0, got {base!r}")
    if not cap >= base:
        raise ConfigError("backoff.cap_s", f"expected a number ≥ base ({base!r}), got {cap!r}")
    if not multiplier >= 1:
        raise ConfigError("backoff.multiplier", f"expected a number ≥ 1, got {multiplier!r}")


@dataclass(frozen=True, slots=True)
class NoBackoff(Backoff):
    """Retry at once."""

    def delay(self, attempt: int, previous: float, rng: random.Random) -> float:
        return 0.0


@dataclass(frozen=True, slots=True)
class Fixed(Backoff):
    """The same delay before every retry."""

    seconds: float  # the delay

    def delay(self, attempt: int, previous: float, rng: random.Random) -> float:
        return self.seconds


@dataclass(frozen=True, slots=True)
class Uniform(Backoff):
    """A uniform random delay in [low, high]; mostly as a term of a sum."""

    low: float  # smallest delay
    high: float  # largest delay

    def delay(self, attempt: int, previous: float, rng: random.Random) -> float:
        return rng.uniform(self.low, self.high)


@dataclass(frozen=True, slots=True)
class Exponential(Backoff):
    """``min(cap, base · multiplier^(attempt−1))`` without jitter."""

    base: float  # first retry's delay, seconds
    cap: float  # largest delay, seconds
    multiplier: float = 2.0  # growth per retry

    def __post_init__(self) -> None:
        _check(self.base, self.cap, self.multiplier)

    def delay(self, attempt: int, previous: float, rng: random.Random) -> float:
        return _ceiling(self.base, self.cap, self.multiplier, attempt)


@dataclass(frozen=True, slots=True)
class FullJitter(Backoff):
    """``U(0, ceiling)``: the fewest calls and least herding of the AWS comparison."""

    base: float  # first retry's ceiling, seconds
    cap: float  # largest ceiling, seconds
    multiplier: float = 2.0  # growth of the ceiling per retry

    def __post_init__(self) -> None:
        _check(self.base, self.cap, self.multiplier)

    def delay(self, attempt: int, previous: float, rng: random.Random) -> float:
        return rng.uniform(0.0, _ceiling(self.base, self.cap, self.multiplier, attempt))


@dataclass(frozen=True, slots=True)
class EqualJitter(Backoff):
    """``ceiling/2 + U(0, ceiling/2)``: never retries sooner than half the ceiling."""

    base: float  # first retry's ceiling, seconds
    cap: float  # largest ceiling, seconds
    multiplier: float = 2.0  # growth of the ceiling per retry

    def __post_init__(self) -> None:
        _check(self.base, self.cap, self.multiplier)

    def delay(self, attempt: int, previous: float, rng: random.Random) -> float:
        half = _ceiling(self.base, self.cap, self.multiplier, attempt) / 2
        return half + rng.uniform(0.0, half)


@dataclass(frozen=True, slots=True)
class DecorrelatedJitter(Backoff):
    """``min(cap, U(base, 3 · previous))``, previous starting at ``base`` (AWS's "decorrelated jitter")."""

    base: float  # smallest delay, seconds
    cap: float  # largest delay, seconds

    def __post_init__(self) -> None:
        _check(self.base, self.cap)

    def delay(self, attempt: int, previous: float, rng: random.Random) -> float:
        last = previous if previous > 0 else self.base
        return min(self.cap, rng.uniform(self.base, max(self.base, last * 3)))


@dataclass(frozen=True, slots=True)
class Scaled(Backoff):
    """``inner × U(low, high)``: multiplicative jitter (SDKs ×U(0.75, 1); gRPC ±20%)."""

    inner: Backoff  # the strategy being scaled
    low: float  # smallest factor
    high: float  # largest factor

    def delay(self, attempt: int, previous: float, rng: random.Random) -> float:
        return self.inner.delay(attempt, previous, rng) * rng.uniform(self.low, self.high)


@dataclass(frozen=True, slots=True)
class Sum(Backoff):
    """The sum of two strategies' delays (``a + b``)."""

    left: Backoff  # first term
    right: Backoff  # second term

    def delay(self, attempt: int, previous: float, rng: random.Random) -> float:
        return self.left.delay(attempt, previous, rng) + self.right.delay(attempt, previous, rng)


@dataclass(frozen=True, slots=True)
class Capped(Backoff):
    """Clamps ``inner`` to at most ``cap`` seconds."""

    inner: Backoff  # the strategy being clamped
    cap: float  # largest delay, seconds

    def delay(self, attempt: int, previous: float, rng: random.Random) -> float:
        return min(self.cap, self.inner.delay(attempt, previous, rng))


def none() -> NoBackoff:
    return NoBackoff()


def fixed(seconds: float) -> Fixed:
    return Fixed(seconds)


def uniform(low: float, high: float) -> Uniform:
    return Uniform(low, high)


def exponential(base: float = 0.5, cap: float = 8.0, multiplier: float = 2.0) -> Exponential:
    return Exponential(base, cap, multiplier)


def full_jitter(base: float = 0.5, cap: float = 8.0, multiplier: float = 2.0) -> FullJitter:
    return FullJitter(base, cap, multiplier)


def equal_jitter(base: float = 0.5, cap: float = 8.0, multiplier: float = 2.0) -> EqualJitter:
    return EqualJitter(base, cap, multiplier)


def decorrelated_jitter(base: float = 0.5, cap: float = 8.0) -> DecorrelatedJitter:
    return DecorrelatedJitter(base, cap)


def scaled(inner: Backoff, low: float, high: float) -> Scaled:
    return Scaled(inner, low, high)


def parse_backoff(data: object, path: str = "backoff") -> Backoff:
    """Build a strategy from a table: ``{strategy = "full_jitter", base_s = 0.5, cap_s = 8}``.

    ``strategy`` is one of none, fixed, exponential, full_jitter, equal_jitter, decorrelated_jitter;
    ``jitter = [0.8, 1.2]`` optionally scales the result (multiplicative jitter).
    """
    t = Table(data, path)
    kind = t.choice("strategy", STRATEGIES, default="full_jitter")
    result: Backoff
    if kind == "none":
        result = NoBackoff()
    elif kind == "fixed":
        result = Fixed(t.float("delay_s", min=0))
    else:
        base = t.float("base_s", default=0.5, min=0)
        cap = t.float("cap_s", default=8.0, min=base)
        if kind == "decorrelated_jitter":
            result = DecorrelatedJitter(base, cap)
        else:
            mult = t.float("multiplier", default=2.0, min=1)
            cls = {"exponential": Exponential, "full_jitter": FullJitter, "equal_jitter": EqualJitter}[kind]
            result = cls(base, cap, mult)
    jitter = t.raw("jitter", default=None)
    if jitter is not None:
        ok = isinstance(jitter, list) and len(jitter) == 2 and all(isinstance(v, int | float) for v in jitter)
        if not ok or not 0 <= jitter[0] <= jitter[1]:
            raise t.error("jitter", f"expected [low, high] with 0 ≤ low ≤ high, got {jitter!r}")
        result = Scaled(result, float(jitter[0]), float(jitter[1]))
    t.done()
    return result
