"""A seeded, realistic RunResult for report tests: a closed-loop outage run, simulated event by event.

What happens (defaults): 200 closed-loop clients send chat requests for 60 s; the provider is down from
20 s to 40 s (503, fault "outage"); the client retries with full jitter (base 0.5 s, cap 8 s, 8
attempts) and honours a 429's Retry-After plus up to 250 ms of jitter; a circuit breaker opens 1 s into
the outage, probes every 5 s (half-open) and closes once a probe succeeds after recovery, and while it
is open attempts fail locally with CircuitOpen (the provider never sees them); a token quota (sliding
60 s) answers 429 when the recovery herd pushes past it; half the requests stream, with a time to
first token, and 1% of streams are cut midway (the provider bills the tokens sent, the client charges
nothing). Metrics and gates come from the real judge, so the numbers are the ones a run would report.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import partial

from harness.judge import GateSpec, LimitFact, RunFacts, compute_metrics, evaluate_gates
from harness.judge.metrics import herd_gate, herd_peak
from harness.pricing import PriceTable, Usage
from harness.records import AttemptRecord, OutcomeRecord, ProviderRecord
from harness.report import ClientEvent, RunResult

__all__ = ["SyntheticSpec", "outage_run"]


@dataclass(frozen=True)
class SyntheticSpec:
    """Knobs of the synthetic outage run (times in seconds since the run start)."""

    clients: int = 200
    duration_s: float = 60.0  # no new request starts after this; retries in flight finish
    outage: tuple[float, float] = (20.0, 40.0)
    cap_s: float = 8.0  # full-jitter backoff cap W
    base_s: float = 0.5
    max_attempts: int = 8
    quota_tpm: int = 2_400_000
    stream_share: float = 0.5
    cut_share: float = 0.01  # of streamed answers
    p429_hint_s: float = 1.0  # Retry-After the quota sends
    model: str = "gpt-4o-mini"
    seed: int = 7
    t0: float = 1000.0  # the run's clock at start (not 0, so reports must subtract it)
    judged: bool = True  # False: only the herd metrics (the full judge is slow on 100k-record runs)
    gates: tuple[GateSpec, ...] = field(
        default=(
            GateSpec("lost_requests"),
            GateSpec("herd_peak_100ms"),
            GateSpec("retry_after_violations"),
            GateSpec("cost_abs_error_usd"),
            GateSpec("success_rate", ">=", 0.95),
            GateSpec("latency_p99_s", "<=", 30.0),
            GateSpec("provider_429s", "<=", 100),
        )
    )


def _herd_only(facts: RunFacts, records: list[ProviderRecord]) -> dict[str, object]:
    """The two metrics the arrivals chart draws, computed the judge's way."""
    (start, end), cap = facts.outages[0], facts.backoff_cap_s or 8.0
    arrivals = sorted(r.t for r in records)
    waiting = {r.logical_id for r in records if start <= r.t < end and r.status != 200}
    return {"herd_peak_100ms": herd_peak(arrivals, end, cap), "herd_gate_100ms": herd_gate(len(waiting), cap)}


def _breaker_schedule(spec: SyntheticSpec) -> list[tuple[float, str]]:
    """(time, "from→to") changes: open 1 s into the outage, a 0.5 s half-open probe every 5 s."""
    start, end = spec.outage
    changes = [(start + 1.0, "closed→open")]
    t = start + 1.0 + 5.0
    while True:
        changes.append((t, "open→half_open"))
        if t >= end:
            changes.append((t + 0.3, "half_open→closed"))
            return changes
        changes.append((t + 0.5, "half_open→open"))
        t += 5.0


def _state_at(schedule: list[tuple[float, str]], t: float) -> str:
    state = "closed"
    for when, detail in schedule:
        if when > t:
            break
        state = detail.split("→")[1]
    return state


