"""A smoke run's outputs: the table on the terminal and the files in ``--out``.

::

    report.json        settings (never the key), every check, costs, shape differences
    report.md          the same as a Markdown summary (for a CI job summary)
    shapes.json        the shapes of the provider's answers (what --reference reads back)
    fake-shapes.json   with --compare-fake: the fake provider's

Everything written or printed goes through the run's :class:`~harness.smoke.redaction.Redactor`
first, so no key and no piece of one reaches a file or the terminal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harness.smoke.battery import BatteryResult, Check
from harness.smoke.compare import Difference
from harness.smoke.redaction import Redactor

__all__ = ["SmokeReport", "print_report", "write_report"]

_STYLE = {"pass": "green", "fail": "bold red", "skip": "yellow"}


@dataclass
class SmokeReport:
    """Everything a smoke run found, ready to print and write."""

    provider: str
    model: str
    target: str  # "the openai API", "http://127.0.0.1:8080" …
    max_cost_usd: Decimal
    worst_case_usd: Decimal
    live: BatteryResult | None = None  # the battery against the provider (None: --reference mode)
    fake: BatteryResult | None = None  # the battery against the fake provider (--compare-fake)
    reference: str | None = None  # where the reference shapes came from (--compare-fake)
    differences: list[Difference] = field(default_factory=list)
    stale_accepted: list[str] = field(default_factory=list)
    not_compared: list[str] = field(default_factory=list)  # kinds the fake answered and the reference has not
    shapes: dict[str, Any] | None = None
    fake_shapes: dict[str, Any] | None = None

    @property
    def unaccepted(self) -> list[Difference]:
        return [d for d in self.differences if not d.accepted]

    @property
    def passed(self) -> bool:
        runs = [r for r in (self.live, self.fake) if r is not None]
        return all(r.passed for r in runs) and not self.unaccepted

    def rows(self) -> list[tuple[str, Check]]:
        out: list[tuple[str, Check]] = []
        for side, result in (("provider", self.live), ("fake", self.fake)):
            if result is not None:
                out += [(side, c) for c in result.checks]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "model": self.model,
            "target": self.target,
            "passed": self.passed,
            "max_cost_usd": str(self.max_cost_usd),
            "worst_case_usd": format(self.worst_case_usd.normalize(), "f"),
            "spent_usd": None if self.live is None else format(self.live.spent_usd.normalize(), "f"),
            "checks": [
                {"run": side, "name": c.name, "status": c.status, "detail": c.detail} for side, c in self.rows()
            ],
            "compare": None
            if self.reference is None
            else {
                "reference": self.reference,
                "differences": [d.to_dict() for d in self.differences],
                "unaccepted": len(self.unaccepted),
                "stale_accepted": self.stale_accepted,
                "not_compared": self.not_compared,
            },
        }

    def markdown(self) -> str:
        verdict = "PASSED" if self.passed else "FAILED"
        lines = [
            f"# smoke: {self.provider} {self.model} — {verdict}",
            "",
            f"Target: {self.target}. Cap ${self.max_cost_usd}, "
            f"worst case ${format(self.worst_case_usd.normalize(), 'f')}.",
            "",
            "| run | check | result | detail |",
            "| --- | --- | --- | --- |",
        ]
        for side, c in self.rows():
            lines.append(f"| {side} | {c.name} | {c.status} | {c.detail.replace('|', '/')} |")
        if self.reference is not None:
            lines += ["", f"## Shape differences (reference: {self.reference})", ""]
            if not self.differences:
                lines.append("None." if not self.not_compared else "None among the answers compared.")
            if self.not_compared:
                lines.append(f"- not compared (the reference has no such answer): {', '.join(self.not_compared)}")
            for d in self.differences:
                lines.append(f"- {d}")
            for where in self.stale_accepted:
                lines.append(f"- stale acceptance (no longer differs): {where}")
        return "\n".join(lines) + "\n"


def print_report(report: SmokeReport, console: Console, redactor: Redactor) -> None:
    table = Table(title=escape(redactor.scrub(f"smoke: {report.provider} {report.model} ({report.target})")))
    for column in ("run", "check", "result", "detail"):
        table.add_column(column, overflow="fold")
    for side, c in report.rows():
        table.add_row(side, c.name, f"[{_STYLE.get(c.status, '')}]{c.status}[/]", escape(redactor.scrub(c.detail)))
    console.print(table)
    if report.reference is not None:
        diffs = Table(title=escape(redactor.scrub(f"shape differences from {report.reference}")))
        for column in ("where", "reference", "fake", "accepted"):
            diffs.add_column(column, overflow="fold")
        for d in report.differences:
            style = "" if d.accepted else "red"
            fake = escape(d.fake)
            diffs.add_row(
                escape(d.where), escape(d.reference), f"[red]{fake}[/]" if style else fake, escape(d.accepted or "")
            )
        if report.differences:
            console.print(diffs)
        else:
            console.print("shape differences: none" + (" among the answers compared" if report.not_compared else ""))
        if report.not_compared:
            kinds = ", ".join(report.not_compared)
            console.print(f"[yellow]not compared (the reference has no such answer): {escape(kinds)}[/]")
        for where in report.stale_accepted:
            console.print(f"[yellow]stale acceptance in the reference (no longer differs): {escape(where)}[/]")
    verdict = "[green]PASSED[/]" if report.passed else "[bold red]FAILED[/]"
    console.print(f"{verdict} smoke {report.provider} {escape(report.model)}")


def _write(path: Path, text: str, redactor: Redactor) -> Path:
    path.write_text(redactor.scrub(text), encoding="utf-8")
    return path


def write_report(report: SmokeReport, out: Path, redactor: Redactor) -> list[Path]:
    """Write the files (see the module docstring); returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = [
        _write(out / "report.json", json.dumps(report.to_dict(), indent=2) + "\n", redactor),
        _write(out / "report.md", report.markdown(), redactor),
    ]
    if report.shapes is not None:
        written.append(_write(out / "shapes.json", json.dumps(report.shapes, indent=2) + "\n", redactor))
    if report.fake_shapes is not None:
        written.append(_write(out / "fake-shapes.json", json.dumps(report.fake_shapes, indent=2) + "\n", redactor))
    return written
