"""The shipped catalogue: every promised scenario is there, and `pytest scenarios/` passes for all of it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
SHIPPED = sorted(SCENARIOS.rglob("*.toml"))


def test_the_catalogue_ships_the_promised_scenarios() -> None:
    names = {p.stem for p in SHIPPED}
    promised = {
        "smoke", "rate_limit_storm", "outage_recovery", "brownout", "tpm_saturation", "stream_faults",
        "fallback_flap", "budget_cap", "cost_accuracy", "compare_clients",
    }  # fmt: skip
    assert promised <= names
    conduct = {p.stem for p in (SCENARIOS / "conduct").glob("*.toml")}
    # one per conduct case of docs/metrics.md, and two on a chain of models
    assert len(conduct) == 18, sorted(conduct)
    assert {"silent_primary_failover", "primary_recovery_probe"} <= conduct


def _reports_and_examples(reports: Path) -> list[str]:
    return ["--harness-reports", str(reports), "--harness-examples", "5"]


@pytest.mark.slow
@pytest.mark.timeout(600)  # the subprocess's own limit: ~35 scenarios with reports, one process
def test_pytest_scenarios_passes_for_the_whole_catalogue(tmp_path: Path) -> None:
    """The user's way: ``pytest scenarios/`` runs every file as a test item, with the reference client."""
    done = subprocess.run(
        # [explore] spaces run as property items: a few worlds each here (docs/explore.md has 500 of each)
        [sys.executable, "-m", "pytest", "scenarios/", "-q", "-p", "no:randomly", *_reports_and_examples(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    passed = re.search(r"(\d+) passed", done.stdout)
    assert passed is not None, done.stdout[-2000:]
    assert int(passed.group(1)) == len(SHIPPED)
    assert "failed" not in done.stdout.splitlines()[-1]
    for path in SHIPPED:  # every item wrote its report
        name = re.search(r'^name = "([^"]+)"', path.read_text(encoding="utf-8"), re.M)
        assert name is not None
        folder = name.group(1) + ("-explore" if "[explore]" in path.read_text(encoding="utf-8") else "")
        assert (tmp_path / folder / ("exploration.json" if folder.endswith("-explore") else "summary.json")).is_file()
