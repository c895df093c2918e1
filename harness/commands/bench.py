"""``harness bench``: the performance suite, ratios measured side by side in one run.

    harness bench [--quick] [--json] [--only SECTION ...] [--redis URL]

Runs the fake provider against a bare aiohttp handler, the reference client (and the openai SDK when
installed) against raw aiohttp, the policies' cost per request, virtual time's speed and the AWS
backoff simulation, and prints each result as a ratio to its baseline with the machine's load before
and after. ``--quick`` shortens every measurement to fit a CI job (noisier ratios, the same ones).
``--json`` prints one JSON document instead of the table. How to read it: bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from harness.commands._args import description

__all__ = ["add_parser", "run"]

_SECTIONS = ("provider", "client", "policies", "virtual-time", "backoff")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "bench",
        help="run the performance suite: ratios to baselines, measured side by side",
        description=description(__doc__),
    )
    parser.add_argument("--quick", action="store_true", help="one short round per measurement (CI)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    parser.add_argument(
        "--only", nargs="+", choices=_SECTIONS, metavar="SECTION", help=f"run only these: {', '.join(_SECTIONS)}"
    )
    parser.add_argument("--redis", metavar="URL", help="also time the Redis-backed policies against this Redis")
    return parser


def _load(machine: dict[str, Any]) -> str:
    return f"load {machine['load_1m']:g} on {machine['cpus']} CPUs ({machine['load_per_cpu']:g} per CPU)"


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from harness.bench.suite import BenchOptions, run_suite

    options = BenchOptions(quick=args.quick, redis_url=args.redis, sections=tuple(args.only or ()))
    err = Console(stderr=True)
    with err.status("harness bench: starting") as status:

        def on_section(name: str) -> None:
            status.update(f"harness bench: {name} …")
            if not err.is_terminal:
                err.print(f"harness bench: {name} …", highlight=False)

        result = run_suite(options, on_section)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return 0
    out = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 200)
    mode = (
        "quick: one round of 1 s each"
        if options.quick
        else f"medians of {options.rounds} rounds of {options.seconds:g} s"
    )
    table = Table(title=f"harness bench ({mode})", title_justify="left")
    for column in ("ratio", "value", "contender", "baseline", "how to read it"):
        table.add_column(column, justify="right" if column == "value" else "left", overflow="fold")
    for name, r in result["ratios"].items():
        value = f"{r['value']:.3g}x" if r["unit"] == "x" else f"{r['value']:.3g} {r['unit']}"
        table.add_row(name, value, r["contender"], r["baseline"], r["reading"])
    out.print(table)
    for name, section in result["sections"].items():
        if section["skipped"]:
            out.print(f"skipped {name}: {section['skipped']}", highlight=False)
    machine = result["machine"]
    out.print(
        f"machine: {_load(machine['before'])} before, {_load(machine['after'])} after; "
        f"suite took {result['wall_s']:,.1f} s. Ratios compare contenders measured back to back under the same "
        "load; absolute rates depend on it.",
        highlight=False,
        soft_wrap=True,
    )
    return 0
