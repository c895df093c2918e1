"""Metrics from the provider's request log and the client's outcome log (formulas and references: docs/metrics.md).

Every function here is pure: records in, numbers out. :func:`compute_metrics` returns the flat
``metrics`` mapping of ``summary.json`` (every key docs/architecture.md promises, plus a few more); a metric
that does not apply to a run (no outage → no herd gate) is ``None``.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal

import numpy as np

from harness.judge.columns import (
    GEMINI_BAD_KEY,
    LogColumns,
    OutcomeColumnsBuilder,
    ProviderColumns,
    provider_columns,
)
from harness.judge.degradation import DEGRADATION_METRICS, degradation_metrics
from harness.judge.facts import LimitFact, RunFacts
from harness.judge.prompts import prompt_cost_ratio, prompt_versions
from harness.judge.semantic import SEMANTIC_METRICS, SemanticTally
from harness.judge.structured import STRUCTURED_METRICS, StructuredTally
from harness.records import ClientEvent, OutcomeRecord, ProviderRecord

__all__ = [
    "HERD_BUCKET_S",
    "METRIC_NAMES",
    "RETRY_AFTER_TOLERANCE_S",
    "answer_cost_error",
    "client_retry_waits",
    "compute_metrics",
    "failover_wait",
    "herd_gate",
    "herd_peak",
    "jitter_cv",
    "judge_logs",
    "limit_violations",
    "recovery_probe",
    "retry_after_violations",
    "sliding_max",
    "truncated_answers",
]

HERD_BUCKET_S = 0.1  # b: the herd metric's window
_BROKEN_FINISHES = frozenset({"cut", "stalled", "client_gone", "error"})
RETRY_AFTER_TOLERANCE_S = 0.010  # an attempt this much early still counts as honouring the hint
DEFAULT_BACKOFF_CAP_S = 8.0  # the official SDKs' cap, used when the client's is unknown

#: every metric compute_metrics returns (gates may name any of these), in summary.json order
METRIC_NAMES: tuple[str, ...] = (
    "requests_logical", "attempts", "client_attempts", "success_rate", "lost_requests", "retry_amplification",
    "herd_peak_100ms", "herd_gate_100ms", "herd_clients", "drain_time_s", "jitter_cv", "jitter_cv_provider",
    "retry_delay_p50_s",
    "retry_after_violations", "auth_failures",
    "provider_429s", "provider_4xx", "provider_5xx", "limit_violations", "limit_violations_all",
    "goodput_tokens_per_min", "goodput_ratio",
    "cost_client_usd", "cost_provider_usd", "cost_abs_error_usd", "cost_drift_usd", "overspend_usd", "latency_p50_s",
    "latency_p90_s", "latency_p99_s", "ttft_p50_s", "ttft_p99_s", "fallback_answers", "truncated_answers",
    "breaker_opens", "breaker_closes", "recovery_probe_s", "failover_wait_max_s", "loop_lag_max_s",
    *STRUCTURED_METRICS,
    "status_counts", "outcome_counts", *SEMANTIC_METRICS, "prompt_versions", "prompt_cost_ratio",
    *DEGRADATION_METRICS,
    "wall_s", "simulated_s",
)  # fmt: skip


def _ok(status: int) -> bool:
    return 200 <= status < 300


_GEMINI_BAD_KEY = GEMINI_BAD_KEY


def auth_failures(records: Iterable[ProviderRecord]) -> int:
    """Attempts the provider refused for their credentials: 401, 403, and Gemini's ``API_KEY_INVALID`` 400."""
    return sum(1 for r in records if r.status in (401, 403) or r.error_type == _GEMINI_BAD_KEY)


# -- thundering herd ---------------------------------------------------------------------------
def sliding_max(times: Sequence[float], width: float, start: float = -math.inf, end: float = math.inf) -> int:
    """Most points of sorted ``times`` in any window ``[s, s + width)`` with ``start ≤ s ≤ end``.

    Windows need only start at a point (or at ``start``), so this is a two-pointer sweep.
    """
    lo = bisect.bisect_left(times, start)
    best = 0
    j = lo
    n = len(times)
    for i in range(lo, n):
        s = times[i]
        if s > end:
            break
        if j < i:
            j = i
        limit = s + width
        while j < n and times[j] < limit:
            j += 1
        best = max(best, j - i)
    return best


