"""The degradation scenario: every provider goes down, the ladder keeps answers flowing (cache and static
answer), then climbs back through the cheaper model to the primary; planted mistakes (a ladder without
its middle steps, a budget that stays spent, breakers that stay open past the recovery) fail their gates,
and the report shows those failures."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from harness.client import ClientConfig
from harness.client.backoff import fixed
from harness.report.charts import render_charts
from harness.report.html import render_html
from harness.report.markdown import summary_markdown
from harness.report.result import RunResult
from harness.runner.run import RunOptions, run_scenario
from harness.scenario.model import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[2]


def _scenario() -> tuple[Scenario, ClientConfig]:
    scenario = load_scenario(ROOT / "scenarios" / "degradation.toml")
    assert isinstance(scenario.client, ClientConfig)
    assert scenario.client.degradation is not None
    return scenario, scenario.client


def _steps_between(result: RunResult, start: float, end: float) -> dict[str, int]:
    """Requests per step among those begun from ``start`` to ``end`` s into the run (from the timeline)."""
    timeline = result.metrics["degradation_timeline"]
    assert isinstance(timeline, dict)
    width = timeline["bucket_s"]
    assert width == 1.0
    return {step: sum(counts[int(start) : int(end)]) for step, counts in timeline["steps"].items()}


def test_every_provider_down_the_ladder_serves_and_climbs_back_one_rung_at_a_time() -> None:
    scenario, _ = _scenario()
    result = run_scenario(scenario, RunOptions(mode="virtual"))
    assert all(g.passed for g in result.gates), [g.describe() for g in result.gates]
    steps = result.metrics["degradation_steps"]
    assert isinstance(steps, dict)
    assert min(steps["cache"], steps["cheaper"], steps["static"]) > 0
    assert steps["error"] == 0
    # the descent: while every model is down (8-16 s), only the cache and the static answer serve
    down = _steps_between(result, 9, 15)
    assert down["primary"] == down["cheaper"] == down["error"] == 0
    assert down["cache"] > 0
    assert down["static"] > 0
    # the climb, rung by rung: gpt-4o-mini is back at 16 s, the primary's chain is not (cheaper, no static)
    cheaper_back = _steps_between(result, 17, 19)
    assert cheaper_back["cheaper"] > 0
    assert cheaper_back["static"] == cheaper_back["primary"] == 0
    # then the primary path (Anthropic at 19 s, gpt-4o at 21 s), and gpt-4o itself answers the end of the run
    back = _steps_between(result, 21, 32)
    assert back["primary"] == sum(back.values())
    assert result.metrics["degradation_return_s"] == 0.0
    end = [o for o in result.outcomes if o.t_start - result.facts.t0 >= 26]
    assert end
    assert all(o.model == "gpt-4o" and o.degradation_step == "primary" for o in end)
    # the fallback provider served the primary path once it was back and gpt-4o was not
    outcomes = result.outcomes
    assert any(o.model == "claude-haiku-4-5" and o.degradation_step == "primary" for o in outcomes)
    assert all(o.cost_usd == "0" for o in outcomes if o.source == "static")
    assert all(o.model == "gpt-4o-mini" for o in outcomes if o.degradation_step == "cheaper")
    # every breaker of the chain open: the ladder was taken without asking (the breaker rule)
    reasons = {e.detail for e in result.events if e.kind == "degraded"}
    assert {"breaker_open", "primary_failed", "primary_slow"} <= reasons
    # the slow spell before the outage: requests gpt-4o had not answered within primary_deadline_s went down
    # the ladder, and their gpt-4o attempt was hung up (cancelled), not waited for
    hung_up = [a for o in outcomes for a in o.attempts if a.model == "gpt-4o" and a.error == "Cancelled"]
    assert hung_up
    assert all(a.t_end - a.t_start <= 3.0 + 1e-6 for a in hung_up)
    assert "### Degradation ladder" in summary_markdown(result)
    chart = next(c for c in render_charts(result) if c.name == "degradation")
    assert "no answer degraded after it" in chart.caption
    assert "red box" not in chart.caption


def test_a_ladder_with_only_a_static_answer_fails_its_gates_and_the_report_says_so() -> None:
    scenario, client = _scenario()
    assert client.degradation is not None
    static_only = replace(client, degradation=replace(client.degradation, steps=("static",)))
    result = run_scenario(scenario.with_client(static_only), RunOptions(mode="virtual"))
    assert [g.name for g in result.gates if not g.passed] == ["degradation_static_share", "degradation_cheaper_share"]
    assert "ladder gate failed: degradation_static_share" in summary_markdown(result)
    charts = render_charts(result)
    chart = next(c for c in charts if c.name == "degradation")
    assert "red box names the ladder's gates that failed" in chart.caption
    assert "ladder gate failed" in render_html(result, charts)


def test_breakers_that_stay_open_past_the_recovery_keep_answers_down_and_the_chart_says_so() -> None:
    scenario, client = _scenario()
    stuck = replace(client, breaker=replace(client.breaker, open_backoff=fixed(30)))  # open past the run's end
    result = run_scenario(scenario.with_client(stuck), RunOptions(mode="virtual"))
    failed = [g.name for g in result.gates if not g.passed]
    assert {"degradation_return_s", "degradation_primary_share_end"} <= set(failed)
    last_outage_end = max(end for _, end in result.facts.outages) - result.facts.t0
    assert result.metrics["degradation_return_s"] == round(result.facts.t_end - result.facts.t0 - last_outage_end, 6)
    assert _steps_between(result, 22, 32)["primary"] == 0
    chart = next(c for c in render_charts(result) if c.name == "degradation")
    assert "not back on the primary by the end" in chart.caption
    assert "red box" in chart.caption


def test_a_budget_nearly_spent_keeps_cost_under_it_and_answers_flowing() -> None:
    scenario, client = _scenario()
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
    # the budget stays spent: answers do not climb back, and the gates and the chart say so
    assert [g.name for g in result.gates if not g.passed] == ["degradation_return_s", "degradation_primary_share_end"]
    chart = next(c for c in render_charts(result) if c.name == "degradation")
    assert "red box" in chart.caption
