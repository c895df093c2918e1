"""Every shipped scenario passes for any seed a user picks: twenty seeds each, in virtual time.

A shipped scenario's gates must judge the client, not the luck of one draw; a scenario that holds only
for its own seed would have to say so in its header (none does); KNOWN_GAPS lists the open failures.
Seeds 1-20 include seed 2, which drew 231 Poisson arrivals in the rate-limit storm (more than its
quota can serve before the deadline) until the storm was capped at twice the quota. Only the client
the gates judge runs: a ``[[compare_with]]`` client is reported, never gated (harness.runner.run.comparison_storm).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.runner.run import RunOptions, comparison_storm, run_scenario
from harness.scenario.model import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "scenarios").glob("*.toml")) + sorted((ROOT / "scenarios").glob("conduct/*.toml"))
SEEDS = range(1, 21)
#: the seeds run in groups, one test each, so the long scenarios spread over the xdist workers instead of
#: leaving one worker running a whole scenario's twenty seeds at the end of the stage
SEED_GROUPS = [SEEDS[i : i + 5] for i in range(0, len(SEEDS), 5)]


#: open gaps: a scenario that fails some of the twenty seeds, with the failing gate, expected to fail here until
#: its gate or the client is fixed (not strict: which seeds fail moves with any change to the client's draws).
#: Empty since 2026-12-07: the four conduct scenarios listed here gated numbers that the fault's own draws decide
#: (their headers say how each gate now holds for any seed)
KNOWN_GAPS: dict[str, str] = {}


def _case(path: Path, seeds: range) -> object:
    name = path.relative_to(ROOT / "scenarios").with_suffix("").as_posix()
    marks = [pytest.mark.xfail(reason=f"open gap: {KNOWN_GAPS[name]}")] if name in KNOWN_GAPS else []
    return pytest.param(path, seeds, id=f"{name}-seeds{seeds[0]}-{seeds[-1]}", marks=marks)


# not marked slow: virtual time is CPU-bound and measures no timing, so these cases spread over the xdist
# workers of the first stage instead of lengthening the one-at-a-time slow stage
@pytest.mark.timeout(1200)
@pytest.mark.parametrize(("path", "seeds"), [_case(p, seeds) for p in SHIPPED for seeds in SEED_GROUPS])
def test_a_shipped_scenario_passes_for_twenty_seeds(path: Path, seeds: range) -> None:
    scenario = comparison_storm(load_scenario(path))
    scenario = scenario.with_client(scenario.client)
    failures = []
    for seed in seeds:
        result = run_scenario(scenario.with_seed(seed), RunOptions(mode="virtual"))
        failures += [f"seed {seed}: {gate.describe()}" for gate in result.gates if not gate.passed]
    assert failures == [], "\n".join(failures)


def test_the_catalogue_is_found() -> None:
    assert len(SHIPPED) >= 26


def test_the_seed_groups_cover_the_twenty_seeds_once() -> None:
    assert sorted(seed for group in SEED_GROUPS for seed in group) == list(SEEDS)
