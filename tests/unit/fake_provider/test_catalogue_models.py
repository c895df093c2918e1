"""The model catalogue: where its figures come from, aliases, undeclared models and the 404's hint."""

from __future__ import annotations

import json
import logging
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from fake_provider import ProviderConfig, ProviderCore
from fake_provider.exchange import ProviderRequest
from fake_provider.plan import Delivery
from harness import catalogue as cat
from harness.pricing import DEFAULT_PRICES, PriceTable, Usage
from harness.validate import Table


def config(text: str) -> ProviderConfig:
    return ProviderConfig.from_table(Table(tomllib.loads(text).get("provider", {}), "provider"))


def chat(core: ProviderCore, model: str) -> tuple[int, dict[str, object]]:
    body = json.dumps({"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}).encode()
    ex = core.handle(ProviderRequest("POST", "/v1/chat/completions", headers={"authorization": "Bearer k"}, body=body))
    record = ex.finish(Delivery(ex.plan.status, tokens_sent=ex.plan.body_tokens))
    return ex.plan.status, {"model": record.model, "cost": record.cost_usd, "body": json.loads(ex.plan.body)}


def test_every_catalogue_entry_is_complete_and_every_name_unique() -> None:
    models = cat.catalogue()
    names = [n for m in models for n in m.names]
    assert len(names) == len(set(names))
    for m in models:
        assert m.api in ("openai", "anthropic", "gemini"), m
        assert m.kind in ("chat", "embedding"), m
        assert m.context_window > 0
        assert (m.max_output_tokens is None) == (m.kind == "embedding"), m
        assert m.source == "published" or m.source.startswith("litellm:"), m
        assert {"input", "output"} <= dict(m.price).keys()
    assert {n: DEFAULT_PRICES[n] for n in names} == dict(DEFAULT_PRICES)  # the client prices every id


def test_an_alias_is_priced_as_its_family_on_both_sides() -> None:
    core = ProviderCore(ProviderConfig())
    status, dated = chat(core, "gpt-4o-mini-2024-07-18")
    _, plain = chat(core, "gpt-4o-mini")
    assert status == 200
    assert dated["model"] == "gpt-4o-mini-2024-07-18"  # logged as requested
    assert dated["cost"] == plain["cost"]
    assert core.ledger_dict()["by_model"]["gpt-4o-mini"]["requests"] == 2  # billed on the family
    price = PriceTable.default().cost("claude-3-5-haiku-latest", Usage(1_000_000, 1_000_000))
    assert price == Decimal("4.8")


def test_undeclared_models_are_404s_with_one_log_line_saying_how_to_declare_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    core = ProviderCore(ProviderConfig())
    with caplog.at_level(logging.WARNING, logger="fake_provider.models"):
        for _ in range(3):
            status, answer = chat(core, "gpt-9-turbo")
            assert status == 404
            assert answer["body"]["error"]["code"] == "model_not_found"  # type: ignore[index]
    (line,) = [r.getMessage() for r in caplog.records]
    assert "gpt-9-turbo" in line
    assert '[[provider.models]] name = "gpt-9-turbo", api = "openai"' in line
    assert "accept_unknown_models = true" in line


def test_accept_unknown_models_serves_any_name_at_the_declared_price() -> None:
    cfg = config(
        """
        [provider]
        accept_unknown_models = true
        unknown_model_price = { input = 2, output = 4 }
        """
    )
    core = ProviderCore(cfg)
    status, _ = chat(core, "my-finetune-v3")
    assert status == 200
    record = core.log.since(0)[-1]
    assert Decimal(record.cost_usd) == (record.prompt_tokens * 2 + record.output_tokens * 4) / Decimal(10**6)
    assert core.ledger_dict()["by_model"]["my-finetune-v3"]["requests"] == 1
    assert chat(core, "gpt-4o-mini")[0] == 200  # the declared models keep their own prices


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[provider]\naccept_unknown_models = true", "provider.unknown_model_price"),
        ("[provider]\nunknown_model_price = {input = 1, output = 1}", "provider.unknown_model_price"),
        ("[provider]\naccept_unknown_models = true\nunknown_model_price = {input = -1, output = 1}", "input"),
    ],
)
def test_bad_unknown_model_settings_name_the_field(text: str, field: str) -> None:
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        config(text)


def test_a_declared_alias_becomes_its_own_model_with_its_familys_figures() -> None:
    cfg = config(
        """
        [[provider.models]]
        name = "claude-sonnet-4-0"
        ttft = 0.5

        [provider.quotas.models."claude-haiku-4-5"]
        rpm = 7
        """
    )
    index = cfg.model_index()
    alias, family = index["claude-sonnet-4-0"], index["claude-sonnet-4-20250514"]
    assert alias is not family
    assert (alias.price, alias.context_window, alias.api) == (family.price, family.context_window, "anthropic")
    assert alias.ttft.at(0.5) == 0.5
    book = ProviderCore(cfg).quotas
    assert book is not None
    assert book.config.limits_for("claude-haiku-4-5-20251001").rpm == 7  # quotas named by alias reach the model


def test_refresh_takes_litellm_figures_and_keeps_published_ones(tmp_path: Path) -> None:
    document = json.loads(cat.CATALOGUE_PATH.read_text(encoding="utf-8"))
    litellm_map = {
        "gpt-4o": {"input_cost_per_token": 2e-06, "output_cost_per_token": 1e-05, "max_input_tokens": 128000,
                   "max_output_tokens": 16384, "cache_read_input_token_cost": 1e-06},
    }  # fmt: skip
    fresh, changes = cat.refresh(document, litellm_map)
    gpt4o = next(m for m in fresh["models"] if m["name"] == "gpt-4o")
    assert gpt4o["price"] == {"input": "2", "output": "10", "cached_input": "1"}
    assert "gpt-4o: price" in "\n".join(changes)
    sonnet = next(m for m in fresh["models"] if m["name"] == "claude-sonnet-4-20250514")
    assert sonnet == next(m for m in document["models"] if m["name"] == "claude-sonnet-4-20250514")  # published
    assert any("no longer in LiteLLM's map" in line for line in changes)  # the map above lacks the others
    assert json.loads(cat.dumps(fresh)) == fresh


def test_the_shipped_catalogue_matches_the_installed_litellm_map() -> None:
    path = cat.litellm_map_path()
    if path is None:
        pytest.skip("litellm is not installed (the sdks extra brings it)")
    document = json.loads(cat.CATALOGUE_PATH.read_text(encoding="utf-8"))
    _, changes = cat.refresh(document, json.loads(path.read_text(encoding="utf-8")))
    assert [line for line in changes if "→" in line] == [], "run: python -m harness.catalogue refresh"


def test_the_refresh_command_checks_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "map.json"
    empty.write_text("{}", encoding="utf-8")
    assert cat.main(["refresh", "--litellm-map", str(empty), "--check"]) == 0  # nothing to take: no change
    assert "no longer in LiteLLM's map" in capsys.readouterr().out
    assert cat.main(["refresh", "--litellm-map", str(tmp_path / "missing.json")]) == 2
    assert "--litellm-map: cannot read" in capsys.readouterr().err
