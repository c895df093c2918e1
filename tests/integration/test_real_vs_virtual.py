"""Real time agrees with virtual time: the same storm, over sockets and in virtual time.

Stated tolerance (rate_limit_storm.toml, one seed): success rate within 0.05 absolute, retry
amplification within 20 % relative, cost per answered request within 10 % relative. The modes
cannot agree exactly — over sockets, answers take real microseconds and twenty client instances
race for freed quota in a different order — but a client that behaves differently in the two modes
(a deadline on the wrong clock, a sleep that is not injected) misses these by far.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from harness.runner.run import RunOptions, run_scenario
from harness.scenario.model import load_scenario

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "rate_limit_storm.toml"


def cost_per_answer(metrics: dict[str, object]) -> Decimal:
    answered = float(metrics["success_rate"]) * int(metrics["requests_logical"])  # type: ignore[arg-type]
    return Decimal(str(metrics["cost_provider_usd"])) / Decimal(answered)


@pytest.mark.slow
def test_rate_limit_storm_agrees_between_real_and_virtual_time() -> None:
    scenario = load_scenario(SCENARIO)
    virtual = run_scenario(scenario).metrics
    real = run_scenario(scenario, RunOptions(mode="real-time")).metrics
    assert real["requests_logical"] == virtual["requests_logical"]  # same seeded arrivals in both modes
    assert abs(float(real["success_rate"]) - float(virtual["success_rate"])) <= 0.05  # type: ignore[arg-type]
    amp_real, amp_virtual = float(real["retry_amplification"]), float(virtual["retry_amplification"])  # type: ignore[arg-type]
    assert abs(amp_real - amp_virtual) <= 0.2 * amp_virtual
    ratio = cost_per_answer(real) / cost_per_answer(virtual)
    assert Decimal("0.9") <= ratio <= Decimal("1.1")
    for metrics in (real, virtual):
        assert metrics["retry_after_violations"] == 0
        assert metrics["lost_requests"] == 0
