"""The preflight worst case, keys from the environment, and the redactor."""

from __future__ import annotations

from decimal import Decimal

import pytest

from harness.client.cost import estimate_max_cost
from harness.errors import ConfigError
from harness.pricing import PriceTable
from harness.smoke.plan import PROMPT_ALLOWANCE_TOKENS, SmokeSettings, api_key, preflight, prompt_tokens
from harness.smoke.redaction import REDACTED, Redactor


def test_preflight_is_every_call_at_max_tokens_plus_the_prompt_allowance() -> None:
    settings = SmokeSettings.create("openai", max_cost_usd="0.05")
    estimate = preflight(settings)
    prices = PriceTable.default()
    per_call = estimate_max_cost(prices, "gpt-4o-mini", prompt_tokens(), settings.max_tokens)
    allowance = estimate_max_cost(prices, "gpt-4o-mini", PROMPT_ALLOWANCE_TOKENS, 0) * settings.calls * 2
    assert settings.calls == 7
    assert estimate.total_usd == per_call * 7 + allowance
    assert Decimal(0) < estimate.total_usd < settings.max_cost_usd


def test_a_dearer_model_costs_more_in_the_worst_case() -> None:
    cheap = preflight(SmokeSettings.create("anthropic", "claude-haiku-4-5"))
    dear = preflight(SmokeSettings.create("anthropic", "claude-sonnet-4-0"))
    assert dear.total_usd > cheap.total_usd


def test_an_unpriced_model_is_refused_naming_the_option() -> None:
    with pytest.raises(ConfigError, match="--model: no price for 'gpt-unknown'"):
        preflight(SmokeSettings.create("openai", "gpt-unknown"))


@pytest.mark.parametrize("cap", ["0", "-1", "abc", "nan"])
def test_a_bad_cap_is_refused_naming_the_option(cap: str) -> None:
    with pytest.raises(ConfigError, match="--max-cost-usd"):
        SmokeSettings.create("openai", max_cost_usd=cap)


def test_missing_key_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"^OPENAI_API_KEY is not set"):
        api_key("openai", {})
    with pytest.raises(ConfigError, match=r"^GEMINI_API_KEY or GOOGLE_API_KEY is not set"):
        api_key("gemini", {"OPENAI_API_KEY": "x"})
    assert api_key("gemini", {"GOOGLE_API_KEY": "g-1"}) == ("GOOGLE_API_KEY", "g-1")
    assert api_key("gemini", {"GEMINI_API_KEY": "a", "GOOGLE_API_KEY": "b"}) == ("GEMINI_API_KEY", "a")


def test_redactor_removes_the_key_its_pieces_and_masked_forms() -> None:
    key = "sk-proj-Zq81xLmN0pQrStUvWxYz4455"
    r = Redactor([key])
    assert key not in r.scrub(f"key={key}")
    assert r.scrub("prefix sk-proj-Zq81 here") == f"prefix {REDACTED} here"
    assert r.scrub("suffix …WxYz4455") == f"suffix …{REDACTED}"
    assert r.scrub("Incorrect API key provided: sk-proj-****4455.") == f"Incorrect API key provided: {REDACTED}."
    assert r.scrub("nothing secret here: sk- and key") == "nothing secret here: sk- and key"
    assert "Zq81" not in repr(r)
