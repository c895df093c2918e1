"""The degradation scenario: the ladder keeps answers flowing through the outage and climbs back; a
ladder without its middle steps fails the static-share gate, and the report shows that failure."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from harness.client import ClientConfig
from harness.report.charts import render_charts
from harness.report.html import render_html
from harness.report.markdown import summary_markdown
from harness.runner.run import RunOptions, run_scenario
from harness.scenario.model import load_scenario

ROOT = Path(__file__).resolve().parents[2]


def test_the_ladder_serves_the_outage_and_climbs_back() -> None:
    result = run_scenario(load_scenario(ROOT / "scenarios" / "degradation.toml"), RunOptions(mode="virtual"))
    assert all(g.passed for g in result.gates), [g.describe() for g in result.gates]
    steps = result.metrics["degradation_steps"]
    assert isinstance(steps, dict)
    assert steps["cache"] > 0
    assert steps["cheaper"] > 0
    assert steps["static"] > 0
    assert steps["primary"] > sum(steps.values()) / 2
    outcomes = result.outcomes
    assert all(o.cost_usd == "0" for o in outcomes if o.source == "static")
    assert all(o.model == "gpt-4o-mini" for o in outcomes if o.degradation_step == "cheaper")
    assert "### Degradation ladder" in summary_markdown(result)
    assert any(c.name == "degradation" for c in render_charts(result))
    # the primary's slow spell: requests it had not answered within primary_deadline_s went down the
    # ladder, and their gpt-4o attempt was hung up (cancelled), not waited for
    reasons = {e.detail for e in result.events if e.kind == "degraded"}
    assert {"breaker_open", "primary_slow"} <= reasons
    hung_up = [a for o in outcomes for a in o.attempts if a.model == "gpt-4o" and a.error == "Cancelled"]
    assert hung_up
    assert all(a.t_end - a.t_start <= 3.0 + 1e-6 for a in hung_up)


def test_a_ladder_with_only_a_static_answer_fails_its_gate_and_the_report_says_so() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "degradation.toml")
    client = scenario.client
    assert isinstance(client, ClientConfig)
    assert client.degradation is not None
    static_only = replace(client, degradation=replace(client.degradation, steps=("static",)))
    result = run_scenario(scenario.with_client(static_only), RunOptions(mode="virtual"))
    assert [g.name for g in result.gates if not g.passed] == ["degradation_static_share"]
    assert "ladder gate failed: degradation_static_share" in summary_markdown(result)
    charts = render_charts(result)
    chart = next(c for c in charts if c.name == "degradation")
    assert "red box names the ladder's gates that failed" in chart.caption
    assert "ladder gate failed" in render_html(result, charts)


def test_a_budget_nearly_spent_keeps_cost_under_it_and_answers_flowing() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "degradation.toml")
    client = scenario.client
    assert isinstance(client, ClientConfig)
    assert client.degradation is not None
    tight = replace(client, degradation=replace(client.degradation, budget_usd=Decimal("0.05")))  # ~half the run
    result = run_scenario(scenario.with_client(tight), RunOptions(mode="virtual"))
    m = result.metrics
    assert Decimal(str(m["cost_provider_usd"])) <= Decimal("0.05") * Decimal("0.95")  # never past static_above
    assert isinstance(m["success_rate"], float)
    assert m["success_rate"] >= 0.98
    steps = m["degradation_steps"]
    assert isinstance(steps, dict)
    assert steps["primary"] < sum(steps.values()) / 2  # past 80 %, gpt-4o is not asked again
    assert steps["cheaper"] > 0
    # the budget stays spent: answers do not climb back, and the gate and the chart say so
    assert [g.name for g in result.gates if not g.passed] == ["degradation_primary_share_end"]
    chart = next(c for c in render_charts(result) if c.name == "degradation")
    assert "red box" in chart.caption
