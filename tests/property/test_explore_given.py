"""@given(world=...) tests of a client against the fake provider, as docs/explore.md shows (keep in sync).

The reference client in the quota-squeeze space, and the official openai SDK driven like an app: the
strategies and ``run_world`` work whatever client the scenario names.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings

from harness.explore import ExploreSpace, Range, run_world, worlds
from harness.scenario.model import load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[2]
BASE = load_scenario(ROOT / "scenarios" / "explore" / "quota_squeeze.toml")
SPACE = ExploreSpace(kinds=("rate_limit", "outage"), max_faults=2, rate=Range(1, 5), duration_s=Range(3, 10))


@pytest.mark.slow
@pytest.mark.timeout(900)
@settings(max_examples=20, deadline=None, database=None)
@given(world=worlds(SPACE, duration_s=10))
def test_the_client_keeps_every_property(world):  # type: ignore[no-untyped-def]  # as in the docs
    run = run_world(BASE, world)
    assert run.passed, run.describe()


SDK_BASE = parse_scenario(tomllib.loads("""
version = 1
name = "sdk_space"
duration_s = 5
drain_s = 30
[load]
mode = "open"
rate = 2.0
max_tokens = 16
[client]
kind = "openai-sdk"
max_retries = 2
[explore]
kinds = ["rate_limit", "outage"]
"""))


@pytest.mark.compat
@pytest.mark.slow
@pytest.mark.timeout(900)
@settings(max_examples=3, deadline=None, database=None)
@given(world=worlds(SDK_BASE.explore or SPACE, duration_s=5))
def test_the_openai_sdk_runs_in_worlds_of_a_space(world) -> None:  # type: ignore[no-untyped-def]
    run = run_world(SDK_BASE, world)
    assert run.metrics["requests_logical"] >= 1
    assert run.metrics["lost_requests"] == 0  # the adapter records one outcome per request, whatever happens
    # the SDK honours Retry-After (and retry-after-ms): a 429 storm with a hint never breaks that invariant
    assert run.metrics["retry_after_violations"] == 0, run.describe()
