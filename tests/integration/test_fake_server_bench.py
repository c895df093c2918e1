"""The benchmark script runs end to end (briefly, with the built-in load generator) and prints the
keys the issue fixes. Its numbers are not asserted: timings are never test verdicts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "provider_throughput.py"


@pytest.mark.slow
def test_bench_prints_the_fixed_json_keys() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--json", "--seconds", "0.3", "--rounds", "1", "--no-wrk", "--faults"],
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    for key in ("fake_rps", "bare_rps", "ratio", "fake_chunks_per_s", "bare_chunks_per_s", "stream_ratio"):
        assert data[key] > 0, key
    assert data["load_generator"] == "aiohttp"
    assert data["events_per_stream"] > 1000  # every stream ran to max_tokens
    for key in ("faults_rps", "faults_ok_rps", "faults_ratio"):
        assert data[key] > 0, key
    assert 0.0 < data["faults_error_share"] < 0.5  # the brownout failed some answers, not most


def test_bench_rejects_a_bad_duration() -> None:
    result = subprocess.run([sys.executable, str(BENCH), "--seconds", "0"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "--seconds" in result.stderr
