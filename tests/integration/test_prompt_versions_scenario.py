"""The prompt-versions scenario puts two versions side by side, and its cost gate catches a costlier prompt."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

from harness.client import ClientConfig
from harness.client.prompts import Prompt, Prompts
from harness.report.html import render_html
from harness.report.markdown import summary_markdown
from harness.runner.run import RunOptions, run_scenario
from harness.scenario.model import load_scenario

ROOT = Path(__file__).resolve().parents[2]


def test_both_versions_are_reported_side_by_side() -> None:
    result = run_scenario(load_scenario(ROOT / "scenarios" / "prompt_versions.toml"), RunOptions(mode="virtual"))
    assert all(g.passed for g in result.gates), [g.describe() for g in result.gates]
    table = result.metrics["prompt_versions"]
    assert isinstance(table, dict)
    assert set(table) == {"support@v1", "support@v2"}
    assert table["support@v2"]["input_tokens_per_answer"] > table["support@v1"]["input_tokens_per_answer"] + 300
    ratio = result.metrics["prompt_cost_ratio"]
    assert isinstance(ratio, float)
    assert 1.5 < ratio < 2.5
    assert "### Prompt versions" in summary_markdown(result)
    assert '<h2 id="prompts-title">Prompt versions</h2>' in render_html(result, [])


def test_a_prompt_four_times_as_long_fails_the_cost_gate() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "prompt_versions.toml")
    client = scenario.client
    assert isinstance(client, ClientConfig)
    support = client.prompts.prompts["support"]
    longer = {**support.versions, "v2": " ".join([support.versions["v2"]] * 4)}
    prompts = Prompts(MappingProxyType({"support": Prompt("support", MappingProxyType(longer), "v2")}))
    result = run_scenario(scenario.with_client(replace(client, prompts=prompts)), RunOptions(mode="virtual"))
    assert [g.name for g in result.gates if not g.passed] == ["prompt_cost_ratio"]
