"""Gates: defaults from docs/metrics.md, metric-valued thresholds, parse errors, unavailable metrics fail."""

from __future__ import annotations

import pytest

from harness.errors import ConfigError
from harness.judge.facts import RetryBudgetFact, RunFacts
from harness.judge.gates import GateSpec, evaluate_gates, parse_gates
from harness.validate import Table

FACTS = RunFacts("s", 1, "virtual", 0.0, 10.0, 0.1, issued_ids=tuple(f"r{i}" for i in range(1000)))
METRICS = ["herd_peak_100ms", "herd_gate_100ms", "retry_amplification", "success_rate", "jitter_cv"]


def test_herd_gate_defaults_to_the_computed_gate() -> None:
    [result] = evaluate_gates([GateSpec("herd_peak_100ms")], {"herd_peak_100ms": 50, "herd_gate_100ms": 48}, FACTS)
    assert not result.passed
    assert (result.op, result.value, result.threshold) == ("<=", 50, 48)


def test_retry_amplification_default_follows_the_retry_budget() -> None:
    facts = RunFacts("s", 1, "virtual", 0.0, 10.0, 0.1, issued_ids=("a",) * 1000, retry_budget=RetryBudgetFact(0.1, 10))
    [result] = evaluate_gates([GateSpec("retry_amplification")], {"retry_amplification": 1.2}, facts)
    assert result.threshold == pytest.approx(1 + 0.1 + 10 / 1000 + 0.02)
    assert not result.passed


def test_explicit_threshold_and_unavailable_metric() -> None:
    results = evaluate_gates(
        [GateSpec("success_rate", ">=", 0.9), GateSpec("jitter_cv")], {"success_rate": 0.95, "jitter_cv": None}, FACTS
    )
    assert [r.passed for r in results] == [True, False]
    assert results[1].note == "jitter_cv not available"


def test_decimal_strings_compare_as_numbers() -> None:
    [r] = evaluate_gates([GateSpec("cost_abs_error_usd")], {"cost_abs_error_usd": "0.000"}, FACTS)
    assert r.passed


def test_parse_gates_validates_each_field() -> None:
    tables = Table({"gates": [{"metric": "success_rate", "op": ">=", "threshold": 0.99}]}).tables("gates")
    assert parse_gates(tables, METRICS) == (GateSpec("success_rate", ">=", 0.99),)
    bad = Table({"gates": [{"metric": "succes_rate"}]}).tables("gates")
    with pytest.raises(ConfigError, match=r"gates\[0\]\.metric: expected one of"):
        parse_gates(bad, METRICS)
    no_op = Table({"gates": [{"metric": "success_rate", "threshold": 0.5}]}).tables("gates")
    with pytest.raises(ConfigError, match=r"gates\[0\]\.op: required"):
        parse_gates(no_op, METRICS)
    bad_threshold = Table({"gates": [{"metric": "success_rate", "op": "<", "threshold": "lots"}]}).tables("gates")
    with pytest.raises(ConfigError, match=r"gates\[0\]\.threshold"):
        parse_gates(bad_threshold, METRICS)


def test_a_pause_bound_allows_the_measured_loop_lag_in_real_time_only() -> None:
    gate = GateSpec("failover_wait_max_s", "<=", 0.05)
    real = RunFacts("s", 1, "real-time", 0.0, 10.0, 10.0, loop_lag_max_s=0.02)
    (lenient,) = evaluate_gates([gate], {"failover_wait_max_s": 0.063}, real)
    assert lenient.passed
    assert lenient.threshold == 0.05
    assert "0.020 s of measured loop lag" in lenient.note
    (beyond,) = evaluate_gates([gate], {"failover_wait_max_s": 0.08}, real)  # more than the loop's lag: the client
    assert not beyond.passed
    (virtual,) = evaluate_gates([gate], {"failover_wait_max_s": 0.063}, FACTS)
    assert not virtual.passed
    assert virtual.note == ""
    # other metrics, and lower bounds, are judged as written
    (latency,) = evaluate_gates([GateSpec("latency_p99_s", "<=", 0.05)], {"latency_p99_s": 0.063}, real)
    assert not latency.passed
