"""Scenario files as test items: pass, fail with the gate lines, report folders, collection errors."""

from __future__ import annotations

import json

import pytest

from tests.plugin.conftest import FAILING_GATE, scenario_toml


def test_a_passing_scenario_is_a_passed_item_named_after_it(project: pytest.Pytester) -> None:
    project.makefile(".toml", tiny=scenario_toml("tiny_ok"))
    result = project.runpytest("tiny.toml", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["tiny.toml::tiny_ok PASSED*"])
    summary = json.loads((project.path / "reports" / "tiny_ok" / "summary.json").read_text())
    assert summary["scenario"] == "tiny_ok"
    assert summary["passed"] is True
    assert summary["mode"] == "virtual"
    assert (project.path / "reports" / "tiny_ok" / "report.html").is_file()


def test_a_failing_gate_fails_the_item_with_value_and_threshold(project: pytest.Pytester) -> None:
    project.makefile(".toml", down=scenario_toml("down", extra=FAILING_GATE))
    result = project.runpytest("down.toml")
    result.assert_outcomes(failed=1)
    reports = result.reprec.getreports("pytest_runtest_logreport")  # type: ignore[attr-defined]
    (failed,) = [r for r in reports if r.when == "call"]
    text = str(failed.longrepr)
    lines = text.splitlines()
    assert lines[0] == "scenario down: 1 of 1 gates failed"
    assert lines[1] == "  success_rate = 0.0 (gate >= 0.99) FAILED"
    assert lines[2] == "  report: reports/down/report.html"
    assert lines[3] == "  rerun: harness run down.toml --seed 3"
    assert "Traceback" not in result.stdout.str()
    assert json.loads((project.path / "reports" / "down" / "summary.json").read_text())["passed"] is False


def test_seed_reports_and_real_time_options(project: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory) -> None:
    project.makefile(".toml", tiny=scenario_toml("tiny_opts"))
    out = tmp_path_factory.mktemp("elsewhere")
    result = project.runpytest(
        "tiny.toml", "--harness-seed", "11", "--harness-reports", str(out), "--harness-real-time"
    )
    result.assert_outcomes(passed=1)
    summary = json.loads((out / "tiny_opts" / "summary.json").read_text())
    assert (summary["seed"], summary["mode"]) == (11, "real-time")
    assert not (project.path / "reports").exists()


@pytest.mark.parametrize("seed", ["-1", "many", str(2**63)])
def test_a_bad_seed_is_a_usage_error(project: pytest.Pytester, seed: str) -> None:
    project.makefile(".toml", tiny=scenario_toml("tiny"))
    result = project.runpytest("tiny.toml", f"--harness-seed={seed}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--harness-seed: expected an integer from 0 to 2**63-1*"])


def test_an_invalid_scenario_is_a_collection_error_naming_the_field(project: pytest.Pytester) -> None:
    project.makefile(".toml", bad=scenario_toml("bad").replace("users = 2", 'users = "many"'))
    result = project.runpytest("bad.toml")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.assert_outcomes(errors=1)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(
        ["*ERROR collecting bad.toml*", 'invalid scenario: load.users: expected an integer*, got "many"']
    )
    assert "Traceback" not in out
    assert "harness/scenario" not in out  # no frames from the loader


def test_a_scenario_above_the_ceilings_is_refused_unless_allowed(project: pytest.Pytester) -> None:
    project.makefile(".toml", huge=scenario_toml("huge").replace("users = 2", "users = 100000"))
    result = project.runpytest("huge.toml", "--collect-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*invalid scenario: load.users: 100,000 users, above the ceiling of 20,000*"])
    allowed = project.runpytest("huge.toml", "--collect-only", "--harness-allow-large")
    assert allowed.ret == pytest.ExitCode.OK
    allowed.stdout.fnmatch_lines(["*ScenarioItem huge*"])


def test_broken_toml_that_reads_like_a_scenario_is_reported(project: pytest.Pytester) -> None:
    project.makefile(".toml", broken="version = 1\n[load\nusers = 2\n")
    result = project.runpytest("broken.toml")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*invalid scenario: *broken.toml: not valid TOML*"])


def test_other_toml_files_are_not_collected(project: pytest.Pytester) -> None:
    project.makefile(".toml", pyproject='[project]\nname = "x"\nversion = "1"\n[tool.x]\nload = 1\n')
    project.makefile(".toml", notes="not = [toml at all\n")
    project.makefile(".toml", tiny=scenario_toml("tiny_only"))
    result = project.runpytest(".", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["tiny.toml::tiny_only PASSED*"])


def test_two_files_with_one_scenario_name_are_refused(project: pytest.Pytester) -> None:
    project.mkdir("a").joinpath("one.toml").write_text(scenario_toml("same"))
    project.mkdir("b").joinpath("two.toml").write_text(scenario_toml("same"))
    result = project.runpytest("a", "b")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*name: 'same' is also the name of a/one.toml*in reports/same/*"])


def test_a_python_test_next_to_scenarios_still_runs(project: pytest.Pytester) -> None:
    project.makefile(".toml", tiny=scenario_toml("tiny_py"))
    project.makepyfile(test_app="def test_app():\n    assert True\n")
    project.runpytest(".").assert_outcomes(passed=2)


SDK_WITHOUT_ITS_MODEL = """
[provider]
default_models = false

[[provider.models]]
name = "m1"
api = "openai"
price = { input = 1, output = 2 }

[client]
kind = "anthropic-sdk"
"""


def test_a_problem_found_only_when_the_run_starts_is_reported_without_traceback(project: pytest.Pytester) -> None:
    project.makefile(".toml", sdk=scenario_toml("sdk_mismatch", extra=SDK_WITHOUT_ITS_MODEL))
    result = project.runpytest("sdk.toml")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["scenario sdk_mismatch: invalid scenario: provider.models: no anthropic chat model*"])
    assert "Traceback" not in result.stdout.str()
