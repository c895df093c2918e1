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


#: open gaps, measured on 2026-12-07 (seeds 1-20): these conduct scenarios' gates are tighter than what the
#: client does in some seeds. Either the gate or the client is wrong; until one is fixed they are expected
#: to fail here (not strict: which seeds fail moves with any change to the client's draws)
KNOWN_GAPS = {
    "conduct/429_with_retry_after": "success_rate 0.975 < 1 in seeds 4 and 13",
    "conduct/primary_recovery_probe": "failover_wait_max_s up to 0.98 > 0.05 in 11 seeds",
    "conduct/reset_before_headers": "retry_amplification 1.87 > 1.7 in seed 10",
    "conduct/stream_stall": "latency_p99_s 13.2-14.9 > 12 in seeds 10 and 19",
}


def _case(path: Path) -> object:
    name = path.relative_to(ROOT / "scenarios").with_suffix("").as_posix()
    marks = [pytest.mark.xfail(reason=f"open gap: {KNOWN_GAPS[name]}")] if name in KNOWN_GAPS else []
    return pytest.param(path, id=name, marks=marks)


# not marked slow: virtual time is CPU-bound and measures no timing, so these cases spread over the xdist
# workers of the first stage instead of lengthening the one-at-a-time slow stage
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("path", [_case(p) for p in SHIPPED])
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
