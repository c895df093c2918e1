"""The semantic cache's scenario proves its worth in numbers, and its planted bug fails the right gate."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from harness.client import ClientConfig
from harness.runner.run import RunOptions, run_scenario
from harness.scenario.model import load_scenario

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("seed", [3, 11])
def test_the_judged_savings_are_the_exact_difference_with_the_same_run_without_the_cache(seed: int) -> None:
    scenario = load_scenario(ROOT / "scenarios" / "semantic_cache.toml").with_seed(seed)
    with_cache = run_scenario(scenario, RunOptions(mode="virtual"))
    assert all(g.passed for g in with_cache.gates), [g.describe() for g in with_cache.gates]
    client = scenario.client
    assert isinstance(client, ClientConfig)
    without = run_scenario(scenario.with_client(replace(client, semantic_cache=None)), RunOptions(mode="virtual"))
    m, off = with_cache.metrics, without.metrics
    assert m["requests_logical"] == off["requests_logical"]  # the same storm, request for request
    spent, spent_off = Decimal(str(m["cost_provider_usd"])), Decimal(str(off["cost_provider_usd"]))
    assert spent < spent_off / 2  # more than half the bill saved
    assert Decimal(str(m["semantic_cache_savings_usd"])) == spent_off - spent  # exact, not an estimate
    assert m["semantic_cache_savings_share"] == round(float((spent_off - spent) / spent_off), 6)
    assert m["semantic_cache_baseline"] == {
        "mode": "virtual", "seed": seed, "requests_logical": off["requests_logical"], "attempts": off["attempts"],
        "success_rate": off["success_rate"], "cost_provider_usd": off["cost_provider_usd"],
        "latency_p50_s": off["latency_p50_s"], "latency_p99_s": off["latency_p99_s"],
    }  # fmt: skip
    estimate = Decimal(str(m["semantic_cache_savings_estimate_usd"]))
    assert abs(estimate - (spent_off - spent)) < Decimal("0.25") * (spent_off - spent)  # an estimate, kept apart
    assert isinstance(m["attempts"], int)
    assert isinstance(off["attempts"], int)
    assert m["attempts"] < off["attempts"] / 2  # and the provider's load with it
    assert off["semantic_cache_hits"] == 0
    assert off["semantic_cache_baseline"] is None  # no cache: nothing to compare with, no second run
    skipped = run_scenario(scenario, RunOptions(mode="virtual", cache_baseline=False))
    assert skipped.metrics["semantic_cache_savings_usd"] is None  # the caller declined the baseline
    assert skipped.metrics["semantic_cache_savings_estimate_usd"] == m["semantic_cache_savings_estimate_usd"]


def test_a_threshold_set_too_low_fails_the_wrong_hits_gate_only() -> None:
    result = run_scenario(
        load_scenario(ROOT / "examples" / "semantic_cache_wrong_hits.toml"), RunOptions(mode="virtual")
    )
    failed = [g.name for g in result.gates if not g.passed]
    assert failed == ["semantic_cache_wrong_hits"]
    wrong = result.metrics["semantic_cache_wrong_hits"]
    assert isinstance(wrong, int)
    assert wrong > 20


def test_the_report_has_a_semantic_cache_section_only_when_the_run_used_one() -> None:
    from harness.report.html import render_html
    from harness.report.markdown import summary_markdown

    scenario = load_scenario(ROOT / "scenarios" / "semantic_cache.toml")
    result = run_scenario(scenario, RunOptions(mode="virtual"))
    markdown, page = summary_markdown(result), render_html(result, [])
    assert "### Semantic cache" in markdown
    assert "wrong hits (another question's answer) | 0 |" in markdown
    assert '<h2 id="semantic-title">Semantic cache</h2>' in page
    # the side by side with the same run without the cache, in both
    assert "|  | with the cache (virtual) | without the cache (virtual, seed 3) |" in markdown
    bill = result.metrics["cost_provider_usd"]
    baseline = result.metrics["semantic_cache_baseline"]
    assert isinstance(baseline, dict)
    assert f"| provider bill (USD) | {bill} | {baseline['cost_provider_usd']} |" in markdown
    assert "the savings are the exact difference of the two bills" in markdown
    assert "<th>without the cache (virtual, seed 3)</th>" in page
    assert f"<td>provider bill (USD)</td><td>{bill}</td><td>{baseline['cost_provider_usd']}</td>" in page
    assert "saved, estimated from the hits alone (USD)" in markdown  # the estimate, labelled as one
    # over sockets (or under Locust) the baseline is still virtual: the report says what was compared
    sockets = summary_markdown(replace(result, facts=replace(result.facts, mode="real-time")))
    assert "|  | with the cache (real-time) | without the cache (virtual, seed 3) |" in sockets
    assert "This run was real-time: the savings compare its measured bill with the simulated bill" in sockets
    client = scenario.client
    assert isinstance(client, ClientConfig)
    plain = run_scenario(scenario.with_client(replace(client, semantic_cache=None)), RunOptions(mode="virtual"))
    assert "Semantic cache" not in summary_markdown(plain)
    assert "semantic-title" not in render_html(plain, [])
