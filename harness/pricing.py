"""Prices and usage: the one place both sides turn tokens into money.

The fake provider's billing ledger and the reference client's cost tracker both price usage with a
:class:`PriceTable`, so a disagreement between them is a real finding (a lost stream, a miscounted
retry) and never a rounding artefact. Amounts are :class:`~decimal.Decimal`, exact, never rounded.

Usage is normalised across providers: ``input_tokens`` counts *every* prompt token, including the
cached and cache-write ones (OpenAI's ``prompt_tokens``; Anthropic's ``input_tokens`` +
``cache_read_input_tokens`` + ``cache_creation_input_tokens``); ``output_tokens`` counts every
generated token, including reasoning ones. Cost::

    (input - cached - cache_write) · input_price + cached · cached_price
      + (cache_write - cache_write_1h) · cache_write_price + cache_write_1h · cache_write_1h_price
      + output · output_price                                             (prices per 1M tokens)

Example::

    table = PriceTable.default().with_overrides({"my-model": ModelPrice.per_million("1", "2")})
    table.cost("gpt-4o-mini", Usage(input_tokens=1000, output_tokens=200))  # Decimal('0.00027')

LiteLLM's flat JSON (``input_cost_per_token`` …, keyed by model) imports with :meth:`PriceTable.from_litellm`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from harness.catalogue import catalogue
from harness.errors import ConfigError

__all__ = ["DEFAULT_PRICES", "ModelPrice", "PriceTable", "Usage", "parse_decimal"]

_MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens of one request, normalised across providers (see the module docstring)."""

    input_tokens: int = 0  # every prompt token, cached ones included
    output_tokens: int = 0  # every generated token, reasoning ones included
    cached_input_tokens: int = 0  # prompt tokens read from the provider's cache (subset of input)
    cache_write_tokens: int = 0  # prompt tokens written to the cache (subset of input; Anthropic)
    reasoning_tokens: int = 0  # generated tokens spent on reasoning (subset of output)
    cache_write_1h_tokens: int = 0  # cache writes with the 1-hour TTL (subset of cache_write; Anthropic)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cached_input_tokens + other.cached_input_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
            self.cache_write_1h_tokens + other.cache_write_1h_tokens,
        )

    def to_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_input_tokens": self.cached_input_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "cache_write_1h_tokens": self.cache_write_1h_tokens,
        }


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD per one million tokens. Cached and cache-write prices default to the input price."""

    input: Decimal  # per 1M uncached prompt tokens
    output: Decimal  # per 1M generated tokens (reasoning included)
    cached_input: Decimal | None = None  # per 1M prompt tokens read from cache
    cache_write: Decimal | None = None  # per 1M prompt tokens written to cache (Anthropic: the 5-minute TTL)
    cache_write_1h: Decimal | None = None  # per 1M prompt tokens written with the 1-hour TTL (default: cache_write)

    @classmethod
    def per_million(
        cls,
        input: str | int | Decimal,
        output: str | int | Decimal,
        cached_input: str | int | Decimal | None = None,
        cache_write: str | int | Decimal | None = None,
        cache_write_1h: str | int | Decimal | None = None,
        *,
        field: str = "price",
    ) -> ModelPrice:
        """Build from numbers given as strings, ints or Decimals (floats would lose exactness)."""
        return cls(
            parse_decimal(input, f"{field}.input"),
            parse_decimal(output, f"{field}.output"),
            None if cached_input is None else parse_decimal(cached_input, f"{field}.cached_input"),
            None if cache_write is None else parse_decimal(cache_write, f"{field}.cache_write"),
            None if cache_write_1h is None else parse_decimal(cache_write_1h, f"{field}.cache_write_1h"),
        )

    def cost(self, usage: Usage) -> Decimal:
        cached = usage.cached_input_tokens
        written = usage.cache_write_tokens
        plain = usage.input_tokens - cached - written
        if plain < 0:
            raise ValueError(f"usage has more cached/cache-write tokens than input tokens: {usage}")
        cached_price = self.input if self.cached_input is None else self.cached_input
        write_price = self.input if self.cache_write is None else self.cache_write
        hour = usage.cache_write_1h_tokens
        hour_price = write_price if self.cache_write_1h is None else self.cache_write_1h
        total = (
            plain * self.input
            + cached * cached_price
            + (written - hour) * write_price
            + hour * hour_price
            + usage.output_tokens * self.output
        )
        return total / _MILLION

    def to_dict(self) -> dict[str, str]:
        out = {"input": str(self.input), "output": str(self.output)}
        if self.cached_input is not None:
            out["cached_input"] = str(self.cached_input)
        if self.cache_write is not None:
            out["cache_write"] = str(self.cache_write)
        if self.cache_write_1h is not None:
            out["cache_write_1h"] = str(self.cache_write_1h)
        return out


def parse_decimal(value: object, field: str) -> Decimal:
    """A finite, non-negative Decimal from a string, int or float (via its repr); errors name ``field``."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ConfigError(field, f"expected a price as a number or numeric string, got {value!r}")
    try:
        # str() first so that floats from TOML/JSON keep their shortest repr (0.15, not 0.1499999…)
        result = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise ConfigError(field, f"expected a price as a number, got {value!r}") from None
    if not result.is_finite() or result < 0:
        raise ConfigError(field, f"expected a finite, non-negative price, got {value!r}")
    return result


