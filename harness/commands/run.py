"""``harness run``: run one scenario, write its report, gate on it.

    harness run SCENARIO.toml [--real-time] [--seed N] [--out DIR] [--provider-url URL] [--quiet] [--allow-large]

Virtual time by default (deterministic and fast); ``--real-time`` runs the same scenario over sockets
against a fake provider started in-process, or against ``--provider-url`` (a ``harness serve
--scenario SCENARIO.toml`` already running). The report goes to ``reports/<scenario-name>/`` unless
``--out`` says otherwise. Exit code: 0 when every gate passes, 1 when one fails, 2 for an invalid
scenario or usage (a scenario whose estimated work is above the ceilings is refused unless
``--allow-large``; docs/scenarios.md, "Bounds").
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from harness.commands._args import description, provider_url, seed
from harness.preflight import check_out_dir, check_provider

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "run",
        help="run a scenario and judge it (exit 0: gates pass, 1: a gate failed, 2: invalid scenario)",
        description=description(__doc__),
    )
    parser.add_argument("scenario", type=Path, metavar="SCENARIO.toml", help="the scenario file")
    parser.add_argument("--real-time", action="store_true", help="run over sockets in real time (default: virtual)")
    parser.add_argument("--seed", type=seed, metavar="N", help="override the scenario's seed (0 to 2**63-1)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="report folder (default: reports/<scenario-name>)")
    parser.add_argument(
        "--provider-url",
        type=provider_url,
        metavar="URL",
        help="with --real-time: use this running fake provider (started with harness serve --scenario …)",
    )
    parser.add_argument("--quiet", action="store_true", help="no live progress; just the verdict")
    parser.add_argument(
        "--allow-large",
        action="store_true",
        help="run a scenario whose estimated work (requests, users, faults, time) is above the ceilings",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    # heavy imports here, not at module import: the CLI imports every command to build its parser
    from rich.console import Console

    from harness.report import write_report
    from harness.report.comparison import comparison_markdown
    from harness.runner.progress import LiveProgress
    from harness.runner.run import RunOptions, run_comparison
    from harness.runner.verdict import print_comparison, print_verdict
    from harness.scenario.model import load_scenario

    started = time.perf_counter()
    console = Console(stderr=True)
    if args.provider_url and not args.real_time:
        console.print("harness run: error: --provider-url needs --real-time", highlight=False, soft_wrap=True)
        return 2
    scenario = load_scenario(args.scenario, allow_large=args.allow_large)  # ConfigError → exit 2 (harness.cli)
    if args.seed is not None:
        scenario = scenario.with_seed(args.seed)
    mode = "real-time" if args.real_time else "virtual"
    out = args.out if args.out is not None else Path("reports") / scenario.name
    check_out_dir(out)  # before the run, not after it
    if args.provider_url:
        for warning in check_provider(args.provider_url, scenario.provider):
            console.print(f"harness run: warning: {warning}", highlight=False, soft_wrap=True, markup=False)
    state: list[Any] = [lambda: "starting"]
    live = LiveProgress(scenario.name, scenario.duration_s, mode, lambda: state[0](), console=console)
    options = RunOptions(
        mode=mode,
        provider_url=args.provider_url,
        on_progress=None if args.quiet else live.update,
        state_probe=lambda getter: state.__setitem__(0, getter),
    )
    if args.quiet:
        results = run_comparison(scenario, options)
    else:
        with live:
            results = run_comparison(scenario, options)
    result = results[0]
    files = write_report(result, out)
    out_console = Console(file=sys.stdout)
    if len(results) > 1:
        links = ["report.html"]
        for other in results[1:]:
            write_report(other, out / other.client)
            links.append(f"{other.client}/report.html")
        (out / "comparison.md").write_text(comparison_markdown(results, links), encoding="utf-8")
        print_comparison(results, out_console)
    print_verdict(result, out_console, total_wall_s=time.perf_counter() - started, runs=len(results))
    report = files.get("report (HTML)") or next(iter(files.values()))
    where = f"report: {report.parent}/ ({report.name}, summary.json, summary.md, junit.xml)"
    out_console.print(where, soft_wrap=True, highlight=False)
    return 0 if result.passed else 1
