"""``bench/fake_provider_streams.py`` runs end to end in quick mode and reports every server it names. Its
numbers are not asserted beyond being measured (timings are never test verdicts)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "fake_provider_streams.py"


@pytest.mark.slow
def test_quick_mode_measures_the_fake_provider_beside_the_bare_servers() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--json"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    servers = {"fake", "bare_aiohttp"} | ({"bare_node"} if shutil.which("node") else set())
    assert set(found["server_cpu_us_per_stream"]) == servers
    assert all(found["streams_per_s"][name] > 0 for name in servers)
    assert all(found["server_cpu_us_per_stream"][name] > 0 for name in servers)
    assert found["rate_vs_bare_aiohttp"] > 0
    assert found["events_per_stream"] == 67  # the role, 64 tokens, the finish and [DONE]
    assert (found["rounds"], found["seconds"]) == (1, 1.0)
    assert "load_avg_before" in found
    assert "load_avg_after" in found
    if "bare_node" not in servers:
        assert found["bare_node_skipped"] == "node is not on PATH"


@pytest.mark.slow
def test_the_text_report_and_a_skipped_node_server() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--seconds", "0.2", "--rounds", "1", "--no-node"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "bare Node: skipped (--no-node)" in result.stdout
    assert "load average" in result.stdout
    assert "µs server CPU per stream" in result.stdout


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--seconds", "0"], "--seconds"),
        (["--rounds", "0"], "--rounds"),
        (["--baseline", "/nonexistent"], "--baseline"),
    ],
)
def test_a_bad_option_is_one_line_and_exit_2(args: list[str], field: str) -> None:
    result = subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert field in result.stderr
    assert "Traceback" not in result.stderr
