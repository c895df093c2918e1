"""Cost: price each request from its actual usage and attribute it by user, feature, model and key.

Prices come from :class:`harness.pricing.PriceTable` (defaults in docs/wire.md, LiteLLM JSON import,
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
from dataclasses import dataclass
from decimal import Decimal

from harness.errors import ConfigError
from harness.pricing import ModelPrice, PriceTable, Usage

__all__ = ["ATTRIBUTION_DIMENSIONS", "Attribution", "CostTracker", "estimate_max_cost", "key_label"]

ATTRIBUTION_DIMENSIONS = ("user", "feature", "model", "key")
_MILLION = Decimal(1_000_000)
_ZERO = Decimal(0)


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
    dearest_input = max(
        p for p in (price.input, price.cached_input, price.cache_write, price.cache_write_1h) if p is not None
    )
    return (max(0, input_tokens) * dearest_input + max(0, max_output_tokens) * price.output) / _MILLION


class _IntPrice:
    """One model's prices as integers at a common exponent: costs in integer arithmetic, exactly as Decimal."""

    __slots__ = ("cached", "exponent", "hour", "input", "output", "write")

    def __init__(self, price: ModelPrice) -> None:
        cached = price.input if price.cached_input is None else price.cached_input
        write = price.input if price.cache_write is None else price.cache_write
        hour = write if price.cache_write_1h is None else price.cache_write_1h
        prices = (price.input, cached, write, hour, price.output)
        # the exponent of ModelPrice.cost's sum before its division: the smallest of the prices'
        exponent = min(int(p.as_tuple().exponent) for p in prices)
        self.exponent = exponent
        self.input, self.cached, self.write, self.hour, self.output = (int(p.scaleb(-exponent)) for p in prices)


def _coefficient(price: _IntPrice, usage: Usage) -> tuple[int, int]:
    """``price.cost(usage)`` as (coefficient, exponent): the same value and the same representation.

    ModelPrice.cost sums four Decimal products (exponent: the smallest price exponent, coefficient
    exact) and divides by 10^6; an exact Decimal division keeps the quotient's trailing zeros down to
    the ideal exponent (the dividend's), so at most six are stripped.
    """
    cached = usage.cached_input_tokens
    written = usage.cache_write_tokens
    plain = usage.input_tokens - cached - written
    if plain < 0:
        raise ValueError(f"usage has more cached/cache-write tokens than input tokens: {usage}")
    hour = usage.cache_write_1h_tokens
    c = (
        plain * price.input
        + cached * price.cached
        + (written - hour) * price.write
        + hour * price.hour
        + usage.output_tokens * price.output
    )
    exponent = price.exponent - 6
    for _ in range(6):
        if c % 10:
            break
        c //= 10
        exponent += 1
    return c, exponent


class _Sum:
    """What one attribution (model, user, feature, key) was charged: an exact sum and its usage."""

    __slots__ = ("cached", "coefficient", "exponent", "hour", "input", "output", "reasoning", "write")

    def __init__(self) -> None:
        self.coefficient = 0  # the cost is coefficient · 10^exponent, as Decimal addition would keep it
        self.exponent = 0
        self.input = self.output = self.cached = self.write = self.reasoning = self.hour = 0  # token sums

    def add(self, coefficient: int, exponent: int, usage: Usage) -> None:
        if exponent == self.exponent:
            self.coefficient += coefficient
        elif exponent < self.exponent:  # Decimal addition: the sum keeps the smaller exponent
            self.coefficient = self.coefficient * 10 ** (self.exponent - exponent) + coefficient
            self.exponent = exponent
        else:
            self.coefficient += coefficient * 10 ** (exponent - self.exponent)
        self.input += usage.input_tokens
        self.output += usage.output_tokens
        self.cached += usage.cached_input_tokens
        self.write += usage.cache_write_tokens
        self.reasoning += usage.reasoning_tokens
        self.hour += usage.cache_write_1h_tokens

    def cost(self) -> Decimal:
        return Decimal(self.coefficient).scaleb(self.exponent)

    def usage(self) -> Usage:
        return Usage(self.input, self.output, self.cached, self.write, self.reasoning, self.hour)


class CostTracker:
    """Running cost and usage totals, per attribution dimension; exact sums.

    Costs are computed and summed in integers (a per-model price memo; one running sum per
    attribution rather than one per dimension) and become Decimals only where read: the amount each
    ``record`` returns, and totals. Values and their Decimal representation are exactly those of
    ``PriceTable.cost`` and Decimal sums.
    """

    def __init__(self, prices: PriceTable | None = None) -> None:
        self.prices = prices if prices is not None else PriceTable.default()  # the price table
        self.requests = 0  # recorded requests
        self._sums: dict[Attribution, _Sum] = {}  # per attribution; dimensions are summed when read
        self._priced: PriceTable | None = None  # the table the memo below was made from
        self._memo: dict[str, _IntPrice] = {}  # model → its integer prices
        self._last_attribution: Attribution | None = None  # the latest attribution and its sums
        self._last_sums = _Sum()

    @property
    def total(self) -> Decimal:
        """Every recorded cost."""
        total = _ZERO
        for sums in self._sums.values():
            total += sums.cost()
        return total

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
        price = self._price(attribution.model)
        coefficient, exponent = _coefficient(price, usage)
        self.requests += 1
        if attribution is self._last_attribution:  # the same attribution again (the caller memoises them)
            sums = self._last_sums
        else:
            found = self._sums.get(attribution)
            sums = self._sums[attribution] = _Sum() if found is None else found
            self._last_attribution, self._last_sums = attribution, sums
        sums.add(coefficient, exponent, usage)
        return Decimal(coefficient).scaleb(exponent)

    def totals(self, dimension: str) -> dict[str, Decimal]:
        """Cost per value of ``dimension`` (user, feature, model or key)."""
        Attribution("").get(dimension)  # validates the name
        out: dict[str, Decimal] = {}
        for attribution, sums in self._sums.items():
            value = attribution.get(dimension)
            if value is not None:
                out[value] = out.get(value, _ZERO) + sums.cost()
        return out

    def usage(self, dimension: str) -> dict[str, Usage]:
        Attribution("").get(dimension)
        out: dict[str, Usage] = {}
        for attribution, sums in self._sums.items():
            value = attribution.get(dimension)
            if value is not None:
                out[value] = out[value] + sums.usage() if value in out else sums.usage()
        return out

    def to_dict(self) -> dict[str, object]:
        """For reports: totals as decimal strings."""
        return {
            "total_usd": str(self.total),
            "requests": self.requests,
            **{f"by_{d}": {k: str(v) for k, v in sorted(self.totals(d).items())} for d in ATTRIBUTION_DIMENSIONS},
        }

    def _price(self, model: str) -> _IntPrice:
        if self._priced is not self.prices:  # a new table: forget the memo
            self._priced, self._memo = self.prices, {}
        price = self._memo.get(model)
        if price is None:
            found = self.prices.find(model)
            if found is None:
                raise ConfigError("prices", f"no price for model {model!r}; add it to the price table")
            if len(self._memo) > 4096:
                self._memo.clear()
            price = self._memo[model] = _IntPrice(found)
        return price

    def __repr__(self) -> str:
        return f"CostTracker(total={self.total} USD, requests={self.requests})"
