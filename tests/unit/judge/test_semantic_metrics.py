"""Semantic-cache metrics: hits, hit rate, wrong hits against the workload's ground truth, savings."""

from __future__ import annotations

from decimal import Decimal

from harness.judge.facts import CacheBaseline
from harness.judge.metrics import METRIC_NAMES, _money
from harness.judge.semantic import SEMANTIC_METRICS, semantic_metrics
from harness.records import OutcomeRecord, ProviderRecord


def outcome(rid: str, cost: str = "0", source: str = "provider", cached_from: str | None = None) -> OutcomeRecord:
    return OutcomeRecord(
        rid, True, "ok", 0.0, 1.0, "m", cost_usd=cost, source=source, cached_from=cached_from,
        similarity=None if cached_from is None else 0.97, embedding_cost_usd="0.001",
    )  # fmt: skip


def embedding(seq: int, cost: str = "0.001") -> ProviderRecord:
    return ProviderRecord(
        seq, 0.0, 0.0, "k", None, f"r{seq}", None, 0, "openai.embeddings", "e", False, 200, cost_usd=cost
    )


def chat(seq: int, cost: str) -> ProviderRecord:
    return ProviderRecord(
        seq, 0.0, 0.0, "k", None, f"c{seq}", f"id{seq}", 0, "openai.chat", "m", False, 200, cost_usd=cost
    )


def baseline(cost: str) -> CacheBaseline:
    return CacheBaseline("virtual", 3, 5, 7, 1.0, Decimal(cost), 0.4, 2.0)


def test_hits_wrong_hits_and_savings() -> None:
    outcomes = [
        outcome("a", "0.01"),
        outcome("b", source="semantic-cache", cached_from="a"),  # same question: right
        outcome("c", source="semantic-cache", cached_from="a"),  # another question: wrong
        outcome("d", "0.02"),
        outcome("e", source="semantic-cache", cached_from="d"),  # one-off questions: wrong (own question each)
    ]
    questions = {"a": "cancel-order", "b": "cancel-order", "c": "cancel-plan"}
    m = semantic_metrics([embedding(i) for i in range(5)], outcomes, questions, _money)
    assert m["semantic_cache_hits"] == 3
    assert m["semantic_cache_hit_rate"] == 0.6
    assert m["semantic_cache_wrong_hits"] == 2
    assert m["semantic_cache_savings_estimate_usd"] == "0.035"  # 0.01 + 0.01 + 0.02 reused − 5 × 0.001 embedded
    assert m["semantic_cache_savings_usd"] is None  # no run without the cache to measure against
    assert m["semantic_cache_baseline"] is None
    assert m["embedding_calls"] == 5
    assert m["embedding_cost_usd"] == "0.005"
    assert set(SEMANTIC_METRICS) <= set(METRIC_NAMES)


def test_without_a_ground_truth_or_a_cache_the_metrics_say_so() -> None:
    plain = [OutcomeRecord("a", True, "ok", 0.0, 1.0, "m", cost_usd="0.01")]
    m = semantic_metrics([], plain, {}, _money)
    assert m["semantic_cache_hits"] == 0
    assert m["semantic_cache_wrong_hits"] is None  # no paraphrase pool: nothing to judge wrong hits by
    assert m["semantic_cache_savings_usd"] is None
    assert m["semantic_cache_savings_estimate_usd"] is None
    assert m["embedding_cost_usd"] == "0"


def test_measured_savings_are_the_difference_of_the_two_bills_embeddings_included() -> None:
    outcomes = [outcome("a", "0.01"), outcome("b", source="semantic-cache", cached_from="a")]
    records = [chat(1, "0.01"), chat(2, "0.004"), embedding(3, "0.001"), embedding(4, "0.001")]  # bill 0.016
    m = semantic_metrics(records, outcomes, {}, _money, baseline("0.05"))
    assert m["semantic_cache_savings_usd"] == "0.034"  # 0.05 − (0.014 chat + 0.002 embeddings)
    assert m["semantic_cache_savings_share"] == 0.68
    assert m["semantic_cache_savings_estimate_usd"] == "0.008"  # 0.01 reused − 2 × 0.001: it misses the retry
    assert m["semantic_cache_baseline"] == {
        "mode": "virtual", "seed": 3, "requests_logical": 5, "attempts": 7, "success_rate": 1.0,
        "cost_provider_usd": "0.05", "latency_p50_s": 0.4, "latency_p99_s": 2.0,
    }  # fmt: skip
    worse = semantic_metrics(records, outcomes, {}, _money, baseline("0.01"))
    assert worse["semantic_cache_savings_usd"] == "-0.006"  # a cache that costs more than it saves says so
    assert worse["semantic_cache_savings_share"] == -0.6
