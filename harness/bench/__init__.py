"""The performance suite behind ``harness bench`` and the scripts in ``bench/``.

Each module measures one thing against its baseline in the same run (:mod:`harness.bench.suite`
strings them together); ``bench/RESULTS.md`` records runs and says how to read them.
"""