def herd_gate(clients: int, cap_s: float, bucket_s: float = HERD_BUCKET_S) -> int:
    """⌈2μ + 4·√(2μ) + 3⌉ with μ = N·b/W: full jitter's peak rate plus four standard deviations."""
    mu = clients * bucket_s / cap_s
    return math.ceil(2 * mu + 4 * math.sqrt(2 * mu) + 3)


def herd_peak(arrivals: Sequence[float], recovery: float, cap_s: float) -> int:
    """Most arrivals in a sliding 100 ms window starting within [t1, t1 + W]."""
    return sliding_max(arrivals, HERD_BUCKET_S, recovery, recovery + cap_s)


def herd_size(records: Iterable[ProviderRecord], outcomes_end: dict[str, float], start: float, end: float) -> int:
    """N: logical requests that failed during the outage and were still waiting when it ended."""
    waiting: set[str] = set()
    clients: set[str] = set()
    for r in records:
        if start <= r.t < end and not _ok(r.status):
            if r.logical_id is None:
                clients.add(r.client_id or r.client)
            elif outcomes_end.get(r.logical_id, math.inf) > end:
                waiting.add(r.logical_id)
    return len(waiting) + len(clients)


def recovery_probe(records: Sequence[ProviderRecord], outages: Iterable[tuple[float, float]]) -> float | None:
    """The longest time, over outage windows, from a window's end to the first attempt (at or after
    it) on a model that failed during it: how soon a client finds out that a model came back.

    ``records`` in arrival order. None when no model failed in any window or none was tried after.
    """
    worst: float | None = None
    for start, end in outages:
        down = {r.model for r in records if start <= r.t < end and not _ok(r.status)}
        first = next((r.t for r in records if r.t >= end and r.model in down), None)
        if down and first is not None:
            worst = max(worst or 0.0, first - end)
    return worst


def failover_wait(outcomes: Iterable[OutcomeRecord], events: Iterable[ClientEvent] = ()) -> float | None:
    """The longest pause of any logical request before an attempt on another model: from the previous
    attempt's end or, when that model's circuit opened during the pause (the request was waiting out
    a retry backoff), from that moment. A client that sleeps a backoff although the circuit is open, or
    after its last retry, shows here. None: no request failed over."""
    opens: dict[str, list[float]] = defaultdict(list)
    for e in events:
        if e.kind.startswith("breaker") and e.detail.endswith("open"):
            opens[e.name].append(e.t)
    worst: float | None = None
    for o in outcomes:
        for a, b in itertools.pairwise(o.attempts):
            if a.model != b.model:
                start = max([a.t_end, *(t for t in opens.get(a.model, ()) if a.t_end <= t <= b.t_start)])
                worst = max(worst or 0.0, b.t_start - start)
    return worst


# -- retries -----------------------------------------------------------------------------------
def _attempt_chains(records: Iterable[ProviderRecord]) -> list[list[ProviderRecord]]:
    """Attempts grouped per (logical request, model), in arrival order."""
    chains: dict[tuple[str, str | None], list[ProviderRecord]] = defaultdict(list)
    for r in records:
        if r.logical_id is not None:
            chains[(r.logical_id, r.model)].append(r)
    result = []
    for chain in chains.values():
        chain.sort(key=lambda r: (r.t, r.attempt))
        result.append(chain)
    return result


def retry_after_violations(chains: Iterable[Sequence[ProviderRecord]]) -> int:
    """Attempts that arrived earlier than (previous response time + its hint − 10 ms)."""
    violations = 0
    for chain in chains:
        for prev, nxt in itertools.pairwise(chain):
            hint = prev.retry_after_s
            if hint is not None and nxt.t < prev.t + prev.duration_s + hint - RETRY_AFTER_TOLERANCE_S:
                violations += 1
    return violations


