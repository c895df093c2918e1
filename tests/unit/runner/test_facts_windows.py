"""Run facts the explorer relies on: overlapping outages are one outage; a limit above the quota was not told."""

from __future__ import annotations

import tomllib

from fake_provider.schedule import FaultSchedule
from harness.runner.driver import DriveStats
from harness.runner.facts import merge_windows, outage_windows, run_facts
from harness.scenario.model import parse_scenario


def test_overlapping_and_touching_windows_merge_into_one_recovery() -> None:
    assert merge_windows([(5.0, 9.0), (0.0, 6.0), (9.0, 12.0), (20.0, 21.0)]) == [(0.0, 12.0), (20.0, 21.0)]
    assert merge_windows([]) == []


def test_two_outages_over_each_other_recover_once_at_the_end_of_the_last() -> None:
    schedule = FaultSchedule.parse([
        {"kind": "outage", "start_s": 0, "duration_s": 10},
        {"kind": "outage", "start_s": 4, "duration_s": 2},
        {"kind": "flapping", "start_s": 8, "duration_s": 10, "down_s": 3, "up_s": 1},
    ])  # fmt: skip
    # outage 0-10, inside it 4-6; flapping down 8-11 and 12-15, 16-18: recoveries at 11, 15 and 18 only
    assert outage_windows(schedule.specs, 100.0, 60.0) == [(100.0, 111.0), (112.0, 115.0), (116.0, 118.0)]


def _limits(client_rpm: int, quota_rpm: int) -> bool:
    scenario = parse_scenario(
        tomllib.loads(f"""
version = 1
[provider.quotas]
rpm = {quota_rpm}
[load]
users = 1
[[client.models]]
name = "gpt-4o-mini"
provider = "openai"
[client.limits]
rpm = {client_rpm}
""")
    )
    facts = run_facts(scenario, DriveStats(t0=0.0), mode="virtual", wall_s=0.0, schedule_origin=0.0)
    (limit,) = facts.limits
    return limit.told_to_client


def test_a_client_is_told_a_limit_only_when_it_was_configured_at_or_under_it() -> None:
    assert _limits(client_rpm=100, quota_rpm=100)
    assert _limits(client_rpm=50, quota_rpm=100)
    assert not _limits(client_rpm=100, quota_rpm=30)  # the quota was squeezed under what the client knows
