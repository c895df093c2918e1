"""Judge metrics on synthetic logs whose right answers are known."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from harness.judge.facts import BudgetFact, LimitFact, RunFacts
from harness.judge.metrics import (
    METRIC_NAMES,
    compute_metrics,
    herd_gate,
    jitter_cv,
    limit_violations,
    retry_after_violations,
    sliding_max,
)
from harness.records import AttemptRecord, OutcomeRecord, ProviderRecord

_seq = iter(range(1, 10**9))


def rec(t: float, status: int = 200, *, lid: str | None = None, attempt: int = 0, **kw: object) -> ProviderRecord:
    fields: dict[str, object] = {
        "seq": next(_seq),
        "t": t,
        "wall": 1.7e9 + t,
        "client": "key:abc",
        "client_id": None,
        "request_id": f"r{t}",
        "logical_id": lid,
        "attempt": attempt,
        "api": "openai.chat",
        "model": "gpt-4o-mini",
        "stream": False,
        "status": status,
    }
    fields.update(kw)
    return ProviderRecord(**fields)  # type: ignore[arg-type]


def outcome(lid: str, ok: bool = True, t0: float = 0.0, t1: float = 1.0, **kw: object) -> OutcomeRecord:
    fields: dict[str, object] = {
        "id": lid,
        "ok": ok,
        "status": "ok" if ok else "ServerError",
        "t_start": t0,
        "t_end": t1,
        "model_requested": "gpt-4o-mini",
        "model": "gpt-4o-mini",
    }
    fields.update(kw)
    return OutcomeRecord(**fields)  # type: ignore[arg-type]


def facts(**kw: object) -> RunFacts:
    base: dict[str, object] = {"scenario": "t", "seed": 1, "mode": "virtual", "t0": 0.0, "t_end": 60.0, "wall_s": 0.1}
    base.update(kw)
    return RunFacts(**base)  # type: ignore[arg-type]


def test_sliding_max_counts_the_densest_window() -> None:
    times = [0.0, 0.05, 0.09, 0.1, 0.5, 0.51, 0.52, 0.53]
    assert sliding_max(times, 0.1) == 4  # 0.5 .. 0.53
    assert sliding_max(times, 0.1, start=0.0, end=0.2) == 3  # windows must start in [0, 0.2]
    assert sliding_max([], 0.1) == 0


def test_herd_gate_matches_metrics_md() -> None:
    # N = 1000 clients, W = 8 s: μ = 12.5, gate = ⌈25 + 4·5 + 3⌉ = 48
    assert herd_gate(1000, 8.0) == 48
    assert herd_gate(0, 8.0) == 3


@pytest.mark.parametrize(("jittered", "passes"), [(True, True), (False, False)])
def test_full_jitter_passes_the_herd_gate_and_no_jitter_fails(jittered: bool, passes: bool) -> None:
    rng = random.Random(42)
    records = []
    outcomes = []
    for i in range(1000):
        lid = f"q{i}"
        records.append(rec(5.0 + rng.random(), 503, lid=lid, duration_s=0.001))  # fails during the outage
        retry = 25.0 + (rng.uniform(0, 8.0) if jittered else 0.0)  # outage ends at 25 s
        records.append(rec(retry, 200, lid=lid, attempt=1, duration_s=0.2))
        outcomes.append(outcome(lid, t0=5.0, t1=retry + 0.2))
    m = compute_metrics(facts(outages=((5.0, 25.0),), backoff_cap_s=8.0), records, outcomes)
    assert m["herd_clients"] == 1000
    assert m["herd_gate_100ms"] == 48
    assert isinstance(m["herd_peak_100ms"], int)
    assert (m["herd_peak_100ms"] <= 48) is passes
    assert m["drain_time_s"] is not None


def test_retry_after_violations_respect_the_hint_and_tolerance() -> None:
    chain_ok = [rec(0.0, 429, lid="a", retry_after_s=1.0, duration_s=0.1), rec(1.095, 200, lid="a", attempt=1)]
    chain_bad = [rec(0.0, 429, lid="b", retry_after_s=1.0, duration_s=0.1), rec(0.5, 200, lid="b", attempt=1)]
    assert retry_after_violations([chain_ok]) == 0  # 5 ms early is within the 10 ms tolerance
    assert retry_after_violations([chain_bad]) == 1


def test_jitter_cv_of_full_jitter_is_near_one_over_root_three() -> None:
    rng = random.Random(3)
    assert jitter_cv([rng.uniform(0, 2) for _ in range(5000)]) == pytest.approx(0.577, abs=0.02)
    assert jitter_cv([1.0] * 100) == 0.0
    assert jitter_cv([1.0] * 3) is None  # too few samples to say


@pytest.mark.parametrize("lag", [0.0, 0.15, 3.0])
def test_jitter_cv_reads_the_clients_waits_not_the_harness_lag(lag: float) -> None:
    """Over sockets the provider sees wait + the answer's way back + the client loop's lag: with a
    0.25 s mean first-retry wait, 0.15 s of lag alone would pull σ/μ from 0.577 to about 0.36."""
    rng = random.Random(5)
    records, outcomes = [], []
    for i in range(400):
        wait = rng.uniform(0, 0.5)  # full jitter, base 0.5: the client's choice
        arrival = 1.0 + wait + lag * rng.uniform(0.9, 1.1)
        lid = f"l{i}"
        records += [rec(0.0, 503, lid=lid, duration_s=1.0), rec(arrival, 200, lid=lid, attempt=1, duration_s=0.1)]
        attempts = (
            AttemptRecord(0, 0.0, 1.0, "gpt-4o-mini", 503, "ServerError", None, None, wait, "0"),
            AttemptRecord(1, arrival, arrival + 0.1, "gpt-4o-mini", 200, None, None, None, None, "0"),
        )
        outcomes.append(outcome(lid, t1=arrival + 0.1, attempts=attempts))
    m = compute_metrics(facts(), records, outcomes)
    assert m["jitter_cv"] == pytest.approx(0.577, abs=0.04)
    provider_cv = m["jitter_cv_provider"]
    assert isinstance(provider_cv, float)
    if lag == 0.0:
        assert provider_cv == pytest.approx(m["jitter_cv"], abs=1e-6)
    elif lag == 0.15:
        assert provider_cv < 0.45  # what real time reported for outage_recovery on an idle machine
    # a client that logs no waits (a third-party SDK) is judged from the provider's log
    bare = [outcome(o.id, t1=o.t_end) for o in outcomes]
    assert compute_metrics(facts(), records, bare)["jitter_cv"] == provider_cv


def test_limit_violations_use_a_sliding_window() -> None:
    burst = [rec(float(i), 200) for i in range(11)]  # 11 requests in 11 s
    assert limit_violations(burst, LimitFact("rpm", 10)) == 1
    spread = [rec(7.0 * i, 200) for i in range(11)]  # one every 7 s: at most 9 in any 60 s
    assert limit_violations(spread, LimitFact("rpm", 10)) == 0
    tokens = [rec(float(i), 200, prompt_tokens=100, max_tokens=400) for i in range(3)]
    assert limit_violations(tokens, LimitFact("tpm", 1000)) == 1  # 1500 > 1000 on the third


def test_lost_requests_count_missing_and_duplicate_outcomes() -> None:
    outcomes = [outcome("a"), outcome("b"), outcome("b")]
    m = compute_metrics(facts(issued_ids=("a", "b", "c")), [], outcomes)
    assert m["lost_requests"] == 2  # b twice, c never
    assert m["requests_logical"] == 3


def test_cost_reconciliation_and_overspend() -> None:
    records = [
        rec(0.0, 500, lid="a", cost_usd="0"),
        rec(1.0, 200, lid="a", attempt=1, cost_usd="0.0010"),
        rec(2.0, 200, lid="b", cost_usd="0.0020"),
    ]
    outcomes = [outcome("a", cost_usd="0.0010", user="u1"), outcome("b", cost_usd="0.0015", user="u2")]
    budgets = (BudgetFact("global", Decimal("0.0025")), BudgetFact("user", Decimal("0.0015"), "u2"))
    m = compute_metrics(facts(issued_ids=("a", "b"), budgets=budgets), records, outcomes)
    assert m["cost_provider_usd"] == "0.003"
    assert m["cost_client_usd"] == "0.0025"
    assert m["cost_abs_error_usd"] == "0.0005"
    assert Decimal(str(m["overspend_usd"])) == Decimal("0.0010")  # 0.0005 globally + 0.0005 for u2
    assert m["retry_amplification"] == 1.5
    assert m["success_rate"] == 1.0


def test_latency_and_ttft_percentiles_use_successes() -> None:
    outcomes = [outcome(f"s{i}", t0=0.0, t1=float(i + 1), stream=True, ttft_s=0.1 * (i + 1)) for i in range(100)] + [
        outcome("bad", ok=False, t0=0.0, t1=1000.0)
    ]
    m = compute_metrics(facts(), [], outcomes)
    assert m["latency_p50_s"] == pytest.approx(50.5)
    assert m["latency_p90_s"] == pytest.approx(90.1)
    assert m["latency_p99_s"] == pytest.approx(99.01)
    assert m["ttft_p50_s"] == pytest.approx(5.05)


def test_summary_keys_promised_by_the_architecture_are_present() -> None:
    promised = [
        "requests_logical",
        "attempts",
        "success_rate",
        "lost_requests",
        "retry_amplification",
        "herd_peak_100ms",
        "herd_gate_100ms",
        "retry_after_violations",
        "provider_429s",
        "limit_violations",
        "goodput_tokens_per_min",
        "cost_client_usd",
        "cost_provider_usd",
        "cost_abs_error_usd",
        "overspend_usd",
        "latency_p50_s",
        "latency_p99_s",
        "ttft_p50_s",
        "wall_s",
        "simulated_s",
    ]
    attempts = (AttemptRecord(0, 0.0, 1.0, "gpt-4o-mini", 200),)
    m = compute_metrics(facts(), [rec(0.5, 200, lid="x")], [outcome("x", attempts=attempts)])
    assert set(promised) <= set(m)
    assert m["client_attempts"] == 1
    assert tuple(m) == METRIC_NAMES