def retry_delays(chains: Iterable[Sequence[ProviderRecord]], k: int = 1, hinted: bool = False) -> list[float]:
    """Delay between the failed response of attempt k−1 and the arrival of attempt k, per request.

    ``hinted`` selects failures that did (True) or did not (False) carry a retry hint.
    """
    delays = []
    for chain in chains:
        if len(chain) > k:
            prev, nxt = chain[k - 1], chain[k]
            if _ok(prev.status) or (prev.retry_after_s is not None) != hinted:
                continue
            delays.append(nxt.t - (prev.t + prev.duration_s))
    return delays


def client_retry_waits(outcomes: Iterable[OutcomeRecord], k: int = 1) -> list[float]:
    """The wait each logical request's client chose before its k-th retry on the same model, after a
    failure without a retry hint, as its outcome log records it (``wait_s``; clients that do not
    record waits contribute nothing)."""
    waits = []
    for o in outcomes:
        attempts = o.attempts
        if len(attempts) > k:
            prev, nxt = attempts[k - 1], attempts[k]
            if prev.wait_s is not None and prev.retry_after_s is None and prev.error and prev.model == nxt.model:
                waits.append(prev.wait_s)
    return waits


def jitter_cv(delays: Sequence[float], min_samples: int = 20) -> float | None:
    """Coefficient of variation (σ/μ) of retry delays across clients; full jitter gives 1/√3 ≈ 0.577."""
    if len(delays) < min_samples:
        return None
    arr = np.asarray(delays, dtype=float)
    mean = float(arr.mean())
    if mean <= 0:
        return None
    return float(arr.std()) / mean


# -- quotas ------------------------------------------------------------------------------------
def _weight(r: ProviderRecord, kind: str) -> int:
    if kind == "rpm":
        return 1
    if kind == "itpm":
        return r.prompt_tokens
    if kind == "otpm":
        return r.output_tokens
    return r.prompt_tokens + (r.max_tokens if r.max_tokens is not None else r.output_tokens)


def limit_violations(records: Sequence[ProviderRecord], limit: LimitFact) -> int:
    """Arrivals whose trailing window (themselves included) held more than the limit."""
    scoped = [
        (r.t, _weight(r, limit.kind))
        for r in records
        if (limit.model is None or r.model == limit.model) and (limit.client is None or r.client == limit.client)
    ]
    return _window_violations(scoped, limit)


def _window_violations(scoped: list[tuple[float, int]], limit: LimitFact) -> int:
    """Arrivals ``(t, weight)`` whose trailing window (themselves included) held more than the limit."""
    scoped.sort()
    violations = 0
    total = 0
    left = 0
    for i, (t, w) in enumerate(scoped):
        total += w
        # the arrival itself always counts, even when t - window_s rounds to t (a tiny window, a large t)
        while left < i and scoped[left][0] <= t - limit.window_s:
            total -= scoped[left][1]
            left += 1
        if total > limit.limit:
            violations += 1
    return violations


# -- the whole set -----------------------------------------------------------------------------
def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=float), q))


def _money(value: Decimal) -> str:
    """Exact, in plain notation, without trailing zeros: "0.0218", "0" (never "0E-8")."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


def last_ok_deliveries(records: Iterable[ProviderRecord]) -> dict[str, ProviderRecord]:
    """Each logical request's last successful delivery at the provider; ``records`` in time order."""
    return {r.logical_id: r for r in records if r.logical_id is not None and _ok(r.status)}


def answer_cost_error(
    records: Sequence[ProviderRecord], ok_outcomes: Sequence[OutcomeRecord], last_ok: dict[str, ProviderRecord]
) -> Decimal:
    """Σ |client's cost − provider's bill| over the answers of completed requests.

    The answer is the attempt that succeeded: matched by the provider's request id when the client
    recorded its attempts (the reference client does), else the last successful delivery of the
    logical request (an SDK's app prices only the answer it got). Failed attempts are compared in
    total (``cost_client_usd`` against ``cost_provider_usd``), not here: a client cannot know, say, the
    tokens of a chunk it could not parse, but it must get every answer it returns exactly right.
    """
    by_request_id = {r.request_id: r for r in records}
    error = Decimal(0)
    for o in ok_outcomes:
        answer = next((a for a in reversed(o.attempts) if a.error is None and a.cost_usd is not None), None)
        if answer is not None and answer.request_id in by_request_id:
            client, provider = Decimal(answer.cost_usd or "0"), Decimal(by_request_id[answer.request_id].cost_usd)
        else:
            final = last_ok.get(o.id)
            client, provider = Decimal(o.cost_usd), Decimal(final.cost_usd) if final is not None else Decimal(0)
        error += abs(client - provider)
    return error


