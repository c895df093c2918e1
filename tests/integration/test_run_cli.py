"""`harness run` end to end: exit codes 0 / 1 / 2, the report folder, failing gates named."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"


def harness(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def with_changes(source: Path, target: Path, *pairs: tuple[str, str]) -> Path:
    text = source.read_text(encoding="utf-8")
    for old, new in pairs:
        assert old in text, f"{old!r} not in {source.name}"
        text = text.replace(old, new)
    target.write_text(text, encoding="utf-8")
    return target


def test_a_passing_scenario_exits_0_and_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "smoke-report"
    done = harness("run", str(SCENARIOS / "smoke.toml"), "--out", str(out), "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASSED smoke" in done.stdout
    assert f"report: {out}/" in done.stdout
    for name in ("summary.json", "summary.md", "junit.xml", "report.html", "provider_requests.jsonl", "outcomes.jsonl"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "smoke"
    assert summary["passed"] is True
    assert summary["mode"] == "virtual"


def test_the_default_report_folder_is_reports_slash_name(tmp_path: Path) -> None:
    done = harness("run", str(SCENARIOS / "smoke.toml"), "--quiet", "--seed", "4", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "reports" / "smoke" / "summary.json").read_text())
    assert summary["seed"] == 4


def test_outage_recovery_without_jitter_fails_the_herd_gate(tmp_path: Path) -> None:
    scenario = with_changes(
        SCENARIOS / "outage_recovery.toml",
        tmp_path / "outage_recovery.toml",
        ('strategy = "full_jitter"', 'strategy = "exponential"'),
    )
    out = tmp_path / "report"
    done = harness("run", str(scenario), "--out", str(out), "--quiet", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    verdict = next(line for line in done.stdout.splitlines() if line.startswith("FAILED outage_recovery"))
    assert verdict.endswith(": herd_peak_100ms, jitter_cv")
    summary = json.loads((out / "summary.json").read_text())
    herd = next(g for g in summary["gates"] if g["name"] == "herd_peak_100ms")
    assert herd["passed"] is False
    assert herd["value"] > herd["threshold"]
    cases = ET.parse(out / "junit.xml").getroot().iter("testcase")
    failures = [c.get("name") for c in cases if c.find("failure") is not None]
    assert "herd_peak_100ms" in failures


def test_outage_recovery_with_full_jitter_passes(tmp_path: Path) -> None:
    out = str(tmp_path / "r")
    done = harness("run", str(SCENARIOS / "outage_recovery.toml"), "--out", out, "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_brownout_without_a_retry_budget_fails_the_amplification_gate(tmp_path: Path) -> None:
    scenario = with_changes(
        SCENARIOS / "brownout.toml",
        tmp_path / "brownout.toml",
        ("[client.retry_budget]\nratio = 0.1\nreserve = 10", "[client.retry_budget]\nenabled = false"),
    )
    done = harness("run", str(scenario), "--out", str(tmp_path / "r"), "--quiet", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    failed = [g["name"] for g in summary["gates"] if not g["passed"]]
    assert failed == ["retry_amplification"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('name = "x"\n[load]\nusers = "many"\n', 'load.users: expected an integer in [1, 1000000], got "many"'),
        ('name = "x"\nduration_s = 10\n[[faults]]\nkind = "outage"\nduration_s = -5\n', "faults[0].duration_s"),
        ("name = 'x'\nseed = \n", "not valid TOML"),
    ],
)
def test_an_invalid_scenario_exits_2_naming_the_field(tmp_path: Path, content: str, message: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(content, encoding="utf-8")
    done = harness("run", str(bad), cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "reports").exists()


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert harness("run", cwd=tmp_path).returncode == 2
    done = harness("run", str(SCENARIOS / "smoke.toml"), "--provider-url", "http://127.0.0.1:1", cwd=tmp_path)
    assert done.returncode == 2
    assert "--provider-url needs --real-time" in done.stderr


def test_compare_clients_runs_all_three_and_writes_a_comparison(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    done = harness("run", str(SCENARIOS / "compare_clients.toml"), "--out", str(out), "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr  # the gates judge the reference client
    assert "clients compared: compare_clients" in done.stdout
    table = (out / "comparison.md").read_text()
    assert "| metric | `reference` | `openai-sdk` | `litellm` |" in table
    ours = json.loads((out / "summary.json").read_text())
    assert ours["client"] == "reference"
    for kind in ("openai-sdk", "litellm"):
        theirs = json.loads((out / kind / "summary.json").read_text())
        assert theirs["client"] == kind
        # the same storm: the same logical requests, judged by the same gates, reconciled with the provider
        assert theirs["metrics"]["requests_logical"] == ours["metrics"]["requests_logical"]
        assert theirs["metrics"]["lost_requests"] == 0
        assert float(theirs["metrics"]["cost_abs_error_usd"]) == 0
        assert ours["metrics"]["success_rate"] > theirs["metrics"]["success_rate"]
