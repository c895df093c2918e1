"""The AWS backoff simulation (bench/backoff_simulation.py) runs on our strategies in virtual time."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[3] / "bench" / "backoff_simulation.py"


def _load():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("backoff_simulation", _PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_small_simulation_is_near_the_aws_table() -> None:
    sim = _load()
    for name in ("none", "full_jitter", "decorrelated_jitter"):
        calls, seconds = sim.simulate(name, runs=8, seed=1)
        ref_calls, ref_s = sim.REFERENCE[name]
        assert calls == pytest.approx(ref_calls, rel=0.1), name
        assert seconds == pytest.approx(ref_s, rel=0.15), name
    assert sim.simulate("full_jitter", runs=3, seed=2) == sim.simulate("full_jitter", runs=3, seed=2)  # seeded
