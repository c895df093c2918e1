"""Benchmark: how fast virtual time runs scenarios (``--scale``: the storm at 100 to 10,000 users).

The code lives in :mod:`harness.bench.virtual_time` (``harness bench`` runs it too); this script keeps the
command lines of ``bench/RESULTS.md``: ``.venv/bin/python bench/virtual_time.py --help``.
"""

from harness.bench.virtual_time import main

if __name__ == "__main__":
    raise SystemExit(main())
