"""Running a scenario for pytest: the run, its report folder, and the message a failed gate becomes.

Shared by the scenario items (``pytest scenarios/``) and the ``run_scenario`` fixture, so both run
and report exactly as ``harness run`` does. Example::

    settings = RunSettings(reports=Path("reports"))
    run = run_and_report(load_scenario("scenarios/smoke.toml"), settings)
    if not run.result.passed:
        print(failure_message(run))
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.report.result import RunResult
    from harness.scenario.model import Scenario

__all__ = ["RunSettings", "ScenarioRun", "failure_message", "run_and_report", "shown_path"]


@dataclass(frozen=True)
class RunSettings:
    """How pytest runs scenarios (``--harness-real-time``, ``--harness-seed``, ``--harness-reports``)."""

    real_time: bool = False  # over sockets in real time instead of virtual time
    seed: int | None = None  # overrides every scenario's seed
    reports: Path = Path("reports")  # each scenario's report goes to <reports>/<scenario-name>/
    base: Path | None = None  # paths in messages are shown relative to this (the invocation directory)
    examples: int | None = None  # [explore] items: worlds to try (default: the space's explore.examples)

    @property
    def mode(self) -> str:
        return "real-time" if self.real_time else "virtual"


@dataclass(frozen=True)
class ScenarioRun:
    """A judged run and where its report went."""

    scenario: Scenario  # as run (the seed override applied)
    result: RunResult
    report_dir: Path
    report: Path  # report.html (the page to open)
    settings: RunSettings


def _run_blocking(scenario: Scenario, mode: str) -> RunResult:
    from harness.runner.run import RunOptions, run_scenario

    return run_scenario(scenario, RunOptions(mode=mode))


def run_and_report(scenario: Scenario, settings: RunSettings, out: Path | None = None) -> ScenarioRun:
    """Run ``scenario`` as the settings say and write its report to ``out`` (default ``<reports>/<name>/``).

    Called from a running event loop (an async test), the run happens on a worker thread: a
    scenario brings its own loop (virtual or real time), and asyncio allows one loop per thread.
    """
    from harness.report import write_report

    if settings.seed is not None:
        scenario = scenario.with_seed(settings.seed)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        result = _run_blocking(scenario, settings.mode)
    else:
        with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="harness-scenario") as pool:
            result = pool.submit(_run_blocking, scenario, settings.mode).result()
    report_dir = out if out is not None else settings.reports / scenario.name
    files = write_report(result, report_dir)
    report = files.get("report (HTML)") or report_dir / "summary.json"
    return ScenarioRun(scenario, result, report_dir, report, settings)


def shown_path(path: Path, base: Path | None) -> str:
    """``path`` relative to ``base`` when it lies below it (``reports/x/report.html``), else as is."""
    if base is not None:
        try:
            return str(path.resolve().relative_to(base.resolve()))
        except ValueError:
            pass
    return str(path)


def _rerun_hint(run: ScenarioRun) -> str | None:
    """The ``harness run`` command that reproduces this run, when the scenario came from a file."""
    path = run.scenario.path
    if path is None:
        return None
    command = f"harness run {shown_path(path, run.settings.base)} --seed {run.scenario.seed}"
    return command + (" --real-time" if run.settings.real_time else "")


def failure_message(run: ScenarioRun) -> str:
    """What a failed scenario item says: the failing gates with value and threshold, and the report.

    ::

        scenario outage_recovery: 1 of 5 gates failed
          herd_peak_100ms = 1000 (gate <= 48) FAILED
          report: reports/outage_recovery/report.html
          rerun: harness run scenarios/outage_recovery.toml --seed 7
    """
    gates = run.result.gates
    failed = [g for g in gates if not g.passed]
    lines = [f"scenario {run.scenario.name}: {len(failed)} of {len(gates)} gates failed"]
    lines += [f"  {g.describe()}" for g in failed]
    lines.append(f"  report: {shown_path(run.report, run.settings.base)}")
    hint = _rerun_hint(run)
    if hint is not None:
        lines.append(f"  rerun: {hint}")
    return "\n".join(lines)
