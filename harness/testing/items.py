"""Scenario files as pytest items: one item per scenario, failing with its failed gates.

``pytest scenarios/`` collects every ``*.toml`` that is a scenario (a ``[load]`` table or a
``version`` key; ``pyproject.toml`` and other TOML are left alone) as one item named after the
scenario. The item runs it (virtual time unless ``--harness-real-time``), writes the report to
``<reports>/<scenario-name>/`` and fails with the failing gates::

    scenario outage_recovery: 1 of 5 gates failed
      herd_peak_100ms = 1000 (gate <= 48) FAILED
      report: reports/outage_recovery/report.html

A scenario with an ``[explore]`` table is collected as an :class:`ExploreItem` instead: a property
test that searches the space (``--harness-examples N`` worlds, default the space's ``examples``) and
fails with the minimal counterexample, written with its report to ``<reports>/<name>-explore/``::

    exploration herd_breaker: a world failed after 41 worlds (12 shrink steps)
      minimal world: seed 0, 10 users; outage 0+1 s
      herd_peak_100ms = 10 (gate <= 6) FAILED
      counterexample: reports/herd_breaker-explore/counterexample.toml (harness run it to replay)

Each scenario tag becomes a marker on its item (registered on the fly, so ``--strict-markers``
accepts it), and every item carries the ``scenario`` marker: ``pytest scenarios/ -m herd``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.errors import ConfigError
from harness.testing.options import allow_large, run_settings
from harness.testing.runs import failure_message, run_and_report, shown_path

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr

    from harness.scenario.model import Scenario

__all__ = [
    "SCENARIO_MARKER",
    "ExploreItem",
    "ScenarioFailed",
    "ScenarioFile",
    "ScenarioItem",
    "is_scenario_file",
    "marker_name",
]

SCENARIO_MARKER = "scenario"
# a file TOML cannot read is still reported when it reads like a scenario, not silently skipped
_LOOKS_LIKE_SCENARIO = re.compile(r"^[ \t]*(\[load\]|version[ \t]*=)", re.MULTILINE)
_NOT_IN_MARKER = re.compile(r"[^\w.+-]")  # what a -m expression reads as one name: \w . + -
_NAMES = pytest.StashKey[dict[str, Path]]()  # scenario name → the file that claimed it


def is_scenario_file(path: Path) -> bool:
    """A TOML file with a ``[load]`` table or a ``version`` key (or unreadable TOML that looks like one)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return _LOOKS_LIKE_SCENARIO.search(text) is not None
    return isinstance(data.get("load"), dict) or "version" in data


def marker_name(tag: str) -> str:
    """The marker a tag becomes: characters a ``-m`` expression cannot hold become ``_``."""
    return _NOT_IN_MARKER.sub("_", tag).lstrip("_")


def _register_marker(config: pytest.Config, name: str, description: str) -> None:
    known = {line.split(":", 1)[0].split("(", 1)[0].strip() for line in config.getini("markers")}
    if name not in known:
        config.addinivalue_line("markers", f"{name}: {description}")


class ScenarioFailed(AssertionError):
    """A scenario ran and at least one of its gates failed; the message lists them."""


class ScenarioFile(pytest.File):
    """A scenario TOML file; collects one :class:`ScenarioItem`."""

    def collect(self) -> list[pytest.Item]:
        from harness.scenario.model import load_scenario

        try:
            scenario = load_scenario(self.path, allow_large=allow_large(self.config))
        except ConfigError as exc:
            raise self.CollectError(f"invalid scenario: {exc}") from None
        names = self.config.stash.setdefault(_NAMES, {})
        other = names.setdefault(scenario.name, self.path)
        if other != self.path:
            settings = run_settings(self.config)
            folder = shown_path(settings.reports / scenario.name, settings.base)
            raise self.CollectError(
                f"name: {scenario.name!r} is also the name of {shown_path(other, settings.base)}; their reports "
                f"would overwrite each other in {folder}/ — give one of them another name"
            )
        kind = ExploreItem if scenario.explore is not None else ScenarioItem
        item = kind.from_parent(self, name=scenario.name, scenario=scenario)
        item.add_marker(SCENARIO_MARKER)
        for tag in scenario.tags:
            marker = marker_name(tag)
            if marker:
                _register_marker(self.config, marker, f"scenario tag {tag!r} (harness plugin)")
                item.add_marker(marker)
        return [item]


class ScenarioItem(pytest.Item):
    """One scenario run and judged; fails with the failing gates, their values and thresholds."""

    def __init__(self, *, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario

    def runtest(self) -> None:
        run = run_and_report(self.scenario, run_settings(self.config))
        self.user_properties.append(("report", str(run.report)))
        self.user_properties.append(("seed", str(run.scenario.seed)))
        if not run.result.passed:
            raise ScenarioFailed(failure_message(run))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str | TerminalRepr:
        if isinstance(excinfo.value, ScenarioFailed):
            return str(excinfo.value)
        if isinstance(excinfo.value, ConfigError):  # a value only checked when the run starts
            return f"scenario {self.scenario.name}: invalid scenario: {excinfo.value}"
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"scenario {self.scenario.name}"


class ExploreItem(ScenarioItem):
    """An ``[explore]`` scenario as a property test: no world of its space may fail."""

    def runtest(self) -> None:
        from harness.explore.outcome import write_outcome
        from harness.explore.search import ExploreSettings, explore

        settings = run_settings(self.config)
        if settings.real_time:
            pytest.skip("exploration runs in virtual time only (--harness-real-time runs the scenario items)")
        exploration = explore(self.scenario, ExploreSettings(examples=settings.examples, seed=settings.seed))
        self.user_properties.append(("worlds", str(exploration.worlds)))
        self.user_properties.append(("seed", str(exploration.seed)))
        out = settings.reports / f"{self.scenario.name}-explore"
        path = self.scenario.path
        command = f"harness explore {shown_path(path, settings.base) if path else self.scenario.name}"
        outcome = write_outcome(exploration, out, command=f"{command} --seed {exploration.seed}")
        run = exploration.counterexample
        if run is None:
            return
        lines = [
            f"exploration {self.scenario.name}: a world failed after {exploration.worlds} worlds "
            f"({exploration.shrink_steps} shrink steps)",
            f"  minimal world: {run.world.describe()}",
            *(f"  {g.describe()}" for g in run.failures),
        ]
        if outcome.counterexample is not None:
            shown = shown_path(outcome.counterexample, settings.base)
            lines.append(f"  counterexample: {shown} (harness run it to replay)")
        if outcome.report is not None:
            lines.append(f"  report: {shown_path(outcome.report, settings.base)}")
        raise ScenarioFailed("\n".join(lines))
