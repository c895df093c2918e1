"""Virtual time is deterministic: one seed, one summary; another seed, another summary."""

from __future__ import annotations

import json
from pathlib import Path

from harness.report import summary_json, write_report
from harness.runner.run import run_scenario
from harness.scenario.model import load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def summary_without_wall_time(path: Path, seed: int | None = None) -> str:
    scenario = load_scenario(path)
    if seed is not None:
        scenario = scenario.with_seed(seed)
    result = run_scenario(scenario)
    summary = json.loads(summary_json(result))
    del summary["metrics"]["wall_s"]  # the one number that depends on the machine
    return json.dumps(summary, indent=2)


def test_same_seed_gives_byte_identical_metrics() -> None:
    path = SCENARIOS / "cost_accuracy.toml"  # three providers, faults, streams: plenty to diverge on
    first, second = summary_without_wall_time(path), summary_without_wall_time(path)
    assert first == second


def test_a_different_seed_gives_a_different_run() -> None:
    path = SCENARIOS / "rate_limit_storm.toml"
    assert summary_without_wall_time(path, 1) != summary_without_wall_time(path, 2)


def test_the_raw_logs_are_identical_too(tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIOS / "stream_faults.toml")
    write_report(run_scenario(scenario), tmp_path / "a")
    write_report(run_scenario(scenario), tmp_path / "b")
    for name in ("provider_requests.jsonl", "outcomes.jsonl", "ledger.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
