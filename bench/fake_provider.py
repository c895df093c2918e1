"""Benchmark: the fake provider's server CPU per 64-token stream, beside a bare aiohttp and a bare Node stream.

The code lives in :mod:`harness.bench.fake_provider`; this script keeps the command line of
``bench/RESULTS.md``: ``.venv/bin/python bench/fake_provider.py --help``.
"""

import sys
from pathlib import Path

# this script shares its name with the fake_provider package: its folder must not shadow the package
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from harness.bench.fake_provider import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
