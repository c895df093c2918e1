"""A finished run, as data: what every report format is built from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.judge.columns import LogColumns
from harness.judge.facts import RunFacts
from harness.judge.gates import GateResult
from harness.records import ClientEvent, OutcomeRecord, ProviderRecord

__all__ = ["ClientEvent", "RunResult"]


@dataclass(frozen=True)
class RunResult:
    """Everything a report needs about one run."""

    facts: RunFacts
    metrics: dict[str, Any]
    gates: list[GateResult]
    provider_records: Sequence[ProviderRecord]
    outcomes: Sequence[OutcomeRecord]
    events: Sequence[ClientEvent] = ()
    description: str = ""  # the scenario's description
    client: str = "reference"  # which client was under test
    ledger: dict[str, Any] = field(default_factory=dict)  # the provider's ledger totals
    fault_windows: Sequence[tuple[float, float, str]] = ()  # (start, end, label) on the logs' clock
    quota_tpm: float | None = None  # the token quota to draw against admitted tokens
    quota_rpm: float | None = None
    findings: Sequence[str] = ()  # what the runner found that no metric holds (e.g. a worker lost mid-run)
    extra_files: Sequence[tuple[str, str]] = ()  # (label, relative path) of other files in the folder to link
    #: the logs as columns, from the judge's single pass over them: what the charts draw (None: the report
    #: reads the logs once itself; columns of other logs than these two are not used)
    columns: LogColumns | None = field(default=None, repr=False, compare=False)

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)

    def summary(self) -> dict[str, Any]:
        """The ``summary.json`` document (keys promised in docs/architecture.md first)."""
        return {
            "scenario": self.facts.scenario,
            "passed": self.passed,
            "seed": self.facts.seed,
            "mode": self.facts.mode,
            "gates": [g.to_dict() for g in self.gates],
            "metrics": self.metrics,
            "client": self.client,
            "description": self.description,
            **({"findings": list(self.findings)} if self.findings else {}),
        }
