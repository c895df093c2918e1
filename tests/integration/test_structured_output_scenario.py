"""scenarios/structured_output.toml: the re-ask policy is what keeps answers valid, the judge prices the
re-asks from the client's own outcome log, and the report has a structured-output section."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from harness.client.config import ClientConfig
from harness.client.structured import ReaskPolicy
from harness.report import write_report
from harness.runner.run import RunOptions, run_scenario
from harness.scenario.model import Scenario, load_scenario

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "structured_output.toml"


def _with_reasks(n: int | None) -> Scenario:
    scenario = load_scenario(SCENARIO)
    assert isinstance(scenario.client, ClientConfig)
    policy = None if n is None else ReaskPolicy(n)
    short = replace(scenario, load=replace(scenario.load, max_requests=80))  # a quarter of the run: enough to tell
    return short.with_client(replace(scenario.client, structured=policy))


def test_reasks_keep_answers_valid_and_the_report_shows_their_cost(tmp_path: Path) -> None:
    result = run_scenario(load_scenario(SCENARIO), RunOptions(mode="virtual"))
    assert result.passed, [g.describe() for g in result.gates if not g.passed]
    m = result.metrics
    reasks = [o for o in result.outcomes if ".reask" in o.id]
    assert m["reask_cost_usd"] == str(sum((Decimal(o.cost_usd) for o in reasks), Decimal(0)).normalize())
    assert m["reask_rate"] == round(len(reasks) / m["structured_requests"], 6)  # type: ignore[operator]
    assert m["first_answer_valid_rate"] < m["schema_valid_rate"]  # type: ignore[operator]
    write_report(result, tmp_path)
    summary = (tmp_path / "summary.md").read_text()
    assert "### Structured output" in summary
    assert "re-asks per structured request" in summary
    assert 'id="structured-title"' in (tmp_path / "report.html").read_text()


def test_without_reasks_the_storm_reaches_the_callers() -> None:
    validate_only = run_scenario(_with_reasks(0), RunOptions(mode="virtual"))
    failed = {g.name for g in validate_only.gates if not g.passed}
    assert {"schema_valid_rate", "success_rate"} <= failed
    assert validate_only.metrics["reask_rate"] == 0
    unjudged = run_scenario(_with_reasks(None), RunOptions(mode="virtual"))
    assert unjudged.metrics["schema_valid_rate"] is None  # a client that does not validate reports no verdicts
    assert not next(g for g in unjudged.gates if g.name == "schema_valid_rate").passed