def truncated_answers(last_ok: dict[str, ProviderRecord], outcomes: Iterable[OutcomeRecord]) -> int:
    """Answers the client called complete whose last delivery, at the provider, was not (cut, stalled …).

    A client that reports a broken stream as a success shows up here whatever its own log says.
    """
    count = 0
    for o in outcomes:
        final = last_ok.get(o.id)
        if o.ok and final is not None and final.finish in _BROKEN_FINISHES:
            count += 1
    return count


def compute_metrics(
    facts: RunFacts,
    records: Iterable[ProviderRecord],
    outcomes: Iterable[OutcomeRecord],
    events: Sequence[ClientEvent] = (),
) -> dict[str, object]:
    """Every metric of ``summary.json``, from the two logs (and the client's events) and the run's facts.

    Each log is read once, one record at a time (a :class:`~harness.records.PackedRecords` never holds
    them all as objects): the provider's into columns (:mod:`harness.judge.columns`), the client's
    into running totals. The numbers are those of the formulas above applied to the record lists.
    """
    return _judge(facts, records, outcomes, events, None)[0]


def judge_logs(
    facts: RunFacts,
    records: Sequence[ProviderRecord],
    outcomes: Sequence[OutcomeRecord],
    events: Sequence[ClientEvent] = (),
    *,
    reading: tuple[Iterable[ProviderRecord], Iterable[OutcomeRecord]] | None = None,
) -> tuple[dict[str, object], LogColumns]:
    """:func:`compute_metrics`, and the logs as columns from the same single pass over each, for the
    report to draw from (it then reads neither log again).

    ``reading``: the records of ``records`` and of ``outcomes``, in their order, as the single pass is
    to read them (default: the two logs themselves). :func:`harness.runner.run.judged_result` hands
    over iterators that fill the two logs as they go (:meth:`~harness.records.PackedRecords.packing`),
    so that each log is packed and judged in one pass; the logs are whole when this returns.
    """
    drawn = OutcomeColumnsBuilder()
    first = (records, outcomes) if reading is None else reading
    metrics, cols = _judge(facts, first[0], first[1], events, drawn, again=outcomes)
    return metrics, LogColumns.of(cols, drawn, facts.issued_ids, records, outcomes)


