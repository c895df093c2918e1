"""Benchmark: the fake provider's server CPU per 64-token stream, beside a bare aiohttp and a bare Node stream.

The code lives in :mod:`harness.bench.fake_provider_streams`; this script keeps the command line of
``bench/RESULTS.md``: ``.venv/bin/python bench/fake_provider_streams.py --help``.
"""

from harness.bench.fake_provider_streams import main

if __name__ == "__main__":
    raise SystemExit(main())
