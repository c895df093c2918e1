"""Which scenario files are collected (testpaths, --ignore, the ini key) and selecting them by tag."""

from __future__ import annotations

import pytest

from tests.plugin.conftest import INNER_INI, scenario_toml


@pytest.fixture
def repo(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project shaped like this repository: testpaths = ["tests"], a catalogue in scenarios/."""
    pytester.makefile(".ini", pytest=INNER_INI + "testpaths = tests\n")
    pytester.mkdir("tests").joinpath("test_app.py").write_text("def test_app():\n    assert True\n")
    catalogue = pytester.mkdir("scenarios")
    catalogue.joinpath("herd.toml").write_text(scenario_toml("herd_one", tags=("herd", "outage")))
    catalogue.joinpath("slow.toml").write_text(scenario_toml("slow_one", tags=("slow", "rate-limit")))
    catalogue.joinpath("plain.toml").write_text(scenario_toml("plain_one"))
    catalogue.joinpath("conduct").mkdir()
    catalogue.joinpath("conduct", "reset.toml").write_text(scenario_toml("conduct_reset", tags=("conduct",)))
    return pytester


def _ran(result: pytest.RunResult) -> set[str]:
    """Names of the items that ran."""
    reports = result.reprec.getreports("pytest_runtest_logreport")  # type: ignore[attr-defined]
    return {r.nodeid.rsplit("::", 1)[-1] for r in reports if r.when == "call"}


def _selected(pytester: pytest.Pytester, *args: str) -> set[str]:
    """Names of the items a run with ``args`` would run (collection and -m/-k selection only: fast)."""
    result = pytester.runpytest(*args, "--collect-only", "-q")
    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED), result.stdout.str()
    return {line.rsplit("::", 1)[-1] for line in result.stdout.lines if "::" in line}


def test_a_bare_pytest_runs_testpaths_but_not_the_catalogue(repo: pytest.Pytester) -> None:
    result = repo.runpytest()
    assert _ran(result) == {"test_app"}
    assert not (repo.path / "reports").exists()


def test_a_bare_pytest_without_testpaths_does_not_run_scenarios_either(pytester: pytest.Pytester) -> None:
    pytester.makefile(".ini", pytest=INNER_INI)
    pytester.makefile(".toml", tiny=scenario_toml("tiny"))
    pytester.makepyfile(test_app="def test_app():\n    assert True\n")
    assert _ran(pytester.runpytest()) == {"test_app"}


def test_naming_the_catalogue_runs_it_despite_testpaths(repo: pytest.Pytester) -> None:
    result = repo.runpytest("scenarios")
    assert _ran(result) == {"herd_one", "slow_one", "plain_one", "conduct_reset"}
    assert {p.name for p in (repo.path / "reports").iterdir()} == {"herd_one", "slow_one", "plain_one", "conduct_reset"}


def test_one_file_and_ignore(repo: pytest.Pytester) -> None:
    assert _selected(repo, "scenarios/plain.toml") == {"plain_one"}
    assert _selected(repo, "scenarios", "--ignore", "scenarios/conduct") == {"herd_one", "slow_one", "plain_one"}
    assert _selected(repo, "scenarios", "--ignore-glob", "*/slow.toml") == {
        "herd_one",
        "plain_one",
        "conduct_reset",
    }


def test_the_ini_key_collects_always_or_never(repo: pytest.Pytester) -> None:
    repo.makefile(".ini", pytest=INNER_INI + "testpaths = tests scenarios/conduct\nharness_scenarios = always\n")
    assert _selected(repo) == {"test_app", "conduct_reset"}
    repo.makefile(".ini", pytest=INNER_INI + "harness_scenarios = never\n")
    assert _selected(repo, "scenarios", "tests") == {"test_app"}
    repo.makefile(".ini", pytest=INNER_INI + "harness_scenarios = sometimes\n")
    result = repo.runpytest("scenarios")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*harness_scenarios: expected one of explicit, always, never, got 'sometimes'*"])


def test_tags_are_markers_under_strict_markers(repo: pytest.Pytester) -> None:
    assert _selected(repo, "scenarios", "-m", "herd") == {"herd_one"}
    assert _selected(repo, "scenarios", "-m", "rate-limit or conduct") == {"slow_one", "conduct_reset"}
    assert _selected(repo, "scenarios", "-m", "not slow") == {"herd_one", "plain_one", "conduct_reset"}
    assert _selected(repo, "scenarios", "tests", "-m", "scenario and not outage") == {
        "slow_one",
        "plain_one",
        "conduct_reset",
    }
    assert _selected(repo, "scenarios", "tests", "-m", "not scenario") == {"test_app"}
    assert _selected(repo, "scenarios", "-k", "herd or reset") == {"herd_one", "conduct_reset"}


def test_registered_tags_are_listed_once(repo: pytest.Pytester) -> None:
    repo.makefile(".ini", pytest=INNER_INI + "markers =\n    slow: takes a while\n")
    assert _selected(repo, "scenarios", "-m", "slow") == {"slow_one"}
    markers = repo.runpytest("scenarios", "--markers").stdout.lines
    assert sum(line.startswith("@pytest.mark.slow:") for line in markers) == 1
    assert any(line.startswith("@pytest.mark.scenario:") for line in markers)


def test_tags_that_are_not_marker_names_are_normalised() -> None:
    from harness.testing.items import marker_name

    assert marker_name("rate-limit") == "rate-limit"
    assert marker_name("needs review") == "needs_review"
    assert marker_name("_private") == "private"
    assert marker_name("a:b(c)") == "a_b_c_"
