"""CI's slow stage (``-n 2 --dist loadgroup``): the real-time catalogue has a worker, every other test shares one."""

from __future__ import annotations

import pytest

from tests.conftest import SLOW_GROUP, SlowStageScheduling, pytest_xdist_make_scheduler, slow_stage_scope

CATALOGUE = "tests/integration/test_real_time_catalogue.py::test_every_shipped_scenario_passes_in_real_time"


def test_the_catalogue_has_a_scope_of_its_own_and_every_other_test_shares_one() -> None:
    others = {
        "tests/integration/test_real_vs_virtual.py::test_rate_limit_storm_agrees_between_real_and_virtual_time",
        "tests/integration/locust/test_load_runs.py::test_an_sdk_client_on_two_workers_stops_at_max_requests",
        "tests/compat/test_node_clients.py::test_vercel_ai_sdk_tool_loop[openai]",
    }
    assert {slow_stage_scope(nodeid) for nodeid in others} == {SLOW_GROUP}
    assert slow_stage_scope(CATALOGUE) not in {SLOW_GROUP}
    assert slow_stage_scope("tests/unit/test_x.py::test_y@mine") == "mine"  # an xdist_group suffix, if xdist adds one


def test_only_loadgroup_gets_the_slow_stage_scheduler(
    pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pytestconfig.option, "dist", "worksteal", raising=False)
    assert pytest_xdist_make_scheduler(pytestconfig, None) is None  # the fast stage keeps worksteal
    scheduler = SlowStageScheduling.__new__(SlowStageScheduling)  # its constructor needs a live session
    assert scheduler._split_scope(CATALOGUE) == slow_stage_scope(CATALOGUE)
