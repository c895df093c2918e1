"""The fixtures in a user's project: a sync app under plain pytest (no pytest-asyncio), run_scenario."""

from __future__ import annotations

import json

import pytest

from tests.plugin.conftest import FAILING_GATE, scenario_toml

PLAIN_INI = """\
[pytest]
addopts = --strict-markers -p no:cacheprovider -p no:asyncio
filterwarnings =
    error
    ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning
"""

SYNC_APP_TEST = """
import openai

def ask(client):
    try:
        return client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=4
        ).choices[0].message.content
    except openai.RateLimitError:
        return "busy"

def test_the_app_says_busy_during_a_429_storm_and_recovers(fake_provider):
    with openai.OpenAI(base_url=fake_provider.openai_base_url, api_key=fake_provider.api_key) as client:
        fake_provider.set_faults([{"kind": "http", "status": 429, "retry_after_s": 0.2, "always": True}])
        assert ask(client) == "busy"
        assert [(r.attempt, r.status) for r in fake_provider.requests()] == [(0, 429), (1, 429), (2, 429)]
        fake_provider.set_faults([])
        assert ask(client) != "busy"
        assert [r.status for r in fake_provider.requests()][-1] == 200

def test_a_session_server_outlives_the_test(fake_provider_session):
    fake_provider_session.reset()
    assert fake_provider_session.requests() == []
"""


def test_fixtures_in_a_sync_project_without_pytest_asyncio(pytester: pytest.Pytester) -> None:
    pytester.makefile(".ini", pytest=PLAIN_INI)
    pytester.makepyfile(test_app=SYNC_APP_TEST)
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=2)
    result.stdout.no_fnmatch_line("plugins:*asyncio-*")  # pytest-asyncio really was off


RUN_SCENARIO_TESTS = """
import json
from pathlib import Path

SCENARIO = {
    "version": 1, "seed": 4, "duration_s": 2, "drain_s": 5,
    "load": {"users": 2, "think_s": 0.5},
}

def test_from_a_mapping(run_scenario):
    result = run_scenario(SCENARIO)
    assert result.passed
    assert run_scenario.last.report_dir == Path("reports", "test_from_a_mapping").resolve()
    summary = json.loads((run_scenario.last.report_dir / "summary.json").read_text())
    assert summary["scenario"] == "test_from_a_mapping"
    assert summary["seed"] == 4

def test_seed_and_out_override(run_scenario, tmp_path):
    result = run_scenario(SCENARIO, seed=8, out=tmp_path / "here")
    assert result.facts.seed == 8
    assert (tmp_path / "here" / "summary.json").is_file()

def test_from_a_file_that_fails_with_check(run_scenario):
    run_scenario("down.toml", check=True)

async def test_from_an_async_test(run_scenario):
    assert run_scenario(SCENARIO, out="reports/async").passed
"""


def test_run_scenario_fixture(project: pytest.Pytester) -> None:
    project.makefile(".toml", down=scenario_toml("down", extra=FAILING_GATE))
    project.makepyfile(test_runs=RUN_SCENARIO_TESTS)
    result = project.runpytest("-p", "asyncio", "-o", "asyncio_mode=auto")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_from_a_file_that_fails_with_check _*",
            "scenario down: 1 of 1 gates failed",
            "  success_rate = 0.0 (gate >= 0.99) FAILED",
            "  report: reports/down/report.html",
            "  rerun: harness run down.toml --seed 3",
        ]
    )
    assert json.loads((project.path / "reports" / "down" / "summary.json").read_text())["passed"] is False
    assert (project.path / "reports" / "async" / "summary.json").is_file()
