"""The scale bench runs each round in a fresh process of the tree it measures (issue 19)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.bench import virtual_time


@pytest.mark.slow
def test_a_scale_round_runs_in_its_own_process() -> None:
    # the round's process starts as a module from the tree's root: a script started from harness/bench/
    # would find a module named like a package there before the fake_provider package
    result = virtual_time._scale_round(2, None)
    assert result["users"] == 2
    assert result["attempts"] > 0
    assert result["cpu_per_request_ms"] > 0


def test_the_bench_script_starts_beside_bench_fake_provider() -> None:
    # bench/ holds fake_provider.py too: started as a script, its folder must not shadow the package
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, str(root / "bench" / "virtual_time.py"), "--help"], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr[-500:]
    assert "--scale" in out.stdout
