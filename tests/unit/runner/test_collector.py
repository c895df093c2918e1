"""The collector setting of virtual-time runs: restored afterwards, and no result depends on it."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest

from harness.report import summary_json
from harness.runner.run import SIMULATION_GC_THRESHOLD, collector_for_simulation, run_scenario
from harness.scenario.model import load_scenario

SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios"


def test_the_collector_is_restored_after_a_run() -> None:
    before = gc.get_threshold()
    with collector_for_simulation():
        assert gc.get_threshold()[0] == max(before[0], SIMULATION_GC_THRESHOLD)
        assert gc.get_freeze_count() > 0  # what existed before the run is not walked again
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_callers_own_freeze_is_left_alone() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with collector_for_simulation():
            pass
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


@pytest.mark.slow
def test_the_collector_setting_changes_no_result() -> None:
    scenario = load_scenario(SCENARIOS / "stream_faults.toml")

    def summary() -> dict[str, object]:
        data = json.loads(summary_json(run_scenario(scenario)))
        del data["metrics"]["wall_s"]
        return data

    tuned = summary()
    thresholds = gc.get_threshold()
    gc.set_threshold(10, 1, 1)  # a collection every few allocations: the other extreme
    try:
        import harness.runner.run as run_module

        original = run_module.SIMULATION_GC_THRESHOLD
        run_module.SIMULATION_GC_THRESHOLD = 10
        try:
            eager = summary()
        finally:
            run_module.SIMULATION_GC_THRESHOLD = original
    finally:
        gc.set_threshold(*thresholds)
    assert tuned == eager
