"""The `harness` command line (filled in by the issues that build each subcommand)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print("harness: no subcommands yet", file=sys.stderr)
    return 2
