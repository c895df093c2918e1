"""The shipped catalogue collects through the plugin: one item per file, unique names, tags as markers.

Whether each scenario passes is tests/integration/test_shipped_scenarios.py's job (and CI's
``pytest scenarios/``); collecting is cheap, so every file is checked here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.scenario.model import load_scenario

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "scenarios"
# this repository's own configuration; the one warning ignored is an artefact of pytest in pytest (conftest.py)
REPO_CONFIG = (
    "--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml"),
    "-W", "ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning",
)  # fmt: skip


def test_every_shipped_scenario_is_one_item(pytester: pytest.Pytester) -> None:
    files = sorted(CATALOGUE.rglob("*.toml"))
    assert files, "no scenarios shipped"
    result = pytester.runpytest(str(CATALOGUE), "--collect-only", "-q", *REPO_CONFIG)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    collected = sorted(line for line in result.stdout.lines if "::" in line)
    expected = sorted(f"{f.relative_to(ROOT)}::{load_scenario(f).name}" for f in files)
    assert collected == expected


def test_shipped_tags_select_items(pytester: pytest.Pytester) -> None:
    tagged = {load_scenario(f).name for f in CATALOGUE.rglob("*.toml") if "herd" in load_scenario(f).tags}
    assert tagged, "the catalogue has a herd scenario"
    result = pytester.runpytest(str(CATALOGUE), "--collect-only", "-q", "-m", "herd", *REPO_CONFIG)
    assert {line.rsplit("::", 1)[1] for line in result.stdout.lines if "::" in line} == tagged
