"""The strategies: every drawn world is a valid scenario, TOML round-trips exactly, and shrinking goes to the mild."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from fake_provider.schedule import FaultSchedule
from harness.explore import EXPLORE_KINDS, ExploreSpace, Range, World, fault_schedules, worlds
from harness.explore.toml_text import dumps
from harness.explore.world import world_document, world_scenario
from harness.scenario.model import load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[3]
EVERY_KIND = ExploreSpace(kinds=EXPLORE_KINDS, max_faults=4, users=Range(1, 50), duration_s=Range(1, 60),
                          stream_share=Range(0, 1))  # fmt: skip
BASE = parse_scenario(
    tomllib.loads("""
version = 1
name = "base"
duration_s = 30
[provider.quotas]
rpm = 100
tpm = 50000
[provider.quotas.models."gpt-4o-mini"]
rpm = 80
[load]
users = 5
think_s = 1.0
[[gates]]
metric = "success_rate"
op = ">="
threshold = 0.5
[explore]
kinds = ["outage"]
""")
)


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=worlds(EVERY_KIND, duration_s=30))
def test_every_drawn_world_is_a_valid_scenario_that_reads_back_exactly(world: World) -> None:
    text, scenario = world_scenario(BASE, world)
    assert tomllib.loads(text) == world_document(BASE, world)
    assert len(scenario.faults) == len(world.faults)
    assert world.fault_count <= EVERY_KIND.max_faults
    if world.squeeze is not None:
        quotas = scenario.provider.quotas
        assert quotas is not None
        assert quotas.limits_for("gpt-4o-mini").rpm == max(1, int(80 * world.squeeze))
    # the scenario's gates first, then one per invariant, each metric once
    metrics = [g.metric for g in scenario.gates]
    assert metrics[0] == "success_rate"
    assert len(metrics) == len(set(metrics)) == 7


@settings(max_examples=40, deadline=None, database=None)
@given(tables=fault_schedules(EVERY_KIND, horizon_s=20))
def test_fault_schedules_parse_as_the_fault_engine_reads_them(tables: list[dict[str, object]]) -> None:
    schedule = FaultSchedule.parse(tables)
    assert len(schedule) == len(tables) <= 4
    assert all(spec.start_s < 20 for spec in schedule.specs)


def test_the_simplest_world_is_the_mildest() -> None:
    plain = find(worlds(EVERY_KIND, duration_s=30), lambda w: True, settings=settings(database=None))
    assert plain == World(seed=0, users=1, duration_s=1.0, stream_share=0.0)


def test_a_world_with_an_outage_shrinks_to_one_short_outage_at_the_start() -> None:
    space = ExploreSpace(kinds=("brownout", "outage"), max_faults=3, fault_s=Range(2, 30))
    world = find(worlds(space, duration_s=30), lambda w: "outage" in w.kinds, settings=settings(database=None))
    assert world.faults == ({"kind": "outage", "start_s": 0.0, "duration_s": 2.0},)


def test_a_squeeze_shrinks_toward_the_mildest_share() -> None:
    space = ExploreSpace(kinds=("quota_squeeze",), squeeze=Range(0.2, 0.8))
    world = find(worlds(space, duration_s=30), lambda w: w.squeeze is not None, settings=settings(database=None))
    assert world.squeeze == 0.8


def test_overlaps_are_pairs_of_kinds_whose_windows_meet_in_the_run() -> None:
    world = World(seed=0, faults=({"kind": "outage", "start_s": 0.0, "duration_s": 5.0},
                                  {"kind": "brownout", "start_s": 4.0, "duration_s": 5.0, "p": 0.5},
                                  {"kind": "reset", "start_s": 20.0, "duration_s": 5.0}),
                  kinds=("outage", "brownout", "reset"), squeeze=0.5)  # fmt: skip
    assert world.overlaps(run_s=15.0) == {("brownout", "outage"), ("outage", "quota_squeeze"),
                                          ("brownout", "quota_squeeze")}  # fmt: skip
    assert world.fault_count == 4
    assert "quota squeeze to 0.5" in world.describe()


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").rglob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_scenario_survives_the_trip_to_toml_text(path: Path) -> None:
    raw = load_scenario(path).raw
    assert tomllib.loads(dumps(raw)) == raw


@given(st.floats(allow_nan=False) | st.integers() | st.text() | st.booleans())
@settings(max_examples=200, database=None)
def test_values_survive_the_trip_to_toml_text(value: object) -> None:
    doc = {"a": value, "t": {"k": [value], "in": {"x": value}}, "arr": [{"v": value, "d": {"n": value}}]}
    assert tomllib.loads(dumps(doc)) == doc
