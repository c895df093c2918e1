"""What an exploration leaves behind: ``counterexample.toml``, the replay's report, ``exploration.json``.

On a failure, the minimal world is written as an ordinary scenario (``counterexample.toml``), read back
like any file, run again in virtual time, and that replay's full report (HTML with its charts,
``summary.json`` …) goes to the same folder. The replay must equal the world that failed while
exploring — the same request log and outcome log, byte for byte — and :class:`ExploreOutcome` says
whether it did, so a counterexample that does not reproduce is never handed over silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.explore.search import Exploration
from harness.explore.world import WorldRun, counterexample_toml, judge_world

__all__ = ["ExploreOutcome", "write_outcome"]


@dataclass(frozen=True)
class ExploreOutcome:
    """The files written and the replay's verdict."""

    out: Path
    exploration: Exploration
    counterexample: Path | None = None
    report: Path | None = None  # the replay's report.html
    replay: WorldRun | None = None
    replay_equal: bool | None = None  # the replay's logs equal the explored world's, byte for byte

    @property
    def failed_gates(self) -> tuple[str, ...]:
        run = self.exploration.counterexample
        return () if run is None else run.failed_names()


def _header(exp: Exploration, run: WorldRun, command: str, file: Path) -> str:
    lines = [
        f"Counterexample found by `{command}`",
        f"after {exp.worlds} worlds ({exp.failures} failing, {exp.shrink_steps} shrink steps).",
        f"World: {run.world.describe()}",
        "Fails:",
        *(f"  {g.describe()}" for g in run.failures),
    ]
    if exp.first_failure is not None and exp.first_failure is not run:
        lines.append(f"First found as: {exp.first_failure.world.describe()}")
    lines.append(f"Replay: harness run {file}")
    return "\n".join(lines)


def _summary(outcome: ExploreOutcome) -> dict[str, Any]:
    exp = outcome.exploration
    doc: dict[str, Any] = {
        "scenario": exp.scenario,
        "passed": exp.passed,
        "seed": exp.seed,
        "examples": exp.examples,
        "max_time_s": exp.max_time_s,
        "worlds": exp.worlds,
        "failures": exp.failures,
        "shrink_steps": exp.shrink_steps,
        "elapsed_s": round(exp.elapsed_s, 3),
        "out_of_time": exp.out_of_time,
        "coverage": exp.coverage.to_dict(),
    }
    run = exp.counterexample
    if run is not None:
        doc["counterexample"] = {
            "file": outcome.counterexample.name if outcome.counterexample else None,
            "world": run.world.describe(),
            "faults": run.world.fault_count,
            "failed": [g.to_dict() for g in run.failures],
            "first_found": exp.first_failure.world.describe() if exp.first_failure else None,
            "replay_equal": outcome.replay_equal,
        }
    return doc


def _markdown(outcome: ExploreOutcome) -> str:
    exp = outcome.exploration
    cov = exp.coverage
    lines = [f"# Exploration of `{exp.scenario}`", ""]
    verdict = "no failure found" if exp.passed else "**a property failed**"
    lines.append(
        f"{verdict}: {exp.worlds} worlds in {exp.elapsed_s:,.1f} s (seed {exp.seed}, at most {exp.examples} "
        f"worlds and {exp.max_time_s:g} s{'; stopped by the time bound' if exp.out_of_time else ''})."
    )
    run = exp.counterexample
    if run is not None:
        lines += ["", "## Counterexample", "", f"World: {run.world.describe()}", ""]
        lines += [f"* {g.describe()}" for g in run.failures]
        lines += ["", f"Shrunk in {exp.shrink_steps} steps from: {exp.first_failure.world.describe()}"
                  if exp.first_failure else "", ""]  # fmt: skip
        lines.append("Replay: `harness run counterexample.toml` — the report of the failing world is "
                     "[report.html](report.html); its charts show the failure.")  # fmt: skip
        if outcome.replay_equal is not None:
            lines.append(
                f"Replay equal to the explored world, byte for byte: {'yes' if outcome.replay_equal else 'NO'}."
            )
    lines += ["", "## Coverage", "", "| kind | worlds |", "| --- | ---: |"]
    lines += [f"| {k} | {n} |" for k, n in sorted(cov.kinds.items())]
    lines += ["", "| overlapping in time | worlds |", "| --- | ---: |"]
    lines += [f"| {a} + {b} | {n} |" for (a, b), n in sorted(cov.overlaps.items())]
    lines += ["", "| faults in a world | worlds |", "| ---: | ---: |"]
    lines += [f"| {k} | {n} |" for k, n in sorted(cov.fault_counts.items())]
    return "\n".join(lines) + "\n"


def write_outcome(exploration: Exploration, out: Path, *, command: str) -> ExploreOutcome:
    """Write the exploration's files into ``out``; on a failure, the counterexample and its replay's report."""
    from harness.report import write_report
    from harness.runner.run import run_scenario
    from harness.scenario.model import load_scenario

    out.mkdir(parents=True, exist_ok=True)
    outcome = ExploreOutcome(out, exploration)
    run = exploration.counterexample
    if run is not None:
        file = out / "counterexample.toml"
        dropped = [g.name for g in run.gates if g not in run.applicable]
        file.write_text(counterexample_toml(run, _header(exploration, run, command, file), dropped), encoding="utf-8")
        scenario = load_scenario(file)
        result = run_scenario(scenario)
        replay = judge_world(run.world, run.toml, result)
        files = write_report(result, out)
        equal = replay.digest == run.digest and replay.failed_names() == run.failed_names()
        outcome = ExploreOutcome(out, exploration, file, files.get("report (HTML)"), replay, equal)
    (out / "exploration.json").write_text(json.dumps(_summary(outcome), indent=2) + "\n", encoding="utf-8")
    (out / "exploration.md").write_text(_markdown(outcome), encoding="utf-8")
    return outcome
