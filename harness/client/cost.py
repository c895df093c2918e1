"""Cost: price each request from its actual usage and attribute it by user, feature, model and key.

Prices come from :class:`harness.pricing.PriceTable` (defaults from WIRE.md, LiteLLM JSON import,
overrides), the same table the fake provider's billing ledger uses, so the two agree to the last
digit. Amounts are :class:`~decimal.Decimal`; input, cached input, cache writes, output and reasoning
tokens are all priced (reasoning tokens are output tokens).

:func:`estimate_max_cost` is the upper bound a budget reserves before sending: every prompt token at
the dearest input price the model has (a cache write can cost more than a plain input token) and
``max_tokens`` output tokens.

Keys are attributed by a label (:func:`key_label`: ``key:`` and a short SHA-256), never by the key.

Example::

    tracker = CostTracker(PriceTable.default())
    tracker.record("gpt-4o-mini", Usage(input_tokens=1000, output_tokens=200), user="ana", feature="search")
    tracker.totals("user")      # {"ana": Decimal("0.00027")}
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from harness.errors import ConfigError
from harness.pricing import PriceTable, Usage

__all__ = ["ATTRIBUTION_DIMENSIONS", "Attribution", "CostTracker", "estimate_max_cost", "key_label"]

ATTRIBUTION_DIMENSIONS = ("user", "feature", "model", "key")
_MILLION = Decimal(1_000_000)


def key_label(api_key: str) -> str:
    """A stable, non-secret label for an API key: ``key:`` + the first 12 hex digits of its SHA-256."""
    return "key:" + hashlib.sha256(api_key.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class Attribution:
    """Who and what a request's cost belongs to (``None``: not attributed on that dimension)."""

    model: str  # the model billed
    user: str | None = None  # end user or tenant
    feature: str | None = None  # product feature
    key: str | None = None  # API key *label* (see key_label), never the key

    def get(self, dimension: str) -> str | None:
        if dimension not in ATTRIBUTION_DIMENSIONS:
            raise ConfigError("attribution", f"unknown dimension {dimension!r}; expected {ATTRIBUTION_DIMENSIONS}")
        value: str | None = getattr(self, dimension)
        return value


def estimate_max_cost(prices: PriceTable, model: str, input_tokens: int, max_output_tokens: int) -> Decimal:
    """The most a request can cost: the budget reservation (raises ConfigError for an unpriced model)."""
    price = prices.find(model)
    if price is None:
        raise ConfigError("prices", f"no price for model {model!r}; add it to the price table")
    dearest_input = max(p for p in (price.input, price.cached_input, price.cache_write) if p is not None)
    return (max(0, input_tokens) * dearest_input + max(0, max_output_tokens) * price.output) / _MILLION


class CostTracker:
    """Running cost and usage totals, per attribution dimension; exact Decimal sums."""

    def __init__(self, prices: PriceTable | None = None) -> None:
        self.prices = prices if prices is not None else PriceTable.default()  # the price table
        self.total = Decimal(0)  # every recorded cost
        self.requests = 0  # recorded requests
        self._cost: dict[str, defaultdict[str, Decimal]] = {d: defaultdict(Decimal) for d in ATTRIBUTION_DIMENSIONS}
        self._usage: dict[str, defaultdict[str, Usage]] = {d: defaultdict(Usage) for d in ATTRIBUTION_DIMENSIONS}

    def cost(self, model: str, usage: Usage) -> Decimal:
        return self.prices.cost(model, usage)

    def estimate(self, model: str, input_tokens: int, max_output_tokens: int) -> Decimal:
        return estimate_max_cost(self.prices, model, input_tokens, max_output_tokens)

    def record(
        self,
        model: str,
        usage: Usage,
        *,
        user: str | None = None,
        feature: str | None = None,
        key: str | None = None,
    ) -> Decimal:
        """Price ``usage`` on ``model``, add it to every total it belongs to, and return the cost."""
        return self.record_for(Attribution(model, user, feature, key), usage)

    def record_for(self, attribution: Attribution, usage: Usage) -> Decimal:
        amount = self.prices.cost(attribution.model, usage)
        self.total += amount
        self.requests += 1
        for dim in ATTRIBUTION_DIMENSIONS:
            value = attribution.get(dim)
            if value is not None:
                self._cost[dim][value] += amount
                self._usage[dim][value] = self._usage[dim][value] + usage
        return amount

    def totals(self, dimension: str) -> dict[str, Decimal]:
        """Cost per value of ``dimension`` (user, feature, model or key)."""
        Attribution("").get(dimension)  # validates the name
        return dict(self._cost[dimension])

    def usage(self, dimension: str) -> dict[str, Usage]:
        Attribution("").get(dimension)
        return dict(self._usage[dimension])

    def to_dict(self) -> dict[str, object]:
        """For reports: totals as decimal strings."""
        return {
            "total_usd": str(self.total),
            "requests": self.requests,
            **{f"by_{d}": {k: str(v) for k, v in sorted(self._cost[d].items())} for d in ATTRIBUTION_DIMENSIONS},
        }

    def __repr__(self) -> str:
        return f"CostTracker(total={self.total} USD, requests={self.requests})"
