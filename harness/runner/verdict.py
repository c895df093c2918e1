"""The end of a run in the terminal: a table of gates, the key numbers, and the verdict."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harness.report.comparison import comparison_rows
from harness.report.markdown import KEY_METRICS, format_value
from harness.report.result import RunResult

__all__ = ["print_comparison", "print_verdict"]


def print_verdict(result: RunResult, console: Console, *, total_wall_s: float | None = None, runs: int = 1) -> None:
    """Gates first (pass/fail, value, threshold), then the key metrics, then one verdict line.

    ``total_wall_s``: the whole command's wall time, shown beside this run's own when the command ran
    ``runs`` clients (a comparison) and so took longer than the run the verdict is about.
    """
    gates = Table(title=f"gates: {result.facts.scenario}", title_justify="left", show_lines=False)
    gates.add_column("gate")
    gates.add_column("value", justify="right")
    gates.add_column("threshold", justify="right")
    gates.add_column("", justify="left")
    for g in result.gates:
        mark = "[green]pass[/green]" if g.passed else "[bold red]FAIL[/bold red]"
        note = f" ({g.note})" if g.note else ""
        gates.add_row(g.name, format_value(g.value), f"{g.op} {format_value(g.threshold)}", mark + note)
    console.print(gates)
    for finding in result.findings:
        console.print(f"[bold yellow]finding:[/bold yellow] {escape(finding)}", soft_wrap=True)
    numbers = Table(show_header=False, box=None, padding=(0, 2))
    for key, label in KEY_METRICS:
        value = result.metrics.get(key)
        if value is not None:
            numbers.add_row(label, format_value(value))
    console.print(numbers)
    failed = [g.name for g in result.gates if not g.passed]
    f = result.facts
    where = f"{f.mode}, seed {f.seed}, {f.simulated_s:,.1f} s simulated in {f.wall_s:,.2f} s"
    if total_wall_s is not None and runs > 1:
        where += f"; all {runs} clients run, judged and reported in {total_wall_s:,.1f} s"
    if failed:
        console.print(f"[bold red]FAILED[/bold red] {f.scenario} ({where}): {', '.join(failed)}", soft_wrap=True)
    else:
        console.print(f"[bold green]PASSED[/bold green] {f.scenario} ({where})", soft_wrap=True)


def print_comparison(results: list[RunResult], console: Console) -> None:
    """Every client of ``[[compare_with]]`` side by side, through the same storm."""
    table = Table(title=f"clients compared: {results[0].facts.scenario}", title_justify="left")
    table.add_column("metric")
    for r in results:
        table.add_column(r.client, justify="right")
    for row in comparison_rows(results):
        table.add_row(*row)
    console.print(table)
