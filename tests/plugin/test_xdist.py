"""Scenario items under pytest-xdist: spread over two workers, each writes its own report folder."""

from __future__ import annotations

import json

import pytest

from tests.plugin.conftest import FAILING_GATE, scenario_toml

NAMES = ("alpha", "beta", "gamma", "delta")


@pytest.mark.slow
def test_scenarios_over_two_workers(project: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    catalogue = project.mkdir("scenarios")
    for i, name in enumerate(NAMES):
        catalogue.joinpath(f"{name}.toml").write_text(scenario_toml(name, seed=i + 1, tags=("herd",)))
    catalogue.joinpath("down.toml").write_text(scenario_toml("down", extra=FAILING_GATE))
    project.makepyfile(test_app="def test_app():\n    assert True\n")  # not selected by -m
    # in a subprocess: xdist imported inside an in-process run can trip CPython 3.11.7's AST recursion check
    result = project.runpytest_subprocess("scenarios", "test_app.py", "-n", "2", "-m", "scenario", "-v")
    result.assert_outcomes(passed=len(NAMES), failed=1)  # test_app deselected by -m scenario
    workers = {line.split("]")[0] for line in result.stdout.lines if line.startswith("[gw")}
    assert workers == {"[gw0", "[gw1"}  # both workers ran scenarios
    result.stdout.fnmatch_lines(["*scenario down: 1 of 1 gates failed", "*success_rate = 0.0 (gate >= 0.99) FAILED"])
    reports = project.path / "reports"
    assert {p.name for p in reports.iterdir()} == {*NAMES, "down"}
    for i, name in enumerate(NAMES):
        summary = json.loads((reports / name / "summary.json").read_text())
        assert (summary["scenario"], summary["seed"], summary["passed"]) == (name, i + 1, True)
