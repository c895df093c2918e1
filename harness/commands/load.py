"""``harness load``: run a scenario's load through Locust (real time; one process, or a master and workers).

    harness load SCENARIO.toml [--users N] [--spawn-rate R] [--run-time S] [--workers K] [--redis URL]
                 [--provider-url URL] [--web [--web-port P] [--web-linger S]] [--out DIR] [--seed N] [--quiet]
                 [--allow-large]
    harness load SCENARIO.toml --master [--expect-workers K] [--master-bind-host H] [--master-port P] …
    harness load SCENARIO.toml --worker --master-host H [--master-port P]

The fake provider runs in its own process (unless ``--provider-url``), Locust drives the scenario's
client, and the run is judged like ``harness run``: the report (summary.json, report.html, summary.md,
junit.xml, raw logs) goes to ``reports/<scenario-name>/`` with Locust's CSV stats and HTML report.
Headless unless ``--web`` (Locust's UI on 127.0.0.1). Exit code: 0 when every gate passes, 1 when one
fails, 2 for an invalid scenario or usage. See docs/load.md.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from harness.commands._args import description, provider_url, seed

__all__ = ["add_parser", "run"]

_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*$")


def _seconds(value: str) -> float:
    """``20``, ``20s``, ``1m30s``, ``2h``: seconds (Locust's --run-time spelling)."""
    match = _DURATION.match(value)
    if not value.strip() or match is None or not any(match.groups()):
        raise argparse.ArgumentTypeError(f"expected seconds (20, 20s, 1m30s, 1h), got {value!r}")
    h, m, s = (float(g) if g else 0.0 for g in match.groups())
    return h * 3600 + m * 60 + s


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, got {value!r}")
    return number


def _count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 0, got {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 0, got {value!r}")
    return number


def _rate(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected users per second > 0, got {value!r}") from None
    if not number > 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"expected users per second > 0, got {value!r}")
    return number


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number 1-65535, got {value!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 1-65535, got {value!r}")
    return port


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "load",
        help="run a scenario's load through Locust, judged like harness run (exit 0 / 1 / 2)",
        description=description(__doc__),
    )
    parser.add_argument("scenario", type=Path, metavar="SCENARIO.toml", help="the scenario file")
    parser.add_argument("--users", type=_positive_int, metavar="N", help="Locust users (default: the scenario's)")
    parser.add_argument("--spawn-rate", type=_rate, metavar="R", help="users started per second")
    parser.add_argument("--run-time", type=_seconds, metavar="S", help="seconds of load (default: duration_s)")
    parser.add_argument("--workers", type=_count, default=0, metavar="K", help="Locust worker processes here")
    parser.add_argument("--redis", metavar="URL", help="keep the client's limiter, breaker, budgets in this Redis")
    parser.add_argument(
        "--provider-url", type=provider_url, metavar="URL", help="a running fake provider (harness serve) to use"
    )
    parser.add_argument("--web", action="store_true", help="serve Locust's web UI on 127.0.0.1 while it runs")
    parser.add_argument("--web-port", type=_port, default=8089, metavar="P", help="the web UI's port (8089)")
    parser.add_argument("--web-linger", type=_seconds, default=30.0, metavar="S", help="UI stays up after (30 s)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="report folder (default: reports/<scenario-name>)")
    parser.add_argument("--seed", type=seed, metavar="N", help="override the scenario's seed (0 to 2**63-1)")
    parser.add_argument("--quiet", action="store_true", help="only Locust's summary and the verdict")
    parser.add_argument(
        "--allow-large", action="store_true", help="run a scenario whose estimated work is above the ceilings"
    )
    several = parser.add_argument_group("several machines")
    several.add_argument("--master", action="store_true", help="run the master; workers join from elsewhere")
    several.add_argument("--expect-workers", type=_positive_int, default=1, metavar="K", help="with --master (1)")
    several.add_argument("--master-bind-host", default="127.0.0.1", metavar="H", help="with --master (127.0.0.1)")
    several.add_argument("--worker", action="store_true", help="run one worker for a master elsewhere")
    several.add_argument("--master-host", metavar="H", help="with --worker: the master's host")
    several.add_argument("--master-port", type=_port, metavar="P", help="the master's port (5557)")
    return parser


def _usage_error(args: argparse.Namespace) -> str | None:
    if args.worker:
        if args.master_host is None:
            return "--worker needs --master-host (the machine running harness load --master)"
        master_only = [
            flag
            for flag, value in (
                ("--users", args.users), ("--spawn-rate", args.spawn_rate), ("--run-time", args.run_time),
                ("--redis", args.redis), ("--provider-url", args.provider_url), ("--out", args.out),
                ("--seed", args.seed), ("--master", args.master or None), ("--workers", args.workers or None),
                ("--web", args.web or None), ("--allow-large", args.allow_large or None),
            )
            if value is not None
        ]  # fmt: skip
        if master_only:
            return f"--worker takes only --master-host and --master-port; {', '.join(master_only)} belong to the master"
        return None
    if args.master_host is not None:
        return "--master-host goes with --worker"
    if args.master and args.workers:
        return "--master waits for workers from other machines; --workers starts them here: use one"
    from harness.load.plan import MAX_WORKERS

    if args.workers > MAX_WORKERS:
        return f"--workers: at most {MAX_WORKERS} on one machine, got {args.workers}"
    if args.master_port is not None and not (args.master or args.workers):
        return "--master-port goes with --master, --workers or --worker"
    if not args.master and (args.expect_workers != 1 or args.master_bind_host != "127.0.0.1"):
        return "--expect-workers and --master-bind-host go with --master"
    return None


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    console = Console(stderr=True)
    problem = _usage_error(args)
    if problem is not None:
        console.print(f"harness load: error: {problem}", highlight=False, soft_wrap=True)
        return 2
    from harness.load.orchestrate import LoadOptions, run_load, run_worker

    if args.worker:
        return run_worker(args.scenario, args.master_host, args.master_port or 5557, quiet=args.quiet)
    options = LoadOptions(
        users=args.users,
        spawn_rate=args.spawn_rate,
        run_time_s=args.run_time,
        workers=args.workers,
        redis_url=args.redis,
        provider_url=args.provider_url,
        web=args.web,
        web_port=args.web_port,
        web_linger_s=args.web_linger,
        out=args.out,
        seed=args.seed,
        quiet=args.quiet,
        master=args.master,
        expect_workers=args.expect_workers,
        master_bind_host=args.master_bind_host,
        master_port=args.master_port,
        allow_large=args.allow_large,
    )
    done = run_load(args.scenario, options)  # ConfigError → one line, exit 2 (harness.cli)
    from harness.report import write_report
    from harness.runner.verdict import print_verdict

    files = write_report(done.result, done.out)
    out = Console(file=sys.stdout)
    _print_processes(done, out)
    print_verdict(done.result, out)
    report = files.get("report (HTML)") or next(iter(files.values()))
    where = f"report: {report.parent}/ ({report.name}, summary.json, locust_stats.csv, locust_report.html)"
    out.print(where, soft_wrap=True, highlight=False)
    return 0 if done.result.passed else 1


def _print_processes(done: Any, console: Any) -> None:
    from rich.table import Table

    processes = done.merged.processes
    if len(processes) <= 1 and all(p.final for p in processes):
        return
    table = Table(title="Locust processes", title_justify="left")
    for column in ("process", "node", "state", "issued", "outcomes", "without outcome"):
        table.add_column(column, justify="right" if column in ("issued", "outcomes", "without outcome") else "left")
    for p in processes:
        mark = "" if p.final else "[bold red]"
        table.add_row(p.tag, p.node, f"{mark}{p.state}", str(p.issued), str(p.outcomes), f"{mark}{p.without_outcome}")
    console.print(table)
