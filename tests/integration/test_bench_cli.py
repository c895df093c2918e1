"""``harness bench --quick --json``: the whole performance suite in one short run, every ratio printed.

Runs as CI runs it (a subprocess of the console script); the suite's own ``wall_s`` is in the JSON
for whoever wants to watch its budget (two minutes in CI), but no wall time is asserted here.
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

EXPECTED = {
    "provider_plain", "provider_stream", "client_reference", "client_reference_cpu", "policy_step_us",
    "policy_cycle_us", "vtime_outage_recovery",
    *(f"backoff_{s}_{m}" for s in ("none", "exponential", "full_jitter", "equal_jitter", "decorrelated_jitter")
      for m in ("calls", "time")),
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_quick_json_prints_every_ratio_with_the_machine_load(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "bench", "--quick", "--json"],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    expected = set(EXPECTED)
    if importlib.util.find_spec("openai") is not None:
        expected.add("client_openai_sdk")
    assert set(result["ratios"]) == expected
    for name, ratio in result["ratios"].items():
        assert math.isfinite(ratio["value"]), name
        assert ratio["value"] > 0, name
        assert ratio["contender"], name
        assert ratio["reading"], name
    # the backoff simulation agrees with AWS's within the noise of five runs
    for strategy in ("full_jitter", "equal_jitter", "decorrelated_jitter"):
        assert 0.8 < result["ratios"][f"backoff_{strategy}_calls"]["value"] < 1.2, strategy
    machine = result["machine"]
    for when in ("before", "after"):
        assert machine[when]["cpus"] >= 1
        assert machine[when]["load_1m"] >= 0
    assert result["quick"] is True
    assert set(result["sections"]) == {"provider", "client", "policies", "virtual time", "backoff"}
    assert all(section["skipped"] is None for section in result["sections"].values())
    assert result["wall_s"] > 0


def test_an_unknown_section_is_a_one_line_usage_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "bench", "--only", "nope"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2
    assert len(lines) == 1, done.stderr
    assert "--only" in lines[0]
    assert "invalid choice: 'nope'" in lines[0]


def test_the_bench_scripts_run_as_their_docstrings_say() -> None:
    # the package's name is not shadowed any more: each script imports and answers --help
    for script in sorted((ROOT / "bench").glob("*.py")):
        done = subprocess.run(
            [sys.executable, str(script), "--help"], capture_output=True, text=True, cwd=ROOT, timeout=120
        )
        assert done.returncode == 0, f"{script.name}: {done.stderr[-1000:]}"
        assert "usage:" in done.stdout, script.name
