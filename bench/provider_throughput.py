"""Benchmark: the fake provider against a bare aiohttp server, side by side in one run.

The code lives in :mod:`harness.bench.provider_throughput` (``harness bench`` runs it too); this script keeps the
command line of ``bench/RESULTS.md``: ``.venv/bin/python bench/provider_throughput.py --help``.
"""

from harness.bench.provider_throughput import main

if __name__ == "__main__":
    raise SystemExit(main())