def _judge(
    facts: RunFacts,
    records: Iterable[ProviderRecord],
    outcomes: Iterable[OutcomeRecord],
    events: Sequence[ClientEvent],
    drawn: OutcomeColumnsBuilder | None,
    again: Iterable[OutcomeRecord] | None = None,
) -> tuple[dict[str, object], ProviderColumns]:
    """The metrics and the provider's log as columns; ``drawn`` also gathers the outcome log's columns.

    ``again``: the outcome log, should it be read a second time (the semantic cache's hits), when
    ``outcomes`` can be read only once (default: ``outcomes``)."""
    scoped_budgets = any(b.scope != "global" for b in facts.budgets)
    # the answers' attempts: not the model lists, not a semantic cache's embeddings calls
    cols = provider_columns(records, spend_by_logical=scoped_budgets)
    n_api = len(cols)
    t, dur, status, ok = cols.t, cols.duration_s, cols.status, cols.ok
    logical_ids = cols.logical_id
    arrivals = t.tolist()
    t_list, dur_list, ok_list = arrivals, dur.tolist(), ok.tolist()
    chains = _column_chains(cols)

    # the provider's last successful delivery of each logical request (in arrival order, the last wins)
    last_ok: dict[str, int] = {}
    for i, (rid, good) in enumerate(zip(logical_ids, ok_list, strict=True)):
        if good and rid is not None:
            last_ok[rid] = i
    by_request_id = {rid: i for i, rid in enumerate(cols.request_id)}

    # the client's log, one pass: every per-outcome number
    opens: dict[str, list[float]] = defaultdict(list)
    for e in events:
        if e.kind.startswith("breaker") and e.detail.endswith("open"):
            opens[e.name].append(e.t)
    outcome_count: Counter[str] = Counter()
    outcome_end: dict[str, float] | None = {} if facts.outages else None
    tags: dict[str, tuple[str | None, str | None]] | None = {} if scoped_budgets else None
    latencies: list[float] = []
    ttfts: list[float] = []
    waits: list[float] = []
    outcome_statuses: Counter[str] = Counter()
    semantic = SemanticTally()
    structured = StructuredTally(events)
    unsuccessful = structured.invalid | structured.reasks  # a 200 that is not a caller's success
    ladder: list[tuple[float, str]] = []  # (began, step) of outcomes with a degradation step
    # the outcomes that named a prompt version, all prompt_versions reads: kept from this pass instead of
    # reading the whole log a second time for them (that second read was a fifth of the judge's time)
    prompted: list[OutcomeRecord] = []
    decimals: dict[str, Decimal] = {}
    cost_client = Decimal(0)
    cost_abs_error = Decimal(0)
    n_ok = n_succeeded = client_attempts = fallbacks = truncated = 0
    failover: float | None = None
    for o in outcomes:
        if drawn is not None:
            drawn.add(o)
        oid = o.id
        outcome_count[oid] += 1
        if outcome_end is not None:
            outcome_end[oid] = o.t_end
        if tags is not None:
            tags[oid] = (o.user, o.feature)
        outcome_statuses[o.status] += 1
        cost_client += _decimal(decimals, o.cost_usd) + _decimal(decimals, o.embedding_cost_usd)
        semantic.add(o)
        structured.add(o)
        if o.prompt is not None:
            prompted.append(o)
        if o.degradation_step is not None:
            ladder.append((o.t_start, o.degradation_step))
        attempts = o.attempts
        client_attempts += len(attempts)
        if len(attempts) > 1:
            prev, nxt = attempts[0], attempts[1]  # client_retry_waits(outcomes, 1)
            if prev.wait_s is not None and prev.retry_after_s is None and prev.error and prev.model == nxt.model:
                waits.append(prev.wait_s)
            for a, b in itertools.pairwise(attempts):  # failover_wait
                if a.model != b.model:
                    start = max([a.t_end, *(x for x in opens.get(a.model, ()) if a.t_end <= x <= b.t_start)])
                    failover = max(failover or 0.0, b.t_start - start)
        if not o.ok:
            continue
        n_ok += 1
        if oid not in unsuccessful:
            n_succeeded += 1
        latencies.append(o.t_end - o.t_start)
        if o.stream and o.ttft_s is not None:
            ttfts.append(o.ttft_s)
        if o.model is not None and o.model != o.model_requested and o.source != "static":
            fallbacks += 1
        # answer_cost_error: the answer the client priced against the provider's bill of it
        final = last_ok.get(oid)
        answer = next((a for a in reversed(attempts) if a.error is None and a.cost_usd is not None), None)
        if answer is not None and answer.request_id in by_request_id:
            at = by_request_id[answer.request_id]
            client_cost, provider_cost = Decimal(answer.cost_usd or "0"), Decimal(cols.cost_usd[at])
        else:
            client_cost = Decimal(o.cost_usd)
            provider_cost = Decimal(cols.cost_usd[final]) if final is not None else Decimal(0)
        cost_abs_error += abs(client_cost - provider_cost)
        if final is not None and cols.finish[final] in _BROKEN_FINISHES:
            truncated += 1
    del by_request_id

    # logical requests: one terminal outcome each, or the request is lost. A structured request's
    # re-asks are logical requests the client made on its own (not lost, not issued); the request
    # succeeded when its last answer was valid
    reasks = structured.reasks
    issued = facts.issued_ids or tuple(rid for rid in outcome_count if rid not in reasks)
    issued_set = set(issued)
    lost = sum(1 for rid in issued if outcome_count.get(rid, 0) != 1)
    lost += sum(1 for rid in outcome_count if rid not in issued_set and rid not in reasks)
    del issued_set
    logical = len(issued)
    success_rate = n_succeeded / logical if logical else None

    # herd: the worst recovery (peak furthest above its gate)
    cap = facts.backoff_cap_s or DEFAULT_BACKOFF_CAP_S
    peak: int | None = None
    gate: int | None = None
    herd_n: int | None = None
    drain: float | None = None
    for start, end in facts.outages:
        assert outcome_end is not None
        inside = [i for i, x in enumerate(t_list) if start <= x < end]
        n = _column_herd_size(cols, inside, ok_list, outcome_end, end)
        p, g = herd_peak(arrivals, end, cap), herd_gate(n, cap)
        if peak is None or gate is None or p - g > peak - gate:
            peak, gate, herd_n = p, g, n
        # drain: the last request that was waiting at recovery gets its answer
        pending = {logical_ids[i] for i in inside if logical_ids[i]}
        served = [
            t_list[i] + dur_list[i]
            for i in range(n_api)
            if t_list[i] >= end and ok_list[i] and logical_ids[i] in pending
        ]
        if served:
            drain = max(drain or 0.0, max(served) - end)
    if not facts.outages:
        peak = sliding_max(arrivals, HERD_BUCKET_S)

    # retries
    delays_plain: list[float] = []
    all_delays: list[float] = []
    retry_after_bad = 0
    hints = cols.retry_after_s.tolist()
    for chain in chains:
        for k, (p, q) in enumerate(itertools.pairwise(chain)):
            hint = hints[p]
            gap = t_list[q] - (t_list[p] + dur_list[p])
            if hint == hint and t_list[q] < t_list[p] + dur_list[p] + hint - RETRY_AFTER_TOLERANCE_S:
                retry_after_bad += 1
            if not ok_list[p]:
                all_delays.append(gap)
                if k == 0 and hint != hint:  # retry_delays(chains, 1, hinted=False)
                    delays_plain.append(gap)
    # jitter strength: from the waits the client chose when its log has them. Measured at the provider,
    # a delay also holds the answer's way back and the client process's scheduling lag, which over
    # sockets with a thousand instances on one loop adds 0.1 s (idle machine) to seconds (loaded) to a
    # first-retry delay of 0.25 s on average: σ/μ then measures the harness, not the client's jitter
    # (jitter_cv_provider keeps that reading; the herd metric judges what reached the provider)
    cv_provider = jitter_cv(delays_plain)
    cv = jitter_cv(waits) if len(waits) >= len(delays_plain) / 2 and len(waits) >= 20 else cv_provider
    provider_429s = int(np.count_nonzero(status == 429))
    provider_4xx = int(np.count_nonzero((status >= 400) & (status < 500) & (status != 429)))
    provider_5xx = int(np.count_nonzero(status >= 500))
    violations_told = sum(_column_limit_violations(cols, lim) for lim in facts.limits if lim.told_to_client)
    violations_all = sum(_column_limit_violations(cols, lim) for lim in facts.limits)

    # goodput: tokens served per minute, against the token quota if there is one. A sliding-window quota
    # starts with a whole window of room, so the first window is left out when the run is long enough
    # to judge the steady state (every later window holds at most the quota: the ratio's ceiling is 1)
    tpm = next((lim for lim in facts.limits if lim.kind in ("tpm", "itpm")), None)
    skip = tpm.window_s if tpm is not None and facts.simulated_s > 2 * tpm.window_s else 0.0
    span = facts.simulated_s - skip
    counted = ok & (t >= facts.t0 + skip)
    served_tokens = int(cols.prompt_tokens[counted].sum() + cols.output_tokens[counted].sum())
    goodput = served_tokens / (span / 60.0) if span > 0 else None
    goodput_ratio = None
    if span > 0 and tpm is not None:
        # the most a sliding-window quota can admit over the span: one limit per (started) window
        capacity = tpm.limit * math.ceil(span / tpm.window_s - 1e-9)
        goodput_ratio = served_tokens / capacity

    # cost: client ledger vs provider ledger
    cost_provider = cols.cost_provider
    overspend = _column_overspend(facts, cols, tags)
    statuses = Counter(str(s) for s in status.tolist())
    breaker_opens = sum(1 for e in events if e.kind.startswith("breaker") and e.detail.endswith("open"))
    breaker_closes = sum(1 for e in events if e.kind.startswith("breaker") and e.detail.endswith("closed"))
    structured_numbers = structured.metrics()
    if isinstance(structured_numbers["reask_cost_usd"], Decimal):
        structured_numbers["reask_cost_usd"] = _money(structured_numbers["reask_cost_usd"])

    metrics: dict[str, object] = {
        "requests_logical": logical,
        "attempts": n_api,
        "client_attempts": client_attempts,
        "success_rate": _round(success_rate),
        "lost_requests": lost,
        "retry_amplification": _round(n_api / logical if logical else None),
        "herd_peak_100ms": peak,
        "herd_gate_100ms": gate,
        "herd_clients": herd_n,
        "drain_time_s": _round(drain),
        "jitter_cv": _round(cv),
        "jitter_cv_provider": _round(cv_provider),
        "retry_delay_p50_s": _round(_percentile(all_delays, 50)),
        "retry_after_violations": retry_after_bad,
        "auth_failures": cols.auth_failures,
        "provider_429s": provider_429s,
        "provider_4xx": provider_4xx,
        "provider_5xx": provider_5xx,
        "limit_violations": violations_told,
        "limit_violations_all": violations_all,
        "goodput_tokens_per_min": _round(goodput, 3),
        "goodput_ratio": _round(goodput_ratio),
        "cost_client_usd": _money(cost_client),
        "cost_provider_usd": _money(cost_provider),
        "cost_abs_error_usd": _money(cost_abs_error),
        "cost_drift_usd": _money(abs(cost_client - cost_provider)),
        "overspend_usd": _money(overspend),
        "latency_p50_s": _round(_percentile(latencies, 50)),
        "latency_p90_s": _round(_percentile(latencies, 90)),
        "latency_p99_s": _round(_percentile(latencies, 99)),
        "ttft_p50_s": _round(_percentile(ttfts, 50)),
        "ttft_p99_s": _round(_percentile(ttfts, 99)),
        "fallback_answers": fallbacks,
        "truncated_answers": truncated,
        "breaker_opens": breaker_opens,
        "breaker_closes": breaker_closes,
        "recovery_probe_s": _round(_column_recovery_probe(cols, facts.outages)),
        "failover_wait_max_s": _round(failover),
        "loop_lag_max_s": _round(facts.loop_lag_max_s),
        **structured_numbers,
        "status_counts": dict(sorted(statuses.items())),
        "outcome_counts": dict(sorted(outcome_statuses.items())),
        **semantic.metrics(
            cols.embedding_calls,
            outcomes if again is None else again,
            facts.questions,
            _money,
            bill=cost_provider,
            baseline=facts.cache_baseline,
        ),
        "prompt_versions": (versions := prompt_versions(prompted, _money)),  # it reads only these
        "prompt_cost_ratio": prompt_cost_ratio(versions),
        **degradation_metrics(ladder, facts.t0, facts.outages, facts.t_end),
        "wall_s": round(facts.wall_s, 3),
        "simulated_s": _round(facts.simulated_s, 3),
        **dict(sorted(facts.extra.items())),
    }
    return metrics, cols


