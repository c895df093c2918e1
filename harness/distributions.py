"""Distributions declared as data: latencies, think times, prompt and output lengths.

A scenario writes a distribution as a number (fixed) or a table::

    latency = 0.2                                         # fixed
    latency = { kind = "uniform", low = 0.1, high = 0.3 }
    latency = { kind = "normal", mean = 0.2, stddev = 0.05 }
    latency = { kind = "lognormal", median = 0.4, p99 = 3.0 }   # the shape real LLM latencies have
    think   = { kind = "exponential", mean = 2.0 }
    length  = { kind = "choice", values = [50, 200, 800], weights = [6, 3, 1] }

Sampling is by inverse CDF from a uniform ``u`` in [0, 1), so a value can be drawn from a seeded
``random.Random`` (:meth:`Distribution.sample`) or from a hash of a request (:meth:`Distribution.at`),
which is how the fake provider keeps "same request + seed → same answer". Values are clamped at
``minimum`` (0 unless given), so no latency is ever negative.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass
from itertools import accumulate
from statistics import NormalDist

from harness.errors import ConfigError
from harness.validate import Table, describe

__all__ = ["Distribution"]

_Z99 = NormalDist().inv_cdf(0.99)  # 2.326…
_STD_NORMAL = NormalDist()
_U_MAX = 1.0 - 1e-12  # the highest quantile sampled (1.0 is infinite for unbounded kinds)
_KINDS = ("fixed", "uniform", "normal", "lognormal", "exponential", "choice")


@dataclass(frozen=True, slots=True)
class Distribution:
    """A one-dimensional distribution; build with the factories or :meth:`parse`."""

    kind: str
    a: float = 0.0  # fixed: value; uniform: low; normal: mean; lognormal: mu; exponential: mean
    b: float = 0.0  # uniform: high; normal: stddev; lognormal: sigma
    minimum: float = 0.0  # samples are clamped at this floor
    values: tuple[float, ...] = ()  # choice: the values
    cumulative: tuple[float, ...] = ()  # choice: cumulative normalised weights

    # -- factories -----------------------------------------------------------------------------
    @classmethod
    def fixed(cls, value: float) -> Distribution:
        return cls("fixed", float(value), minimum=min(0.0, float(value)))

    @classmethod
    def uniform(cls, low: float, high: float) -> Distribution:
        return cls("uniform", float(low), float(high), minimum=min(0.0, float(low)))

    @classmethod
    def normal(cls, mean: float, stddev: float, minimum: float = 0.0) -> Distribution:
        return cls("normal", float(mean), float(stddev), minimum=minimum)

    @classmethod
    def lognormal(cls, median: float, p99: float) -> Distribution:
        """Lognormal with the given median and 99th percentile (p99 ≥ median > 0)."""
        mu = math.log(median)
        return cls("lognormal", mu, (math.log(p99) - mu) / _Z99)

    @classmethod
    def exponential(cls, mean: float) -> Distribution:
        return cls("exponential", float(mean))

    @classmethod
    def choice(cls, values: list[float], weights: list[float] | None = None) -> Distribution:
        weights = weights or [1.0] * len(values)
        total = float(sum(weights))
        cumulative = tuple(w / total for w in accumulate(weights))
        return cls("choice", values=tuple(float(v) for v in values), cumulative=cumulative)

    # -- parsing -------------------------------------------------------------------------------
    @classmethod
    def parse(cls, value: object, field: str) -> Distribution:
        """A number or a ``{kind = …}`` table; errors name ``field``."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value) or value < 0:
                raise ConfigError(field, f"expected a finite number ≥ 0, got {describe(value)}")
            return cls.fixed(float(value))
        t = Table(value, field)
        kind = t.choice("kind", _KINDS)
        minimum = t.float("min", 0.0)
        dist: Distribution
        if kind == "fixed":
            dist = cls.fixed(t.float("value", min=0))
        elif kind == "uniform":
            low = t.float("low", min=0)
            high = t.float("high", min=low)
            dist = cls.uniform(low, high)
        elif kind == "normal":
            dist = cls.normal(t.float("mean"), t.float("stddev", min=0))
        elif kind == "lognormal":
            median = t.float("median", min=0, exclusive_min=True)
            dist = cls.lognormal(median, t.float("p99", min=median))
        elif kind == "exponential":
            dist = cls.exponential(t.float("mean", min=0))
        else:
            raw_values = t.raw("values")
            if not isinstance(raw_values, list) or not raw_values:
                raise t.error("values", f"expected a non-empty array of numbers, got {describe(raw_values)}")
            values = [_number(t, "values", v) for v in raw_values]
            raw_weights = t.raw("weights", None)
            weights = None
            if raw_weights is not None:
                if not isinstance(raw_weights, list) or len(raw_weights) != len(values):
                    raise t.error("weights", f"expected {len(values)} weights, got {describe(raw_weights)}")
                weights = [_number(t, "weights", w) for w in raw_weights]
                if sum(weights) <= 0:
                    raise t.error("weights", "expected at least one positive weight")
            dist = cls.choice(values, weights)
        t.done()
        return dist if minimum == 0.0 else cls(dist.kind, dist.a, dist.b, minimum, dist.values, dist.cumulative)

    # -- sampling ------------------------------------------------------------------------------
    def at(self, u: float) -> float:
        """The value at quantile ``u`` ∈ [0, 1) (clamped at ``minimum``)."""
        if u < 1e-12:  # min(max(u, 1e-12), 1 - 1e-12), without two calls (NaN passes through alike)
            u = 1e-12
        elif u > _U_MAX:
            u = _U_MAX
        kind = self.kind
        if kind == "fixed":
            x = self.a
        elif kind == "uniform":
            x = self.a + u * (self.b - self.a)
        elif kind == "normal":
            x = self.a + self.b * _STD_NORMAL.inv_cdf(u)
        elif kind == "lognormal":
            x = math.exp(self.a + self.b * _STD_NORMAL.inv_cdf(u))
        elif kind == "exponential":
            x = -self.a * math.log1p(-u)
        else:
            x = self.values[min(bisect.bisect_right(self.cumulative, u), len(self.values) - 1)]
        return x if x >= self.minimum else self.minimum

    def sample(self, rng: random.Random) -> float:
        if self.kind == "fixed":
            return self.a if self.a >= self.minimum else self.minimum
        return self.at(rng.random())

    def sample_int(self, rng: random.Random, minimum: int = 0) -> int:
        """``max(minimum, round(self.sample(rng)))`` (one call fewer: the workload draws two per request)."""
        if self.kind == "fixed":
            value = round(self.a if self.a >= self.minimum else self.minimum)
        else:
            value = round(self.at(rng.random()))
        return value if value > minimum else minimum

    @property
    def median(self) -> float:
        return self.at(0.5)

    def quantile(self, q: float) -> float:
        return self.at(q)

    @property
    def is_zero(self) -> bool:
        return self.kind == "fixed" and self.a == 0.0

    def describe(self) -> str:
        if self.kind == "fixed":
            return f"{self.a:g}"
        if self.kind == "lognormal":
            return f"lognormal(median={self.at(0.5):g}, p99={self.at(0.99):g})"
        return f"{self.kind}(p50={self.at(0.5):g}, p99={self.at(0.99):g})"


def _number(t: Table, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise t.error(key, f"expected numbers ≥ 0, got {describe(value)}")
    return float(value)
