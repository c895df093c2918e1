"""Benchmark: the reference client's overhead, against raw aiohttp and the openai SDK, in one run.

The code lives in :mod:`harness.bench.client_overhead` (``harness bench`` runs it too); this script keeps the
command line of ``bench/RESULTS.md``: ``.venv/bin/python bench/client_overhead.py --help``.
"""

from harness.bench.client_overhead import main

if __name__ == "__main__":
    raise SystemExit(main())