def _decimal(cache: dict[str, Decimal], text: str) -> Decimal:
    value = cache.get(text)
    if value is None:
        value = cache[text] = Decimal(text)
    return value


def _column_chains(cols: ProviderColumns) -> list[list[int]]:
    """:func:`_attempt_chains` on columns: row indices per (logical request, model) with more than one
    attempt, in order of their first arrival, each ordered by (arrival, attempt number)."""
    first: dict[tuple[str, str | None], int | list[int]] = {}
    for i, (rid, model) in enumerate(zip(cols.logical_id, cols.model, strict=True)):
        if rid is None:
            continue
        key = (rid, model)
        seen = first.get(key)
        if seen is None:
            first[key] = i
        elif type(seen) is int:
            first[key] = [seen, i]
        else:
            seen.append(i)  # type: ignore[union-attr]
    t, attempt = cols.t.tolist(), cols.attempt.tolist()
    chains = []
    for chain in first.values():
        if type(chain) is list:
            chain.sort(key=lambda i: (t[i], attempt[i]))
            chains.append(chain)
    return chains


def _column_herd_size(
    cols: ProviderColumns, inside: list[int], ok: list[bool], outcomes_end: dict[str, float], end: float
) -> int:
    """:func:`herd_size` on columns: ``inside`` are the rows that arrived during the outage."""
    waiting: set[str] = set()
    clients: set[str] = set()
    for i in inside:
        if ok[i]:
            continue
        rid = cols.logical_id[i]
        if rid is None:
            clients.add(cols.client_id[i] or cols.client[i])
        elif outcomes_end.get(rid, math.inf) > end:
            waiting.add(rid)
    return len(waiting) + len(clients)


