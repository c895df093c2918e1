"""pytest plugin (the ``pytest11`` entry point ``harness``): scenarios as test items, and fixtures.

* ``pytest scenarios/`` (or ``pytest scenarios/smoke.toml``) runs each scenario file as one test item
  (:mod:`harness.testing.items`); options ``--harness-real-time``, ``--harness-seed N``,
  ``--harness-reports DIR`` and the ini key ``harness_scenarios`` (:mod:`harness.testing.options`);
* fixtures ``fake_provider``, ``fake_provider_session``, ``fake_provider_config`` and
  ``run_scenario`` (:mod:`harness.testing.fixtures`);
* the ``real_provider`` fixture and marker: a test against the real API when its key is set, skipped
  with the variable's name when not (:mod:`harness.testing.real`).

Kept cheap to import: pytest loads it in every session; the scenario model, the runner and the fake
provider are imported only when a scenario is collected or a fixture is used. ``docs/pytest.md``
describes it; ``-p no:harness`` turns it off.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.testing.fixtures import fake_provider, fake_provider_config, fake_provider_session, run_scenario
from harness.testing.items import SCENARIO_MARKER, ScenarioFile, is_scenario_file
from harness.testing.options import add_options, configure, should_collect
from harness.testing.real import MARKER as REAL_PROVIDER_MARKER
from harness.testing.real import real_provider

__all__ = [
    "fake_provider",
    "fake_provider_config",
    "fake_provider_session",
    "pytest_addoption",
    "pytest_collect_file",
    "pytest_configure",
    "real_provider",
    "run_scenario",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    configure(config)
    config.addinivalue_line("markers", f"{SCENARIO_MARKER}: a scenario file run as a test item (harness plugin)")
    config.addinivalue_line(
        "markers",
        f"{REAL_PROVIDER_MARKER}(provider): the real_provider fixture's provider (openai, anthropic, gemini); "
        "the test is skipped without its API key",
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> ScenarioFile | None:
    if file_path.suffix != ".toml" or not should_collect(parent.config) or not is_scenario_file(file_path):
        return None
    scenario_file: ScenarioFile = ScenarioFile.from_parent(parent, path=file_path)
    return scenario_file
