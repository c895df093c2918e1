"""Worlds run as the file they would be written as; gates that do not apply are left out of a counterexample."""

from __future__ import annotations

import tomllib

from harness.explore import World, run_world
from harness.explore.world import counterexample_toml
from harness.scenario.model import parse_scenario

BASE = parse_scenario(
    tomllib.loads("""
version = 1
name = "tiny"
duration_s = 3
drain_s = 10
[load]
mode = "open"
rate = 4.0
max_tokens = 16
[[client.models]]
name = "gpt-4o-mini"
provider = "openai"
[[gates]]
metric = "herd_peak_100ms"
[explore]
kinds = ["outage", "brownout"]
""")
)


def test_a_world_without_an_outage_does_not_judge_the_herd_gate() -> None:
    run = run_world(BASE, World(seed=3))
    assert run.passed
    herd = next(g for g in run.gates if g.name == "herd_peak_100ms")
    assert not herd.passed
    assert herd not in run.applicable
    invariants = ["lost_requests", "cost_abs_error_usd", "truncated_answers", "overspend_usd", "limit_violations"]
    assert [g.name for g in run.applicable] == [*invariants, "retry_after_violations"]


def test_the_same_world_runs_identically_and_its_counterexample_drops_what_did_not_apply() -> None:
    world = World(seed=3, faults=({"kind": "brownout", "start_s": 0.0, "duration_s": 2.0, "p": 0.5},),
                  kinds=("brownout",))  # fmt: skip
    first, second = run_world(BASE, world), run_world(BASE, world)
    assert first.digest == second.digest
    assert first.metrics == second.metrics
    text = counterexample_toml(first, "header line", ["herd_peak_100ms"])
    doc = tomllib.loads(text)
    assert doc["name"] == "tiny_counterexample"
    assert "explore" not in doc
    assert "herd_peak_100ms" not in [g["metric"] for g in doc["gates"]]
    assert text.startswith("# header line\n# Gates left out")
    replay = run_world(parse_scenario(doc), World(seed=3))  # the file as a base: no world changes but the seed
    assert replay.digest == first.digest


def _quota_run(learn: bool) -> int:
    scenario = parse_scenario(
        tomllib.loads(f"""
version = 1
duration_s = 20
drain_s = 30
[provider.quotas]
rpm = 20
window_s = 10
[load]
mode = "open"
rate = 4.0
max_tokens = 16
[[client.models]]
name = "gpt-4o-mini"
provider = "openai"
[client.limits]
window_s = 10
learn = {"true" if learn else "false"}
[explore]
kinds = ["rate_limit"]
""")
    )
    run = run_world(scenario, World(seed=1))
    status = run.metrics["status_counts"]
    assert isinstance(status, dict)
    return int(status.get("429", 0))


def test_a_limiter_that_does_not_learn_from_headers_meets_more_429s() -> None:
    assert _quota_run(learn=False) > 2 * max(1, _quota_run(learn=True))