def _column_recovery_probe(cols: ProviderColumns, outages: Iterable[tuple[float, float]]) -> float | None:
    """:func:`recovery_probe` on columns."""
    worst: float | None = None
    t, ok = cols.t, cols.ok
    for start, end in outages:
        failed = np.flatnonzero((t >= start) & (t < end) & ~ok).tolist()
        down = {cols.model[i] for i in failed}
        first = None
        if down:
            for i in np.flatnonzero(t >= end).tolist():
                if cols.model[i] in down:
                    first = float(t[i])
                    break
        if down and first is not None:
            worst = max(worst or 0.0, first - end)
    return worst


def _column_limit_violations(cols: ProviderColumns, limit: LimitFact) -> int:
    """:func:`limit_violations` on columns."""
    if limit.kind == "rpm":
        weights = np.ones(len(cols), dtype=np.int64)
    elif limit.kind == "itpm":
        weights = cols.prompt_tokens
    elif limit.kind == "otpm":
        weights = cols.output_tokens
    else:
        weights = cols.prompt_tokens + np.where(cols.max_tokens >= 0, cols.max_tokens, cols.output_tokens)
    keep = [
        i
        for i, (model, client) in enumerate(zip(cols.model, cols.client, strict=True))
        if (limit.model is None or model == limit.model) and (limit.client is None or client == limit.client)
    ]
    t, w = cols.t.tolist(), weights.tolist()
    return _window_violations([(t[i], w[i]) for i in keep], limit)


