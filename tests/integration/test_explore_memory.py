"""``harness explore`` remembers failures: the counterexample an earlier exploration left in ``--out``
is replayed before any new search (a still-failing one is the answer; a fixed one is set aside)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main

ROOT = Path(__file__).resolve().parents[2]
SPACE = ROOT / "scenarios" / "explore" / "herd_breaker.toml"
WORLD = (ROOT / "scenarios" / "conduct" / "500_once.toml").read_text(encoding="utf-8")


def _left_behind(out: Path, *, failing: bool, name: str = "explore_herd_breaker_counterexample") -> Path:
    """A counterexample as an earlier exploration would leave it (an ordinary scenario, renamed)."""
    text = WORLD.replace('name = "conduct-500-once"', f'name = "{name}"')
    if failing:  # a gate no run can pass: every request makes at least one attempt
        text += '\n[[gates]]\nmetric = "retry_amplification"\nop = "<="\nthreshold = 0.5\n'
    out.mkdir(parents=True)
    path = out / "counterexample.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_counterexample_that_still_fails_is_the_answer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "explore"
    left = _left_behind(out, failing=True)
    assert main(["explore", str(SPACE), "--examples", "2", "--quiet", "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "the previous counterexample still fails" in printed
    assert "retry_amplification" in printed
    assert left.is_file()
    assert not (out / "exploration.json").exists()  # no new search ran


def test_a_fixed_counterexample_is_set_aside_and_the_search_runs(tmp_path: Path) -> None:
    out = tmp_path / "explore"
    _left_behind(out, failing=False)
    code = main(["explore", str(SPACE), "--examples", "2", "--quiet", "--out", str(out)])
    assert (out / "counterexample.passed.toml").is_file()
    assert json.loads((out / "exploration.json").read_text())["worlds"] >= 1  # the search ran
    assert code in (0, 1)  # whatever two worlds of the space find


def test_fresh_skips_the_memory_and_another_scenarios_counterexample_is_not_replayed(tmp_path: Path) -> None:
    out = tmp_path / "explore"
    _left_behind(out, failing=True)
    main(["explore", str(SPACE), "--examples", "2", "--quiet", "--fresh", "--out", str(out)])
    assert (out / "exploration.json").is_file()  # searched despite the failing counterexample
    other = tmp_path / "other"
    _left_behind(other, failing=True, name="someone_else_counterexample")
    main(["explore", str(SPACE), "--examples", "2", "--quiet", "--out", str(other)])
    assert (other / "exploration.json").is_file()  # not this scenario's memory: searched
    assert not (other / "counterexample.passed.toml").exists()  # and not replayed (nor set aside)
