"""``python -m fake_provider``: the same as ``harness serve`` (same options)."""

from __future__ import annotations

import argparse
import sys

from harness.commands import serve
from harness.errors import ConfigError


def main(argv: list[str] | None = None) -> int:
    description = "Run the fake OpenAI / Anthropic / Gemini provider (the same as `harness serve`)."
    parser = serve.configure(argparse.ArgumentParser(prog="python -m fake_provider", description=description))
    args = parser.parse_args(argv)
    try:
        return serve.run(args)
    except ConfigError as exc:
        print(f"fake_provider: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