def _column_overspend(
    facts: RunFacts, cols: ProviderColumns, tags: dict[str, tuple[str | None, str | None]] | None
) -> Decimal:
    """:func:`_overspend` from the bill per logical request."""
    total = Decimal(0)
    for budget in facts.budgets:
        if budget.scope == "global":
            spent = cols.cost_provider
        else:
            assert tags is not None
            assert cols.spent_by_logical is not None
            spent = Decimal(0)
            for rid, amount in cols.spent_by_logical.items():
                tag_pair = tags.get(rid)
                tag = None if tag_pair is None else (tag_pair[0] if budget.scope == "user" else tag_pair[1])
                if tag == budget.value:
                    spent += amount
        total += max(Decimal(0), spent - budget.limit_usd)
    return total


def _overspend(facts: RunFacts, records: Sequence[ProviderRecord], outcomes: Sequence[OutcomeRecord]) -> Decimal:
    """Provider-billed spend beyond each hard budget (attributed through the logical request id)."""
    if not facts.budgets:
        return Decimal(0)
    by_id = {o.id: o for o in outcomes}
    total = Decimal(0)
    for budget in facts.budgets:
        spent = Decimal(0)
        for r in records:
            if budget.scope != "global":
                outcome = by_id.get(r.logical_id or "")
                tag = None if outcome is None else (outcome.user if budget.scope == "user" else outcome.feature)
                if tag != budget.value:
                    continue
            spent += Decimal(r.cost_usd)
        total += max(Decimal(0), spent - budget.limit_usd)
    return total
