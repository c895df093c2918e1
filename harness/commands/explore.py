"""``harness explore``: property-based search of a scenario's ``[explore]`` space, in virtual time.

    harness explore SCENARIO.toml [--examples N] [--max-time S] [--seed N] [--out DIR] [--fresh] [--quiet]

Runs worlds drawn from the space (faults, load, seeds) and judges each against the scenario's gates and
the invariants every world must keep. On a failure, Hypothesis shrinks the world to the smallest one that
still fails; it is written as ``counterexample.toml`` (an ordinary scenario: ``harness run`` replays it
bit for bit), replayed, and the replay's report is written beside it. Exit code: 0 when no world failed,
1 when one did, 2 for an invalid scenario or usage. Always bounded: ``--examples`` worlds and
``--max-time`` seconds at most.

Failures are remembered: a ``counterexample.toml`` that an earlier exploration of the same scenario
left in the output folder is replayed first. If it still fails, that is the answer (exit 1, no new
search); if it passes now, it is kept as ``counterexample.passed.toml`` and the search runs.
``--fresh`` skips the replay.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "explore",
        help="search a scenario's [explore] space for a failing world; shrink it to counterexample.toml",
        description=(__doc__ or "").split("\n\n")[0],
    )
    parser.add_argument("scenario", type=Path, metavar="SCENARIO.toml", help="a scenario with an [explore] table")
    parser.add_argument("--examples", type=int, metavar="N", help="worlds to try (default: explore.examples)")
    parser.add_argument(
        "--max-time", type=float, metavar="S", help="stop after S seconds (default: explore.max_time_s)"
    )
    parser.add_argument("--seed", type=int, metavar="N", help="the search's seed (default: the scenario's)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="output folder (default: reports/<name>-explore)")
    parser.add_argument(
        "--fresh", action="store_true", help="do not replay the counterexample an earlier exploration left in --out"
    )
    parser.add_argument("--quiet", action="store_true", help="no live progress")
    return parser


def _replay_previous(scenario: Any, out: Path, console: Any) -> int | None:
    """The failure memory: replay the counterexample an earlier exploration of this scenario left in
    ``out``. Returns 1 when it still fails (the answer, with no new search), else None (search)."""
    from rich.markup import escape

    from harness.errors import ConfigError
    from harness.runner.run import RunOptions, run_scenario
    from harness.scenario.model import load_scenario

    previous = out / "counterexample.toml"
    if not previous.is_file():
        return None
    try:
        counterexample = load_scenario(previous)
    except ConfigError as exc:
        console.print(f"not replayed: {escape(str(previous))} is not a valid scenario ({escape(str(exc))})",
                      soft_wrap=True, highlight=False)  # fmt: skip
        return None
    if counterexample.name != f"{scenario.name}_counterexample":
        return None  # another scenario's: not this search's memory
    failed = [g for g in run_scenario(counterexample, RunOptions(mode="virtual")).gates if not g.passed]
    if failed:
        console.print(f"[bold red]FAILED[/bold red] {scenario.name}: the previous counterexample still fails "
                      f"({escape(str(previous))}; fix it, or --fresh to search anew)", soft_wrap=True)  # fmt: skip
        for gate in failed:
            console.print(f"  {escape(gate.describe())}", soft_wrap=True, highlight=False)
        return 1
    kept = previous.with_name("counterexample.passed.toml")
    previous.replace(kept)
    console.print(f"the previous counterexample passes now (kept as {escape(str(kept))}); exploring",
                  soft_wrap=True, highlight=False)  # fmt: skip
    return None


def _coverage_table(exploration: Any) -> Any:
    from rich.table import Table

    cov = exploration.coverage
    table = Table(title="coverage of the space", title_justify="left")
    table.add_column("kind")
    table.add_column("worlds", justify="right")
    table.add_column("overlapped in time with (worlds)")
    for kind, n in sorted(cov.kinds.items()):
        with_ = [(b if a == kind else a, m) for (a, b), m in sorted(cov.overlaps.items()) if kind in (a, b)]
        table.add_row(kind, str(n), ", ".join(f"{other} {m}" for other, m in with_) or "-")
    return table


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape

    from harness.errors import ConfigError
    from harness.explore.outcome import write_outcome
    from harness.explore.progress import ExploreDisplay
    from harness.explore.search import ExploreSettings, explore
    from harness.scenario.model import load_scenario

    console = Console(stderr=True)
    out_console = Console(file=sys.stdout)
    if args.max_time is not None and not math.isfinite(args.max_time):
        raise ConfigError("--max-time", f"expected a finite number of seconds, got {args.max_time}")
    settings = ExploreSettings(
        examples=args.examples,
        max_time_s=args.max_time,
        seed=args.seed,
        database=None,
    )
    settings.check()  # ConfigError → exit 2 in harness.cli
    scenario = load_scenario(args.scenario)
    if scenario.explore is None:
        raise ConfigError(
            str(args.scenario), "no [explore] table; add one to declare the space to search (docs/explore.md)"
        )
    out = args.out if args.out is not None else Path("reports") / f"{scenario.name}-explore"
    if not args.fresh:
        remembered = _replay_previous(scenario, out, out_console)
        if remembered is not None:
            return remembered
    display = ExploreDisplay(f"exploring {scenario.name}", console)
    if args.quiet:
        exploration = explore(scenario, settings)
    else:
        with display:
            exploration = explore(scenario, settings, on_progress=display.update)
    seed_part = f" --seed {exploration.seed}"
    command = f"harness explore {args.scenario}{seed_part}"
    outcome = write_outcome(exploration, out, command=command)
    out_console.print(_coverage_table(exploration))
    bound = "; stopped by --max-time" if exploration.out_of_time else ""
    summary = (
        f"{exploration.worlds} worlds in {exploration.elapsed_s:,.1f} s (seed {exploration.seed}{bound}), "
        f"{exploration.failures} failing, {exploration.shrink_steps} shrink steps"
    )
    run_ = exploration.counterexample
    if run_ is None:
        out_console.print(f"[bold green]NO FAILURE[/bold green] {scenario.name}: {summary}", soft_wrap=True)
        out_console.print(f"exploration: {out}/exploration.md", soft_wrap=True, highlight=False)
        return 0
    out_console.print(f"[bold red]FAILED[/bold red] {scenario.name}: {summary}", soft_wrap=True)
    out_console.print(f"minimal world: {escape(run_.world.describe())}", soft_wrap=True, highlight=False)
    for gate in run_.failures:
        out_console.print(f"  {escape(gate.describe())}", soft_wrap=True, highlight=False)
    if outcome.replay_equal is False:
        out_console.print("[bold red]the replay of counterexample.toml differs from the explored world[/bold red]")
    out_console.print(f"counterexample: {outcome.counterexample}  (replay: harness run {outcome.counterexample})",
                      soft_wrap=True, highlight=False)  # fmt: skip
    if outcome.report is not None:
        out_console.print(f"report of the failing world: {outcome.report}", soft_wrap=True, highlight=False)
    return 1
