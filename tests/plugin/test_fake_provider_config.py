"""Configuring ``fake_provider`` by overriding ``fake_provider_config`` (here: a parsed scenario)."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from fake_provider import ProviderConfig
from harness.errors import ConfigError
from harness.testing import FakeProvider


@pytest.fixture
def fake_provider_config() -> Any:
    return {
        "provider": {"allowed_keys": ["sk-team-a"], "quotas": {"rpm": 2}},
        "faults": [{"kind": "latency", "always": True, "ttft": 0.05}],
    }


def test_the_override_configures_keys_quotas_and_faults(fake_provider: FakeProvider) -> None:
    assert fake_provider.api_key == "sk-team-a"  # the fixture hands out a key the server accepts
    assert fake_provider.config.allow_fault_headers  # always on for tests
    with openai.OpenAI(base_url=fake_provider.openai_base_url, api_key=fake_provider.api_key, max_retries=0) as client:
        for _ in range(2):
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    log = fake_provider.requests()
    assert [(r.status, r.fault) for r in log] == [(200, "latency#0"), (200, "latency#0"), (429, "quota:rpm")]


def test_a_scenario_file_configures_it_too(tmp_path: Any) -> None:
    path = tmp_path / "s.toml"
    path.write_text('version = 1\n[load]\nusers = 1\n[provider]\nseed = 9\n[[faults]]\nkind = "reset"\nalways = true\n')
    with FakeProvider.start(path) as server:
        assert server.health()["seed"] == 9
        assert [f["kind"] for f in server.faults()] == ["reset"]


def test_a_provider_config_gets_fault_headers_allowed() -> None:
    with FakeProvider.start(ProviderConfig(seed=4)) as server:
        health = server.health()
        assert (health["seed"], health["allow_fault_headers"]) == (4, True)
        assert server.api_key == "sk-fake-provider-test"


def test_a_bad_setup_is_refused_before_starting(tmp_path: Any) -> None:
    with pytest.raises(ConfigError, match=r"^provider\.seed: expected an integer"):
        FakeProvider.start({"provider": {"seed": "x"}})
    with pytest.raises(ConfigError, match="cannot read the scenario"):
        FakeProvider.start(tmp_path / "missing.toml")
    (tmp_path / "broken.toml").write_text("[provider\n")
    with pytest.raises(ConfigError, match="not a valid TOML file"):
        FakeProvider.start(tmp_path / "broken.toml")
