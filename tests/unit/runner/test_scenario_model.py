"""Scenario files: every mistake is an error naming the key, the value and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.client import ClientConfig
from harness.errors import ConfigError
from harness.scenario.model import load_scenario, parse_scenario
from harness.scenario.sdk_spec import SDKClientSpec

SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios"


def test_a_minimal_scenario_gets_a_default_reference_client() -> None:
    s = parse_scenario({"name": "tiny", "load": {"users": 2}})
    assert isinstance(s.client, ClientConfig)
    assert [m.name for m in s.client.models] == ["gpt-4o-mini"]
    assert s.provider.seed == s.seed == 1
    assert s.with_seed(9).provider.seed == 9
    assert [g.metric for g in s.gates] == [
        "lost_requests",
        "retry_after_violations",
        "cost_abs_error_usd",
        "auth_failures",
        "success_rate",
    ]


def test_sdk_clients_are_chosen_by_kind() -> None:
    s = parse_scenario({"client": {"kind": "anthropic-sdk", "max_retries": 4}, "load": {"users": 2}, "duration_s": 10})
    assert isinstance(s.client, SDKClientSpec)
    assert s.client.max_attempts == 5
    assert s.client_kind == "anthropic-sdk"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"duraton_s": 5}, r'^duraton_s: unknown key; did you mean "duration_s"\?'),
        ({"duration_s": -1}, r"^duration_s: expected a number > 0, got -1$"),
        ({"version": 2}, r"^version: this harness reads scenario version 1, got 2$"),
        ({"name": "no spaces please"}, r"^name: expected a plain file name"),
        ({"load": {"users": "many"}}, r'^load\.users: expected an integer in \[1, 1000000\], got "many"$'),
        ({"faults": [{"kind": "outage", "start_s": 0, "duration_s": -5}]}, r"^faults\[0\]\.duration_s: "),
        ({"faults": [{"kind": "meteor"}]}, r"^faults\[0\]\.kind: expected one of"),
        ({"load": {"users": 1, "models": {"gpt-9": 1}}}, r"^load\.models\.gpt-9: unknown model"),
        (
            {"client": {"models": [{"name": "gpt-4o-mini", "provider": "anthropic"}]}},
            r"^client\.models\[0\]\.provider: 'gpt-4o-mini' speaks 'openai' at the provider",
        ),
        ({"client": {"models": [{"name": "gpt-4o-mini", "provider": "openai"}], "instances": "x"}}, r"^client\.inst"),
        ({"client": {"kind": "openai-sdk", "max_retries": -1}}, r"^client\.max_retries: expected an integer in"),
        ({"gates": [{"metric": "nonsense"}]}, r"^gates\[0\]\.metric: expected one of"),
        ({"provider": {"quotas": {"rpm": 0}}}, r"^provider\.quotas\.rpm: expected an integer ≥ 1, got 0$"),
    ],
)
def test_mistakes_name_the_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_scenario({"load": {"users": 2, "requests_per_user": 1}, **data})


def test_file_problems_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nseed = \n')
    with pytest.raises(ConfigError, match=r"bad\.toml: not valid TOML"):
        load_scenario(bad)
    with pytest.raises(ConfigError, match=r"missing\.toml: cannot read the scenario"):
        load_scenario(tmp_path / "missing.toml")


@pytest.mark.parametrize("path", sorted(SCENARIOS.rglob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_scenario_parses_and_says_what_it_models(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.description
    first = path.read_text(encoding="utf-8").lstrip().splitlines()[0]
    assert first.startswith("#"), "each scenario file starts with a comment: the incident it models"
