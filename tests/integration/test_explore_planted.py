"""Planted bugs are found and shrunk: each within 200 worlds, to at most two faults, replayable.

Each space under ``examples/explore/`` holds a client with one well-known defect (the last one is a
user's own app, built on the openai SDK, under ``[client] kind = "app"``); ``harness explore``
must find a failing world, shrink it, and write ``counterexample.toml`` such that ``harness run``
fails the same gate — the whole loop a user relies on.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.scenario.model import load_scenario

PLANTED = Path(__file__).resolve().parents[2] / "examples" / "explore"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.mark.parametrize(
    ("space", "gate"),
    [
        ("no_jitter", "herd_peak_100ms"),  # a herd at recovery
        ("no_retry_budget", "retry_amplification"),  # amplification under brownouts
        ("ignores_hints", "retry_after_violations"),  # 429s retried before their Retry-After
        ("streaming_app", "truncated_answers"),  # the user's own app ([client] kind = "app") keeps cut streams
    ],
)
def test_a_planted_bug_is_found_shrunk_and_replayed(
    space: str, gate: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if space == "streaming_app":
        pytest.importorskip("openai")  # the example app is built on the openai SDK (the sdks extra)
    out = tmp_path / "explore"
    code = main(["explore", str(PLANTED / f"{space}.toml"), "--examples", "200", "--quiet",
                 "--out", str(out)])  # fmt: skip
    assert code == 1
    found = json.loads((out / "exploration.json").read_text())
    assert found["worlds"] <= 200
    cx = found["counterexample"]
    assert gate in [g["name"] for g in cx["failed"]]
    assert cx["faults"] <= 2
    assert cx["replay_equal"] is True
    # the counterexample is an ordinary scenario: no [explore] table, and harness run fails the same gate
    counterexample = load_scenario(out / "counterexample.toml")
    assert counterexample.explore is None
    monkeypatch.chdir(tmp_path)  # replayed from elsewhere: an app's module is found from the file alone
    assert main(["run", str(out / "counterexample.toml"), "--quiet", "--out", str(tmp_path / "replay")]) == 1
    replay = json.loads((tmp_path / "replay" / "summary.json").read_text())
    failed = sorted(g["name"] for g in replay["gates"] if not g["passed"])
    assert failed == sorted(g["name"] for g in cx["failed"])
    explored = json.loads((out / "summary.json").read_text())  # the report written beside the counterexample
    assert {k: v for k, v in replay["metrics"].items() if k != "wall_s"} == {
        k: v for k, v in explored["metrics"].items() if k != "wall_s"
    }
    assert (out / "report.html").is_file()
    assert (out / "chart-arrivals.png").is_file()


def test_the_same_seed_explores_the_same_worlds_and_finds_the_same_counterexample(tmp_path: Path) -> None:
    texts = []
    for i in range(2):
        out = tmp_path / f"run{i}"
        code = main(["explore", str(PLANTED / "ignores_hints.toml"), "--seed", "5", "--quiet",
                     "--out", str(out)])  # fmt: skip
        assert code == 1
        found = json.loads((out / "exploration.json").read_text())
        # the header comment names this run's own output folder; the world itself must be the same, byte for byte
        body = [line for line in (out / "counterexample.toml").read_text().splitlines() if not line.startswith("#")]
        texts.append((body, found["worlds"], found["shrink_steps"]))
    assert texts[0] == texts[1]
