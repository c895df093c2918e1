"""Subcommands of the ``harness`` CLI, one module each (``add_parser(subparsers)``, ``run(args) -> int``)."""