@dataclass
class _Request:
    id: str
    t_start: float
    stream: bool
    prompt: int
    max_tokens: int
    attempts: list[AttemptRecord] = field(default_factory=list)


def outage_run(spec: SyntheticSpec | None = None, **overrides: object) -> RunResult:
    """The run described in the module docstring; ``overrides`` replace fields of ``spec``."""
    spec = replace(spec or SyntheticSpec(), **overrides)  # type: ignore[arg-type]
    rng = random.Random(spec.seed)
    price = PriceTable.default()
    schedule = _breaker_schedule(spec)
    t0 = spec.t0
    records: list[ProviderRecord] = []
    outcomes: list[OutcomeRecord] = []
    window: deque[tuple[float, int]] = deque()  # admitted (time, tokens) in the trailing 60 s
    in_window = 0
    heap: list[tuple[float, int, int, _Request | None]] = []  # (time, tie-break, client, request)
    counter = 0
    for c in range(spec.clients):
        heapq.heappush(heap, (rng.uniform(0.0, 1.0), counter := counter + 1, c, None))
    issued = 0

    def finish(req: _Request, t_end: float, ok: bool, status: str, **kw: object) -> None:
        outcomes.append(
            OutcomeRecord(
                req.id, ok, status, t0 + req.t_start, t0 + t_end, spec.model, model=spec.model if ok else None,
                provider="openai", client_id=f"user-{int(req.id.split('-')[1]) % spec.clients}", stream=req.stream,
                attempts=tuple(req.attempts), **kw,  # type: ignore[arg-type]
            )
        )  # fmt: skip

    def next_request(c: int, t: float) -> None:
        nonlocal counter
        if t < spec.duration_s:
            heapq.heappush(heap, (t, counter := counter + 1, c, None))

    while heap:
        t, _, c, req = heapq.heappop(heap)
        if req is None:  # a new logical request from client c
            issued += 1
            stream = rng.random() < spec.stream_share
            req = _Request(f"req-{issued:06d}", t, stream, rng.randint(150, 900), rng.choice((256, 512)))
        n = len(req.attempts)
        state = _state_at(schedule, t)
        failure: tuple[str, float | None] | None = None  # (error kind, retry hint)
        if state == "open":
            req.attempts.append(AttemptRecord(n, t0 + t, t0 + t, spec.model, 0, error="CircuitOpen"))  # refused locally
            failure, t_done = ("CircuitOpen", None), t
        else:
            weight = req.prompt + req.max_tokens
            while window and window[0][0] <= t - 60.0:
                in_window -= window.popleft()[1]
            seq = len(records) + 1
            rid = f"chatcmpl-{seq:07d}"
            record = partial(
                ProviderRecord, seq, t0 + t, 1.7e9 + t, "key:5f2a9c", f"user-{c}", rid, req.id, n, "openai.chat",
                spec.model, req.stream, prompt_tokens=req.prompt, max_tokens=req.max_tokens,
            )  # fmt: skip
            attempt = partial(AttemptRecord, n, t0 + t, model=spec.model, request_id=rid)
            if spec.outage[0] <= t < spec.outage[1]:
                dur = rng.uniform(0.01, 0.05)
                records.append(record(status=503, duration_s=dur, fault="outage", error_type="server_error"))
                req.attempts.append(attempt(t_end=t0 + t + dur, status=503, error="ServerError"))
                failure, t_done = ("ServerError", None), t + dur
            elif in_window + weight > spec.quota_tpm:
                dur, hint = 0.005, spec.p429_hint_s
                records.append(
                    record(status=429, duration_s=dur, fault="quota:tpm", retry_after_s=hint, error_type="tokens")
                )
                req.attempts.append(attempt(t_end=t0 + t + dur, status=429, error="RateLimited", retry_after_s=hint))
                failure, t_done = ("RateLimited", hint), t + dur
            else:
                window.append((t, weight))
                in_window += weight
                out = rng.randint(40, req.max_tokens)
                ttfb = math.exp(rng.gauss(math.log(0.35), 0.45))
                cut = req.stream and rng.random() < spec.cut_share
                sent = out // 2 if cut else out
                dur = ttfb + sent / 120.0  # 120 tokens/s once generating
                cost = str(price.cost(spec.model, Usage(req.prompt, sent)))
                finish_reason = "cut" if cut else "stop"
                records.append(
                    record(
                        status=200, output_tokens=sent, ttfb_s=ttfb, duration_s=dur, finish=finish_reason, cost_usd=cost
                    )
                )
                req.attempts.append(attempt(t_end=t0 + t + dur, status=200, error="StreamBroken" if cut else None))
                ttft = ttfb if req.stream else None
                if cut:  # the provider billed what it sent; the client charges nothing for a broken answer
                    finish(req, t + dur, False, "StreamBroken", ttft_s=ttft, input_tokens=req.prompt, error="cut")
                else:
                    finish(
                        req, t + dur, True, "ok", ttft_s=ttft, finish_reason="stop", input_tokens=req.prompt,
                        output_tokens=sent, cost_usd=cost,
                    )  # fmt: skip
                next_request(c, t + dur + rng.uniform(0.2, 1.2))
                continue
        kind, retry_hint = failure
        sent = sum(1 for a in req.attempts if a.error != "CircuitOpen")  # refusals by the breaker are free
        if sent >= spec.max_attempts:
            finish(req, t_done, False, kind, error=f"{kind} after {sent} attempts")
            next_request(c, t_done + rng.uniform(0.2, 1.2))
            continue
        if kind == "CircuitOpen":
            wait = rng.uniform(0.0, spec.cap_s)
        elif retry_hint is not None:
            wait = retry_hint + rng.uniform(0.0, 0.25)
        else:
            wait = rng.uniform(0.0, min(spec.cap_s, spec.base_s * 2 ** max(0, sent - 1)))
        req.attempts[-1] = replace(req.attempts[-1], wait_s=wait)
        heapq.heappush(heap, (t_done + wait, counter := counter + 1, c, req))

    outcomes.sort(key=lambda o: o.t_start)
    t_end = max([spec.duration_s, *(o.t_end - t0 for o in outcomes)])
    facts = RunFacts(
        scenario="outage-recovery", seed=spec.seed, mode="virtual", t0=t0, t_end=t0 + t_end, wall_s=0.8,
        issued_ids=tuple(o.id for o in outcomes), outages=((t0 + spec.outage[0], t0 + spec.outage[1]),),
        backoff_cap_s=spec.cap_s, limits=(LimitFact("tpm", spec.quota_tpm, told_to_client=False),),
        max_attempts=spec.max_attempts, jitter="full",
        extra={"breaker_opens": float(sum(1 for _, d in schedule if d.endswith("→open")))},
    )  # fmt: skip
    metrics = compute_metrics(facts, records, outcomes) if spec.judged else _herd_only(facts, records)
    events = [ClientEvent(t0 + when, "breaker", "openai/gpt-4o-mini", detail) for when, detail in schedule]
    ledger = {"total_usd": str(sum((Decimal(r.cost_usd) for r in records), Decimal(0))), "lines": len(records)}
    return RunResult(
        facts, metrics, evaluate_gates(spec.gates, metrics, facts), records, outcomes, events,
        description=(
            f"{spec.clients} closed-loop clients; the provider is down from {spec.outage[0]:g} s to "
            f"{spec.outage[1]:g} s. Retries use full jitter (cap {spec.cap_s:g} s) and a breaker sheds load "
            "while the provider is down. Does the recovery herd stay under the gate?"
        ),
        ledger=ledger, fault_windows=[(t0 + spec.outage[0], t0 + spec.outage[1], "outage (503)")],
        quota_tpm=float(spec.quota_tpm),
    )  # fmt: skip
