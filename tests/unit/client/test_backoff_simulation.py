"""The AWS backoff simulation (harness/bench/backoff_simulation.py; bench/backoff_simulation.py runs it)
runs on our strategies in virtual time."""

from __future__ import annotations

import pytest

from harness.bench import backoff_simulation as sim


def test_small_simulation_is_near_the_aws_table() -> None:
    for name in ("none", "full_jitter", "decorrelated_jitter"):
        calls, seconds = sim.simulate(name, runs=8, seed=1)
        ref_calls, ref_s = sim.REFERENCE[name]
        assert calls == pytest.approx(ref_calls, rel=0.1), name
        assert seconds == pytest.approx(ref_s, rel=0.15), name
    assert sim.simulate("full_jitter", runs=3, seed=2) == sim.simulate("full_jitter", runs=3, seed=2)  # seeded
