"""The judge reads each log once, into columns: its numbers are the record-level formulas' numbers.

Random logs with retries, fail-overs, outages, hints, several models and clients, scoped budgets and
quotas are judged by :func:`compute_metrics` and compared with the formulas of
:mod:`harness.judge.metrics` applied to the record lists (the definitions docs/metrics.md gives).
"""

from __future__ import annotations

import itertools
import random
from decimal import Decimal

import pytest

from harness.judge.facts import BudgetFact, LimitFact, RunFacts
from harness.judge.metrics import (
    _attempt_chains,
    _percentile,
    _round,
    answer_cost_error,
    auth_failures,
    client_retry_waits,
    compute_metrics,
    failover_wait,
    herd_size,
    jitter_cv,
    last_ok_deliveries,
    limit_violations,
    recovery_probe,
    retry_after_violations,
    retry_delays,
    truncated_answers,
)
from harness.records import AttemptRecord, ClientEvent, OutcomeRecord, PackedRecords, ProviderRecord

MODELS = ("gpt-4o-mini", "gpt-4o", None)
STATUSES = (200, 200, 200, 429, 500, 503, 401, 0)
FINISHES = ("stop", "length", "cut", "stalled", None)


def random_logs(seed: int) -> tuple[RunFacts, list[ProviderRecord], list[OutcomeRecord], list[ClientEvent]]:
    rng = random.Random(seed)
    records: list[ProviderRecord] = []
    outcomes: list[OutcomeRecord] = []
    ids = []
    for n in range(rng.randint(50, 400)):
        lid = f"req-{n}"
        ids.append(lid)
        t = rng.uniform(0, 100)
        attempts = []
        for k in range(rng.choice((1, 1, 2, 3, 4))):
            model = rng.choice(MODELS[:2])
            status = rng.choice(STATUSES)
            duration = rng.choice((0.0, rng.uniform(0, 3)))
            rid = f"r{n}.{k}"
            cost = rng.choice(("0", "0.0001", "0.00025", "0.013"))
            records.append(
                ProviderRecord(
                    seq=len(records) + 1, t=round(t, rng.choice((1, 3, 6))), wall=1.8e9 + t,
                    client=rng.choice(("key:a", "key:b")), client_id=rng.choice((None, "c1", "c2")),
                    request_id=rid, logical_id=rng.choice((lid, lid, lid, None)), attempt=k,
                    api=rng.choice(("openai.chat", "openai.chat", "openai.models")), model=model, stream=False,
                    status=status, prompt_tokens=rng.randint(0, 500), max_tokens=rng.choice((None, 64, 256)),
                    output_tokens=rng.randint(0, 200), duration_s=duration,
                    retry_after_s=rng.choice((None, None, 0.5, 2.0)), error_type=rng.choice((None, "API_KEY_INVALID")),
                    finish=rng.choice(FINISHES), cost_usd=cost,
                )
            )  # fmt: skip
            ok = 200 <= status < 300
            attempts.append(
                AttemptRecord(
                    k, t, t + duration, model, status, None if ok else "ServerError", rid,
                    rng.choice((None, 1.0)), rng.choice((None, rng.uniform(0, 2))), rng.choice((None, cost)),
                )
            )  # fmt: skip
            t += duration + rng.uniform(0, 2)
        if rng.random() < 0.97:  # some requests are lost, a few written twice
            ok = attempts[-1].error is None
            outcomes.append(
                OutcomeRecord(
                    lid, ok, "ok" if ok else "ServerError", attempts[0].t_start, t, "gpt-4o-mini",
                    model=attempts[-1].model, user=rng.choice(("u1", "u2")), feature=rng.choice(("f1", None)),
                    stream=rng.random() < 0.3, ttft_s=rng.choice((None, 0.2)), cost_usd=rng.choice(("0", "0.001")),
                    attempts=tuple(attempts),
                )
            )  # fmt: skip
            if rng.random() < 0.01:
                outcomes.append(outcomes[-1])
    records.sort(key=lambda r: r.t + r.duration_s)  # the log is in order of completion, not arrival
    events = [ClientEvent(rng.uniform(0, 100), "breaker", rng.choice(MODELS[:2]), "closed→open") for _ in range(5)]
    facts = RunFacts(
        "random", seed, "virtual", 0.0, 100.0, 1.0, tuple(ids),
        outages=((20.0, 30.0), (60.0, 61.0)) if seed % 2 else (), backoff_cap_s=rng.choice((None, 4.0)),
        limits=(LimitFact("rpm", 30), LimitFact("tpm", 9000, model="gpt-4o", client="key:a", window_s=10.0),
                LimitFact("otpm", 4000, told_to_client=False)),
        budgets=(BudgetFact("global", Decimal("0.1")), BudgetFact("user", Decimal("0.05"), "u1"),
                 BudgetFact("feature", Decimal("0.01"), "f1")),
    )  # fmt: skip
    return facts, records, outcomes, events


@pytest.mark.parametrize("seed", range(6))
def test_the_one_pass_judge_gives_the_formulas_numbers(seed: int) -> None:
    facts, records, outcomes, events = random_logs(seed)
    metrics = compute_metrics(facts, records, outcomes, events)
    api = sorted((r for r in records if r.api != "openai.models"), key=lambda r: r.t)
    chains = _attempt_chains(api)
    ok_outcomes = [o for o in outcomes if o.ok]
    last_ok = last_ok_deliveries(api)
    assert metrics["attempts"] == len(api)
    assert metrics["retry_after_violations"] == retry_after_violations(chains)
    assert metrics["auth_failures"] == auth_failures(api)
    assert metrics["limit_violations"] == sum(limit_violations(api, lim) for lim in facts.limits if lim.told_to_client)
    assert metrics["limit_violations_all"] == sum(limit_violations(api, lim) for lim in facts.limits)
    assert metrics["recovery_probe_s"] == _round(recovery_probe(api, facts.outages))
    assert metrics["failover_wait_max_s"] == _round(failover_wait(outcomes, events))
    assert metrics["truncated_answers"] == truncated_answers(last_ok, outcomes)
    assert Decimal(str(metrics["cost_abs_error_usd"])) == answer_cost_error(api, ok_outcomes, last_ok)
    assert Decimal(str(metrics["cost_provider_usd"])) == sum((Decimal(r.cost_usd) for r in records), Decimal(0))
    all_delays = [n.t - (p.t + p.duration_s) for c in chains for p, n in itertools.pairwise(c) if p.status // 100 != 2]
    assert metrics["retry_delay_p50_s"] == _round(_percentile(all_delays, 50))
    assert metrics["jitter_cv_provider"] == _round(jitter_cv(retry_delays(chains, 1, hinted=False)))
    waits = client_retry_waits(outcomes)
    assert metrics["jitter_cv"] == _round(jitter_cv(waits)) or len(waits) < 20
    if facts.outages:
        ends = {o.id: o.t_end for o in outcomes}
        assert metrics["herd_clients"] is not None
        sizes = [herd_size(api, ends, s, e) for s, e in facts.outages]
        assert metrics["herd_clients"] in sizes
    else:
        assert metrics["herd_clients"] is None


@pytest.mark.parametrize("seed", range(3))
def test_packed_logs_are_judged_like_lists(seed: int) -> None:
    facts, records, outcomes, events = random_logs(seed)
    packed = compute_metrics(
        facts, PackedRecords(ProviderRecord, records), PackedRecords(OutcomeRecord, outcomes), events
    )
    assert packed == compute_metrics(facts, records, outcomes, events)
