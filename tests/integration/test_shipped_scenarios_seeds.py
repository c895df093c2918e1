"""Every shipped scenario passes for any seed a user picks: twenty seeds each, in virtual time.

A shipped scenario's gates must judge the client, not the luck of one draw; a scenario that holds only
for its own seed would have to say so in its header (none does). Seeds 1-20 include seed 2, which
drew 231 Poisson arrivals in the rate-limit storm (more than its quota can serve before the
deadline) until the storm was capped at twice the quota. Only the client the gates judge runs: a
``[[compare_with]]`` client is reported, never gated (harness.runner.run.comparison_storm).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.runner.run import RunOptions, comparison_storm, run_scenario
from harness.scenario.model import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "scenarios").glob("*.toml")) + sorted((ROOT / "scenarios").glob("conduct/*.toml"))
SEEDS = range(1, 21)


@pytest.mark.slow
@pytest.mark.parametrize("path", SHIPPED, ids=[p.relative_to(ROOT / "scenarios").as_posix() for p in SHIPPED])
def test_a_shipped_scenario_passes_for_twenty_seeds(path: Path) -> None:
    scenario = comparison_storm(load_scenario(path))
    scenario = scenario.with_client(scenario.client)
    failures = []
    for seed in SEEDS:
        result = run_scenario(scenario.with_seed(seed), RunOptions(mode="virtual"))
        failures += [f"seed {seed}: {gate.describe()}" for gate in result.gates if not gate.passed]
    assert failures == [], "\n".join(failures)


def test_the_catalogue_is_found() -> None:
    assert len(SHIPPED) >= 26
