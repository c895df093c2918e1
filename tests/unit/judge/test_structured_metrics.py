"""The structured-output metrics on synthetic logs whose right answers are known: valid rates before and
after re-asks, re-asks per request and their cost, tool-call validity; re-asks are neither lost nor issued."""

from __future__ import annotations

from decimal import Decimal

from harness.judge.gates import default_threshold
from harness.judge.metrics import METRIC_NAMES, compute_metrics
from harness.judge.structured import STRUCTURED_METRICS, reask_ids, structured_metrics, verdict_chains
from harness.records import ClientEvent
from tests.unit.judge.test_metrics import facts, outcome

EVENTS = (
    ClientEvent(1.0, "structured", "a", "valid"),
    ClientEvent(2.0, "structured", "b", "invalid_json,valid"),
    ClientEvent(3.0, "structured", "c", "schema_violation,invalid_json,schema_violation"),  # gave up
    ClientEvent(4.0, "structured", "d", "invalid_json,error"),  # the re-ask failed outright
    ClientEvent(5.0, "tool_calls", "e", "valid,invalid_json"),
    ClientEvent(6.0, "tool_calls", "f", "valid"),
    ClientEvent(7.0, "breaker", "gpt-4o-mini", "closed→open"),  # not a verdict
)
OUTCOMES = [
    outcome("a", cost_usd="0.001"),
    outcome("b", cost_usd="0.001"),
    outcome("b.reask1", cost_usd="0.002"),
    outcome("c", cost_usd="0.001"),
    outcome("c.reask1", cost_usd="0.002"),
    outcome("c.reask2", cost_usd="0.003"),
    outcome("d", cost_usd="0.001"),
    outcome("d.reask1", ok=False, cost_usd="0"),
    outcome("e", cost_usd="0.001"),
    outcome("f", cost_usd="0.001"),
    outcome("g", cost_usd="0.001"),  # a plain request
]


def test_chains_and_reask_ids() -> None:
    chains = verdict_chains(EVENTS)
    assert chains["c"] == ("schema_violation", "invalid_json", "schema_violation")
    assert set(chains) == {"a", "b", "c", "d"}
    assert reask_ids(chains) == {"b.reask1", "c.reask1", "c.reask2", "d.reask1"}


def test_rates_and_costs() -> None:
    m = structured_metrics(OUTCOMES, EVENTS)
    assert set(m) == set(STRUCTURED_METRICS)
    assert m["structured_requests"] == 4
    assert m["schema_valid_rate"] == 0.5  # a and b end valid; c gave up; d failed
    assert m["first_answer_valid_rate"] == 0.25
    assert m["reask_rate"] == 1.0  # 0 + 1 + 2 + 1 re-asks over 4 requests
    assert m["reask_cost_usd"] == Decimal("0.007")
    assert m["reask_cost_share"] == round(0.007 / 0.011, 6)
    assert m["tool_calls"] == 3
    assert m["tool_call_validity"] == round(2 / 3, 6)


def test_nothing_to_judge_is_none() -> None:
    m = structured_metrics([outcome("a")], [ClientEvent(1.0, "breaker", "m", "closed→open")])
    assert all(value is None for value in m.values())


def test_compute_metrics_counts_reasks_as_neither_lost_nor_issued() -> None:
    issued = ("a", "b", "c", "d", "e", "f", "g")
    m = compute_metrics(facts(issued_ids=issued), [], OUTCOMES, EVENTS)
    assert m["requests_logical"] == 7
    assert m["lost_requests"] == 0
    assert m["success_rate"] == round(5 / 7, 6)  # c (gave up) and d (failed) did not succeed
    assert m["reask_cost_usd"] == "0.007"
    assert set(STRUCTURED_METRICS) <= set(METRIC_NAMES)
    without_ids = compute_metrics(facts(), [], OUTCOMES, EVENTS)  # issued ids unknown: from the outcomes
    assert without_ids["requests_logical"] == 7
    assert without_ids["lost_requests"] == 0


def test_an_unknown_reask_is_still_lost() -> None:
    m = compute_metrics(facts(issued_ids=("a",)), [], [outcome("a"), outcome("a.reask1")], EVENTS[:1])
    assert m["lost_requests"] == 1  # "a" was valid at once: a re-ask of it is not the client's own


def test_schema_valid_rate_has_a_default_gate() -> None:
    assert default_threshold("schema_valid_rate", facts()) == (">=", 0.99)
