"""Reproduce the AWS "Exponential Backoff And Jitter" simulation with harness.client.backoff, in virtual time.

The code lives in :mod:`harness.bench.backoff_simulation` (``harness bench`` runs it too); this script keeps the
command line of ``bench/RESULTS.md``: ``.venv/bin/python bench/backoff_simulation.py --help``.
"""

from harness.bench.backoff_simulation import main

if __name__ == "__main__":
    raise SystemExit(main())
