"""The scenario's [load] as Locust runs it: users, spawn rate, shares and arrivals (harness.load.plan, .spec)."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest

from harness.client import ClientConfig
from harness.errors import ConfigError
from harness.load.plan import MAX_USERS, arrivals_for, check_run_time, plan_load, share_of
from harness.load.spec import RunSpec, scenario_for_load
from harness.scenario.load import open_loop_arrivals
from harness.scenario.model import Scenario, load_scenario, parse_scenario

SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios"


def _scenario(load: dict[str, object], client: dict[str, object] | None = None, **top: object) -> Scenario:
    if load.get("mode", "closed") == "closed":
        load = {"think_s": 1.0, **load}  # a closed loop without think time is bounded only by latency
    data: dict[str, object] = {"version": 1, "name": "t", "duration_s": 20, "load": load, **top}
    if client is not None:
        data["client"] = client
    return parse_scenario(data)


def test_closed_loop_users_and_spawn_rate_come_from_the_scenario_or_the_command_line() -> None:
    scenario = _scenario({"users": 12, "start_spread_s": 4})
    plan = plan_load(scenario)
    assert (plan.users, plan.spawn_rate, plan.run_time_s) == (12, 3.0, 20.0)
    assert plan.users_at(0) == plan.users_at(19.9) == 12
    plan = plan_load(scenario, users=30, spawn_rate=7.5)
    assert (plan.users, plan.spawn_rate) == (30, 7.5)
    assert plan_load(_scenario({"users": 5})).spawn_rate == 5.0  # no spread: all at once


def test_open_loop_users_follow_the_rate_times_the_latency_allowance() -> None:
    client = {"models": [{"name": "gpt-4o-mini", "provider": "openai"}], "timeouts": {"total_s": 10}}
    load = {"mode": "open", "arrivals": "step", "steps": [[0, 2.0], [10, 8.0]]}
    plan = plan_load(_scenario(load, client))
    assert plan.allowance_s == 10.0
    assert plan.users == 80  # the peak rate × the allowance
    assert plan.users_at(5) == 20
    assert plan.users_at(15) == 80
    assert plan_load(_scenario(load, client), users=30).users_at(15) == 30  # --users caps the senders
    ramp = plan_load(_scenario({"mode": "open", "arrivals": "ramp", "rate": 0.0, "rate_end": 1.0}, client))
    assert ramp.users_at(0) == 1  # never zero senders


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"users": 0}, "--users"), ({"users": MAX_USERS + 1}, "--users"), ({"spawn_rate": 0.0}, "--spawn-rate")],
)
def test_bad_overrides_name_the_option(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        plan_load(_scenario({"users": 3}), **kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_run_time_is_bounded() -> None:
    assert check_run_time(20) == 20
    for bad in (0.0, -1.0, float("nan"), float("inf"), 1e9):
        with pytest.raises(ConfigError) as caught:
            check_run_time(bad)
        assert caught.value.field == "--run-time"


@pytest.mark.parametrize(("total", "shares"), [(10, 3), (7, 7), (2, 5), (1000, 64)])
def test_shares_add_up_to_the_total(total: int, shares: int) -> None:
    parts = [share_of(total, k, shares) for k in range(shares)]
    assert sum(p or 0 for p in parts) == total
    assert max(p or 0 for p in parts) - min(p or 0 for p in parts) <= 1
    assert share_of(None, 0, 3) is None


@pytest.mark.parametrize("shares", [1, 2, 3])
def test_the_processes_together_send_exactly_the_asyncio_runners_arrivals(shares: int) -> None:
    scenario = load_scenario(SCENARIOS / "rate_limit_storm.toml")
    plan = plan_load(scenario)
    dealt = [a for k in range(shares) for a in arrivals_for(plan, scenario.seed, share=k, shares=shares)]
    expected = list(open_loop_arrivals(scenario.load, scenario.duration_s, random.Random(scenario.seed ^ 0xA11)))
    assert sorted(dealt) == list(enumerate(expected))
    assert all(
        i % shares == k for k in range(shares) for i, _ in arrivals_for(plan, scenario.seed, share=k, shares=shares)
    )


def test_max_requests_bounds_the_open_loop_schedule() -> None:
    scenario = _scenario({"mode": "open", "rate": 50.0, "max_requests": 17})
    plan = plan_load(scenario)
    assert len(arrivals_for(plan, 1, share=0, shares=1)) == 17
    assert arrivals_for(plan_load(_scenario({"users": 2})), 1, share=0, shares=1) == []  # closed loop: none


def test_the_spec_applies_seed_run_time_and_namespaces_redis_per_run() -> None:
    text = (SCENARIOS / "smoke.toml").read_text(encoding="utf-8")
    spec = RunSpec(text, "scenarios/smoke.toml", "abc123", "http://127.0.0.1:1", seed=9, run_time_s=5)
    assert RunSpec.from_json(spec.to_json()) == spec
    scenario = spec.scenario()
    assert (scenario.seed, scenario.provider.seed, scenario.duration_s, scenario.name) == (9, 9, 5, "smoke")
    assert isinstance(scenario.client, ClientConfig)
    assert scenario.client.redis is None  # no --redis, no [client.redis]: in memory
    shared = replace(spec, redis_url="redis://127.0.0.1:6379/4").scenario()
    assert isinstance(shared.client, ClientConfig)
    assert shared.client.redis is not None
    assert shared.client.redis.url == "redis://127.0.0.1:6379/4"
    assert shared.client.redis.name == "harness:abc123"  # two runs never share limiter windows
    assert spec.digest != RunSpec(text + "\n", "x", "y", "z").digest


def test_redis_for_an_sdk_client_or_a_bad_url_is_refused() -> None:
    reference = load_scenario(SCENARIOS / "smoke.toml")
    with pytest.raises(ConfigError) as caught:
        scenario_for_load(reference, "http://user:secret@host", "r")
    assert caught.value.field == "--redis"
    assert "secret" not in str(caught.value)  # a URL may carry a password: never echoed
    sdk = _scenario({"users": 1}, {"kind": "openai-sdk"})
    with pytest.raises(ConfigError) as caught:
        scenario_for_load(sdk, "redis://127.0.0.1:6379/4", "r")
    assert caught.value.field == "--redis"
    assert scenario_for_load(sdk, None, "r") is sdk
    with pytest.raises(ConfigError) as caught:
        RunSpec("", "x.toml", "r", "u", run_time_s=-3).scenario()
    assert caught.value.field == "--run-time"
