"""Fixtures for testing your own app: ``fake_provider``, ``fake_provider_session``, ``run_scenario``.

Example (a sync app, no pytest-asyncio needed)::

    def test_app_survives_a_429_storm(fake_provider):
        client = openai.OpenAI(base_url=fake_provider.openai_base_url, api_key=fake_provider.api_key)
        fake_provider.set_faults([{"kind": "http", "status": 429, "retry_after_s": 0.2, "always": True}])
        assert my_app(client) == "fallback"
        assert [r.status for r in fake_provider.requests()] == [429, 429, 429]

    def test_smoke_passes(run_scenario):
        result = run_scenario("scenarios/smoke.toml")
        assert result.passed
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.testing.options import run_settings
from harness.testing.runs import RunSettings, ScenarioRun, failure_message, run_and_report
from harness.testing.server import FakeProvider

if TYPE_CHECKING:
    from harness.report.result import RunResult
    from harness.scenario.model import Scenario

__all__ = ["ScenarioRunner", "fake_provider", "fake_provider_config", "fake_provider_session", "run_scenario"]

_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9_.-]")  # scenario names: letters, digits, '-', '_', '.'


@pytest.fixture
def fake_provider_config() -> Any:
    """What ``fake_provider`` serves: override this fixture to configure it.

    Return a :class:`fake_provider.ProviderConfig`, a scenario file path, or a parsed scenario
    (its ``[provider]`` table and ``[[faults]]``), or None for the defaults. Fault test headers are
    always allowed.
    """
    return None


@pytest.fixture
def fake_provider(fake_provider_config: Any) -> Iterator[FakeProvider]:
    """A fresh fake provider for this test, on a free loopback port, served from a background thread."""
    with FakeProvider.start(fake_provider_config) as server:
        yield server


@pytest.fixture(scope="session")
def fake_provider_session() -> Iterator[FakeProvider]:
    """One fake provider (defaults, fault headers allowed) for the whole session; call ``.reset()`` between uses."""
    with FakeProvider.start() as server:
        yield server


class ScenarioRunner:
    """The ``run_scenario`` fixture: run a scenario, write its report, return the :class:`RunResult`."""

    def __init__(self, settings: RunSettings, node: pytest.Item, default_name: str) -> None:
        self.settings = settings  # from --harness-real-time, --harness-seed, --harness-reports
        self.runs: list[ScenarioRun] = []  # every run of this test, with its report folder
        self._node = node
        self._default_name = default_name  # for a scenario given as a mapping without a name

    def __call__(
        self,
        scenario: str | Path | Mapping[str, Any] | Scenario,
        *,
        seed: int | None = None,
        real_time: bool | None = None,
        out: str | Path | None = None,
        check: bool = False,
    ) -> RunResult:
        """Run ``scenario`` (a path, a parsed TOML mapping, or a Scenario) and write its report.

        ``seed`` and ``real_time`` override the command line's ``--harness-seed`` and
        ``--harness-real-time``; the report goes to ``out``, else ``<reports>/<scenario-name>/``;
        ``check=True`` fails the test, with the failing gates, when a gate fails.
        """
        settings = self.settings
        if seed is not None:
            settings = replace(settings, seed=seed)
        if real_time is not None:
            settings = replace(settings, real_time=real_time)
        run = run_and_report(self._scenario(scenario), settings, None if out is None else Path(out))
        self.runs.append(run)
        self._node.user_properties.append(("report", str(run.report)))
        if check and not run.result.passed:
            pytest.fail(failure_message(run), pytrace=False)
        return run.result

    @property
    def last(self) -> ScenarioRun | None:
        """The latest run (its ``report_dir``, ``report`` and the scenario as run)."""
        return self.runs[-1] if self.runs else None

    def _scenario(self, scenario: str | Path | Mapping[str, Any] | Scenario) -> Scenario:
        from harness.scenario.model import Scenario, load_scenario, parse_scenario

        if isinstance(scenario, Scenario):
            return scenario
        if isinstance(scenario, str | Path):
            return load_scenario(scenario)
        if isinstance(scenario, Mapping):
            return parse_scenario(dict(scenario), name=self._default_name)
        raise TypeError(f"expected a scenario path, a mapping or a Scenario, got {type(scenario).__name__}")


@pytest.fixture
def run_scenario(request: pytest.FixtureRequest) -> ScenarioRunner:
    """``run_scenario(path_or_mapping, seed=, real_time=, out=, check=)`` → the judged ``RunResult``.

    A mapping without a ``name`` is named after the test, so parallel tests write distinct reports.
    """
    node = request.node
    assert isinstance(node, pytest.Item)
    name = _NOT_IN_NAME.sub("_", node.name).strip("_") or "scenario"
    return ScenarioRunner(run_settings(request.config), node, name)
