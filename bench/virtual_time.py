"""Benchmark: how fast virtual time runs scenarios (``--scale``: the storm at 100 to 10,000 users).

The code lives in :mod:`harness.bench.virtual_time` (``harness bench`` runs it too); this script keeps the
command lines of ``bench/RESULTS.md``: ``.venv/bin/python bench/virtual_time.py --help``.
"""

import sys
from pathlib import Path

# this folder holds bench/fake_provider.py, which would shadow the fake_provider package
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from harness.bench.virtual_time import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
