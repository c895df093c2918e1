"""The [client] table: parsing, defaults, field-naming errors, secrets kept out of reprs."""

from __future__ import annotations

import math
import tomllib
from decimal import Decimal

import pytest

from harness.client import (
    ClientConfig,
    ModelSpec,
    RetryBudgetConfig,
    ThrottleConfig,
    full_jitter,
)
from harness.errors import ConfigError

FULL = """
[client]
kind = "reference"
name = "team-a"
seed = 7
client_id = "svc-1"
coalesce = true

[[client.models]]
name = "gpt-4o-mini"
provider = "openai"
base_url = "http://127.0.0.1:8080/v1"
api_key = ["sk-one", "sk-two"]
context_window = 128000
limits = { rpm = 500, tpm = 200000 }

[[client.models]]
name = "claude-no-prefill"
provider = "anthropic"
api_key_env = "ANTHROPIC_KEY_A"
accepts_prefill = false
price = { input = 3, output = 15, cached_input = 0.3, cache_write = 3.75 }
default_max_tokens = 1024

[[client.models]]
name = "gemini-2.5-flash"
provider = "gemini"
api_version = "v1"

[client.fallbacks]
"gpt-4o-mini" = ["claude-no-prefill", "gemini-2.5-flash"]

[client.retry]
max_attempts = 4
backoff = { strategy = "full_jitter", base_s = 0.25, cap_s = 4 }

[client.retry_budget]
ratio = 0.2
reserve = 5

[client.throttle]
k = 1.5

[client.breaker]
scope = "provider"
consecutive_failures = 3
open = { strategy = "fixed", delay_s = 2 }

[client.limits]
rpm = 1000

[[client.budgets]]
scope = "user"
period = "day"
soft_usd = "1"
hard_usd = "2"

[client.timeouts]
connect_s = 2
first_token_s = 5
stall_s = 0
total_s = 30

[client.streaming]
restart_on_break = true

[client.key_rotation]
quota_cooldown_s = 10

[client.cache]
ttl_s = 60
max_entries = 100

[client.transport]
max_connections = 64
"""


def parse(text: str) -> ClientConfig:
    return ClientConfig.parse(tomllib.loads(text)["client"])


def test_a_full_table_reads_into_frozen_objects() -> None:
    config = parse(FULL)
    assert config.name == "team-a"
    assert config.seed == 7
    assert config.client_id == "svc-1"
    assert config.coalesce
    gpt, claude, gemini = config.models
    assert gpt.root_url == "http://127.0.0.1:8080"  # OpenAI's /v1 is stripped: the adapter adds its paths
    assert gpt.api_keys == ("sk-one", "sk-two")
    assert gpt.limits is not None
    assert gpt.limits.rpm == 500
    assert claude.api_key_env == ("ANTHROPIC_KEY_A",)
    assert not claude.accepts_prefill
    assert claude.default_max_tokens == 1024
    assert gemini.api_version == "v1"
    assert gemini.root_url == "https://generativelanguage.googleapis.com"
    assert config.chain("gpt-4o-mini") == ("gpt-4o-mini", "claude-no-prefill", "gemini-2.5-flash")
    assert config.chain("gemini-2.5-flash") == ("gemini-2.5-flash",)
    assert config.retry.max_attempts == 4
    assert config.retry.backoff == full_jitter(0.25, 4)
    assert config.retry_budget == RetryBudgetConfig(0.2, 5)
    assert config.throttle == ThrottleConfig(1.5, 120)
    assert config.breaker is not None
    assert config.breaker.consecutive_failures == 3
    assert config.breaker_scope == "provider"
    assert config.limits.rpm == 1000
    assert config.budgets[0].hard_usd == Decimal("2")
    assert (config.timeouts.connect_s, config.timeouts.first_token_s) == (2, 5)
    assert config.timeouts.stall_s is None  # 0 turns a deadline off
    assert config.streaming.restart_on_break
    assert config.key_rotation.quota_cooldown_s == 10
    assert math.isinf(config.key_rotation.auth_cooldown_s)
    assert config.cache.enabled
    assert config.cache.ttl_s == 60
    assert config.cache.temperature_zero_only
    assert config.transport.max_connections == 64
    assert config.price_table().find("claude-no-prefill") is not None
    with pytest.raises(AttributeError):
        config.name = "other"  # type: ignore[misc]


def test_defaults_are_the_documented_ones() -> None:
    config = parse('[[client.models]]\nname = "gpt-4o"\nprovider = "openai"\n')
    assert config.retry.max_attempts == 3
    assert config.retry_budget == RetryBudgetConfig(0.1, 10.0)
    assert config.throttle is None
    assert config.breaker is not None
    assert config.breaker_scope == "model"
    assert not config.coalesce
    assert not config.cache.enabled
    assert config.timeouts.first_token_s == 60
    assert config.timeouts.total_s == 900
    assert config.redis is None
    assert config.fallbacks == {}