def _catalogue_prices() -> dict[str, ModelPrice]:
    """Every catalogue model's price under its name and each of its aliases (``harness/catalogue.json``);
    Anthropic's 1-hour cache writes cost twice the input price, as Anthropic publishes."""
    prices: dict[str, ModelPrice] = {}
    for model in catalogue():
        figures = dict(model.price)
        hour = str(Decimal(figures["input"]) * 2) if model.api == "anthropic" else None
        price = ModelPrice.per_million(
            figures["input"], figures["output"], figures.get("cached_input"), figures.get("cache_write"), hour
        )
        prices.update(dict.fromkeys(model.names, price))
    return prices


#: USD per 1M tokens of every model the catalogue knows, by name and alias (``harness.catalogue``)
DEFAULT_PRICES: Mapping[str, ModelPrice] = _catalogue_prices()


@dataclass(frozen=True)
class PriceTable(Mapping[str, ModelPrice]):
    """Prices by model name; lookups also match provider-prefixed and dated names.

    ``"openai/gpt-4o-mini"`` and ``"gpt-4o-mini-2024-07-18"`` both find ``gpt-4o-mini`` (the longest
    known name that prefixes the model wins, so ``gpt-4o-mini-…`` never falls back to ``gpt-4o``).
    """

    prices: Mapping[str, ModelPrice] = field(default_factory=dict)

    @classmethod
    def default(cls) -> PriceTable:
        return cls(dict(DEFAULT_PRICES))

    def with_overrides(self, overrides: Mapping[str, ModelPrice]) -> PriceTable:
        return PriceTable({**self.prices, **overrides})

    def __getitem__(self, model: str) -> ModelPrice:
        price = self.find(model)
        if price is None:
            raise KeyError(model)
        return price

    def __iter__(self) -> Iterator[str]:
        return iter(self.prices)

    def __len__(self) -> int:
        return len(self.prices)

    def find(self, model: str) -> ModelPrice | None:
        price = self.prices.get(model)
        if price is not None:
            return price
        name = model.rsplit("/", 1)[-1]
        if name.startswith("models/"):
            name = name[len("models/") :]
        price = self.prices.get(name)
        if price is not None:
            return price
        best = ""
        for known in self.prices:
            boundary = name[len(known) : len(known) + 1]
            if name.startswith(known) and len(known) > len(best) and boundary in ("-", "@"):
                best = known
        return self.prices[best] if best else None

    def cost(self, model: str, usage: Usage) -> Decimal:
        """Exact cost of ``usage`` on ``model``; raises :class:`ConfigError` for an unpriced model."""
        price = self.find(model)
        if price is None:
            raise ConfigError("prices", f"no price for model {model!r}; add it to the price table")
        return price.cost(usage)

    @classmethod
    def from_litellm(cls, data: Mapping[str, Any] | str | Path) -> PriceTable:
        """Import LiteLLM's ``model_prices_and_context_window.json`` (prices per *token*).

        Entries without both ``input_cost_per_token`` and ``output_cost_per_token`` (image, audio and
        the ``sample_spec`` entry) are skipped.
        """
        if isinstance(data, str | Path):
            try:
                loaded = json.loads(Path(data).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ConfigError("prices", f"cannot read LiteLLM price file {str(data)!r}: {exc}") from None
            data = loaded
        if not isinstance(data, Mapping):
            raise ConfigError("prices", "expected a JSON object keyed by model name")
        prices: dict[str, ModelPrice] = {}
        for model, entry in data.items():
            if model == "sample_spec" or not isinstance(entry, Mapping):
                continue
            if "input_cost_per_token" not in entry or "output_cost_per_token" not in entry:
                continue
            where = f"prices.{model}"

            def per_m(key: str, entry: Mapping[str, Any] = entry, where: str = where) -> Decimal | None:
                value = entry.get(key)
                return None if value is None else parse_decimal(value, f"{where}.{key}") * _MILLION

            input_price = _tidy(per_m("input_cost_per_token"))
            output_price = _tidy(per_m("output_cost_per_token"))
            assert input_price is not None
            assert output_price is not None
            prices[model] = ModelPrice(
                input_price,
                output_price,
                _tidy(per_m("cache_read_input_token_cost")),
                _tidy(per_m("cache_creation_input_token_cost")),
            )
        return cls(prices)

    def to_dict(self) -> dict[str, dict[str, str]]:
        return {model: price.to_dict() for model, price in sorted(self.prices.items())}


def _tidy(value: Decimal | None) -> Decimal | None:
    """2.5000000 → 2.5 and 10.000 → 10 (never 1E+1), without changing the value."""
    if value is None:
        return None
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()
