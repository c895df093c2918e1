"""Report files: summary.json keys, JUnit one case per gate, Markdown verdict, raw logs round-trip."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from harness.judge.facts import RunFacts
from harness.judge.gates import GateResult
from harness.records import OutcomeRecord, ProviderRecord, load_jsonl
from harness.report import RunResult, write_report


def result(passed: bool = True) -> RunResult:
    facts = RunFacts("demo", 7, "virtual", 0.0, 30.0, 0.4, issued_ids=("a",))
    gates = [
        GateResult("lost_requests", "==", 0, 0, True),
        GateResult("herd_peak_100ms", "<=", 50 if not passed else 10, 48, passed),
    ]
    records = [ProviderRecord(1, 0.5, 1.7e9, "key:1", None, "r1", "a", 0, "openai.chat", "gpt-4o-mini", False, 200)]
    outcomes = [OutcomeRecord("a", True, "ok", 0.0, 1.0, "gpt-4o-mini")]
    return RunResult(facts, {"requests_logical": 1, "wall_s": 0.4}, gates, records, outcomes, description="d")


def test_report_folder_has_every_file_and_summary_keys(tmp_path: Path) -> None:
    files = write_report(result(), tmp_path / "demo")
    names = {p.name for p in files.values()}
    assert {"summary.json", "summary.md", "junit.xml", "provider_requests.jsonl", "outcomes.jsonl"} <= names
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert list(summary)[:6] == ["scenario", "passed", "seed", "mode", "gates", "metrics"]
    assert summary["gates"][1] == {"name": "herd_peak_100ms", "op": "<=", "value": 10, "threshold": 48, "passed": True}
    records = list(load_jsonl(ProviderRecord, (tmp_path / "demo" / "provider_requests.jsonl").read_text()))
    assert records == list(result().provider_records)


def test_junit_has_one_case_per_gate_and_failures_say_why(tmp_path: Path) -> None:
    write_report(result(passed=False), tmp_path)
    root = ET.parse(tmp_path / "junit.xml").getroot()
    cases = root.findall(".//testcase")
    assert [c.get("name") for c in cases] == ["lost_requests", "herd_peak_100ms"]
    failure = cases[1].find("failure")
    assert failure is not None
    assert "herd_peak_100ms = 50 (gate <= 48) FAILED" in (failure.get("message") or "")
    assert root.find("testsuite").get("failures") == "1"  # type: ignore[union-attr]


def test_markdown_shows_the_verdict_and_links(tmp_path: Path) -> None:
    write_report(result(passed=False), tmp_path)
    md = (tmp_path / "summary.md").read_text()
    assert md.startswith("## ❌ `demo` FAILED")
    assert "| ❌ herd_peak_100ms | 50 | <= 48 |" in md
    assert "[JUnit](junit.xml)" in md
