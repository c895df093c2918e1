"""The ``harness`` command line: a small argparse dispatcher over :mod:`harness.commands`.

Each subcommand is a module ``harness/commands/<name>.py`` with ``add_parser(subparsers)`` and
``run(args) -> int``; modules are discovered, so adding a subcommand never touches this file.
Exit codes: what ``run`` returns; 2 for usage errors (argparse names the option) and invalid
configuration (:class:`~harness.errors.ConfigError` names the field) — each one line on stderr,
never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from types import ModuleType
from typing import NoReturn

from harness import __version__, commands
from harness.errors import ConfigError

__all__ = ["build_parser", "main"]


def _command_modules() -> list[ModuleType]:
    found = []
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        if hasattr(module, "add_parser") and hasattr(module, "run"):
            found.append(module)
    return found


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the problem (and where to read more), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="harness", description="Resilience and load-testing harness for code that calls LLM APIs.")
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules():
        sub = module.add_parser(subparsers)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run = getattr(args, "_run", None)
    if run is None:
        print("harness: error: a COMMAND is required (see harness --help)", file=sys.stderr)
        return 2
    try:
        return int(run(args))
    except ConfigError as exc:
        message = " ".join(str(exc).splitlines())
        print(f"harness {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
