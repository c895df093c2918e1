"""Default gates fail a run in which the client could not do its job at all.

The case from the field: ``[provider] allowed_keys`` expects one key and the client presents another,
so every request gets the provider's authentication error. With the default gates (a scenario that
declares none) that run used to pass; now ``auth_failures == 0`` and ``success_rate > 0`` fail it,
in virtual time and over sockets. The same scenario with the right key passes: the runner keeps a
scenario's literal key instead of replacing it with its own.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from harness.cli import main
from harness.runner.run import RunOptions, run_scenario
from harness.scenario.model import parse_scenario

SCENARIO = """
name = "wrong_key"
description = "The provider accepts one key; the client presents its own."
duration_s = 3
drain_s = 10

[provider]
allowed_keys = ["sk-team-a"]

[load]
mode = "open"
rate = 4.0
models = ["{model}"]

[[client.models]]
name = "{model}"
provider = "{api}"
api_key = "{key}"
"""


def scenario_text(key: str, model: str = "gpt-4o-mini", api: str = "openai") -> str:
    return SCENARIO.format(key=key, model=model, api=api)


def failed_gates(text: str, mode: str) -> dict[str, object]:
    result = run_scenario(parse_scenario(tomllib.loads(text)), RunOptions(mode=mode))
    return {g.name: g.value for g in result.gates if not g.passed}


@pytest.mark.parametrize("mode", ["virtual", "real-time"])
@pytest.mark.parametrize(
    ("model", "api"), [("gpt-4o-mini", "openai"), ("claude-haiku-4-5", "anthropic"), ("gemini-2.5-flash", "gemini")]
)
def test_a_client_whose_key_the_provider_refuses_fails_the_default_gates(mode: str, model: str, api: str) -> None:
    failed = failed_gates(scenario_text("sk-team-b", model, api), mode)
    assert set(failed) == {"auth_failures", "success_rate"}, failed
    assert isinstance(failed["auth_failures"], int)
    assert failed["auth_failures"] >= 12  # every request of the run (3 s × 4/s), retries aside
    assert failed["success_rate"] == 0.0


@pytest.mark.parametrize("mode", ["virtual", "real-time"])
def test_the_scenario_key_reaches_the_provider_and_the_run_passes(mode: str) -> None:
    assert failed_gates(scenario_text("sk-team-a"), mode) == {}


def test_the_cli_exits_1_and_names_the_gates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "wrong_key.toml"
    path.write_text(scenario_text("sk-team-b"), encoding="utf-8")
    assert main(["run", str(path), "--quiet", "--out", str(tmp_path / "out")]) == 1
    out = capsys.readouterr().out
    assert "auth_failures" in out
    assert "sk-team-b" not in (tmp_path / "out" / "summary.json").read_text()
