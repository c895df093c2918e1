"""Price table: exact Decimal costs, name matching, LiteLLM import, field-naming errors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from harness.errors import ConfigError
from harness.pricing import ModelPrice, PriceTable, Usage


def test_cost_is_exact_decimal() -> None:
    table = PriceTable.default()
    assert table.cost("gpt-4o-mini", Usage(input_tokens=1000, output_tokens=200)) == Decimal("0.00027")


def test_cached_and_cache_write_tokens_use_their_prices() -> None:
    price = ModelPrice.per_million("3.00", "15.00", "0.30", "3.75")
    usage = Usage(input_tokens=1_000_000, cached_input_tokens=500_000, cache_write_tokens=100_000, output_tokens=0)
    # 400k plain at 3.00 + 500k cached at 0.30 + 100k written at 3.75
    assert price.cost(usage) == Decimal("1.2") + Decimal("0.15") + Decimal("0.375")


def test_names_match_prefixed_and_dated_models_by_longest_prefix() -> None:
    table = PriceTable.default()
    assert table.find("openai/gpt-4o-mini") is table.prices["gpt-4o-mini"]
    assert table.find("gpt-4o-mini-2024-07-18") is table.prices["gpt-4o-mini"]
    assert table.find("gpt-4o-2024-08-06") is table.prices["gpt-4o"]
    assert table.find("models/gemini-2.5-flash") is table.prices["gemini-2.5-flash"]
    assert table.find("gpt-4ox") is None


def test_unknown_model_names_the_model() -> None:
    with pytest.raises(ConfigError, match="no-such-model"):
        PriceTable.default().cost("no-such-model", Usage(1, 1))


def test_litellm_import_converts_per_token_to_per_million() -> None:
    table = PriceTable.from_litellm(
        {
            "sample_spec": {"input_cost_per_token": 0, "output_cost_per_token": 0},
            "gpt-x": {
                "input_cost_per_token": 2.5e-06,
                "output_cost_per_token": 1e-05,
                "cache_read_input_token_cost": 1.25e-06,
                "litellm_provider": "openai",
            },
            "dall-e": {"input_cost_per_pixel": 1e-08},
        }
    )
    assert list(table) == ["gpt-x"]
    assert table["gpt-x"] == ModelPrice.per_million("2.5", "10", "1.25")


def test_bad_price_names_the_field() -> None:
    with pytest.raises(ConfigError, match=r"price\.output"):
        ModelPrice.per_million("1", "-2")
    with pytest.raises(ConfigError, match=r"prices\.m\.input_cost_per_token"):
        PriceTable.from_litellm({"m": {"input_cost_per_token": "abc", "output_cost_per_token": 1}})
