"""Cost of the policies on the request path: one limiter acquire + one breaker check + one cost settle.

The code lives in :mod:`harness.bench.policies` (``harness bench`` runs it too); this script keeps the
command line of ``bench/RESULTS.md``: ``.venv/bin/python bench/policies.py --help``.
"""

from harness.bench.policies import main

if __name__ == "__main__":
    raise SystemExit(main())