M = '[[client.models]]\nname = "gpt-4o"\nprovider = "openai"\n'


@pytest.mark.parametrize(
    ("snippet", "field", "words"),
    [
        ('[[client.models]]\nname = "x"\nprovider = "azure"', "client.models[0].provider", "expected one of"),
        ('[[client.models]]\nname = "my-model"\nprovider = "openai"', "client.models[0].price", "required"),
        ('[[client.models]]\nname = "gpt-4o"\nprovider = "openai"\ncontext_window = 0', "context_window", "≥ 1"),
        ('[[client.models]]\nname = "gpt-4o"\nprovider = "openai"\nbase_url = "ftp://x"', "base_url", "http"),
        ('[[client.models]]\nname = "gpt-4o"\nprovider = "openai"\nfoo = 1', "client.models[0].foo", "unknown key"),
        (
            '[[client.models]]\nname = "gpt-4o"\nprovider = "openai"\n[client.fallbacks]\n"gpt-4o" = ["nope"]',
            "client.fallbacks.gpt-4o",
            "unknown model",
        ),
        (M + "[client.retry]\nmax_attemps = 3", "max_attemps", "did"),
        ('[[client.models]]\nname = "gpt-4o"\nprovider = "openai"\n[client.timeouts]\nstall_s = -1', "stall_s", "≥ 0"),
        ('[[client.models]]\nname = "gpt-4o"\nprovider = "openai"\n[client.breaker]\nscope = "x"', "scope", "model"),
        ('[[client.models]]\nname = "gpt-4o"\nprovider = "openai"\n[client.redis]\nurl = "http://x"', "url", "redis"),
        ('[[client.models]]\nname = "gpt-4o"\nprovider = "openai"\n[client.cache]\nttl_s = 0', "ttl_s", "> 0"),
        ('[client]\nkind = "openai-sdk"\n' + M, "client.kind", "ref"),
        ('[[client.models]]\nname = "a"\nprovider = "openai"\nprice = { input = "x", output = 1 }', "price.input", ""),
    ],
)
def test_bad_values_name_the_field(snippet: str, field: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ClientConfig.parse(tomllib.loads(snippet)["client"])
    assert field in str(caught.value)
    assert words in str(caught.value)


def test_models_are_required_and_unique() -> None:
    with pytest.raises(ConfigError, match=r"client\.models"):
        ClientConfig.parse({})
    twice = {"models": [{"name": "gpt-4o", "provider": "openai"}] * 2}
    with pytest.raises(ConfigError, match=r"client.models\[1\].name: model 'gpt-4o' is declared twice"):
        ClientConfig.parse(twice)


def test_literal_keys_never_show_in_reprs() -> None:
    config = parse(FULL)
    assert "sk-one" not in repr(config)
    assert "sk-two" not in repr(config.models[0])
    assert "api_key_env=('ANTHROPIC_KEY_A',)" in repr(config.models[1])  # names of variables are not secrets


def test_base_url_and_keys_can_be_supplied_by_the_runner() -> None:
    config = parse(FULL).with_base_url("http://127.0.0.1:9999")
    assert [m.root_url for m in config.models] == [
        "http://127.0.0.1:8080",  # kept: it had its own
        "http://127.0.0.1:9999",
        "http://127.0.0.1:9999",
    ]
    assert {m.root_url for m in config.with_base_url("http://h:1", override=True).models} == {"http://h:1"}
    keyed = config.with_keys("sk-fake")
    assert keyed.models[0].api_keys == ("sk-one", "sk-two")  # kept
    assert keyed.models[2].api_keys == ("sk-fake",)
    assert keyed.with_keys("k", override=True).models[1].api_key_env == ()


def test_model_spec_rejects_an_unknown_provider_in_code() -> None:
    with pytest.raises(ConfigError, match="provider"):
        ModelSpec("m", "azure")


def test_the_table_documented_in_docs_client_md_parses() -> None:
    from pathlib import Path

    text = (Path(__file__).parents[3] / "docs" / "client.md").read_text(encoding="utf-8")
    block = text.split("## The `[client]` table", 1)[1].split("```toml", 1)[1].split("```", 1)[0]
    config = ClientConfig.parse(tomllib.loads(block)["client"])
    assert config.models[0].name == "gpt-4o-mini"
    assert config.redis is not None
    assert config.redis.fallback.local_share == 0.25
    assert config.cache.enabled
    assert config.throttle is not None
    assert "redis://" not in repr(config.redis)  # a URL may carry a password
