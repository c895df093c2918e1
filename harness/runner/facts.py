"""What the judge must know about a run besides the logs, read off the scenario and the run itself."""

from __future__ import annotations

import math
from collections.abc import Sequence

from fake_provider.fault_spec import FaultSpec
from harness.client import ClientConfig
from harness.judge.facts import BudgetFact, CacheBaseline, LimitFact, RetryBudgetFact, RunFacts
from harness.runner.driver import DriveStats
from harness.scenario.model import Scenario
from harness.scenario.sdk_spec import SDKClientSpec

__all__ = ["fault_windows", "merge_windows", "outage_windows", "run_facts"]

_FAILURE_WINDOW_KINDS = frozenset({"outage", "flapping", "brownout", "status", "reset", "silence", "slow_headers"})


def _clip(start: float, end: float, limit: float) -> tuple[float, float] | None:
    end = min(end, limit)
    return (start, end) if end > start else None


def outage_windows(specs: Sequence[FaultSpec], origin: float, duration_s: float) -> list[tuple[float, float]]:
    """When the provider was wholly down: outage windows and flapping down phases, on the logs' clock."""
    windows: list[tuple[float, float]] = []
    for spec in specs:
        if spec.fraction < 1.0:
            continue
        if spec.kind == "outage":
            clipped = _clip(spec.start_s, spec.end_s, duration_s)
            if clipped is not None:
                windows.append(clipped)
        elif spec.kind == "flapping" and spec.down_s > 0:
            period = spec.down_s + spec.up_s
            t = spec.start_s
            end = min(spec.end_s, duration_s)
            while t < end:
                clipped = _clip(t, t + spec.down_s, end)
                if clipped is not None:
                    windows.append(clipped)
                t += period
    return [(origin + a, origin + b) for a, b in merge_windows(windows)]


def merge_windows(windows: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Overlapping or touching windows as one: the provider recovers only when the last of them ends.

    Two outages declared over each other (or an outage inside a flapping fault's down phase) are one
    outage for the herd metric: judging a "recovery" at the end of the first would count the herd that
    is still waiting out the second.
    """
    merged: list[tuple[float, float]] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def fault_windows(specs: Sequence[FaultSpec], origin: float, duration_s: float) -> list[tuple[float, float, str]]:
    """Every failure fault's window (for the charts), clipped to the run."""
    windows = []
    for spec in specs:
        if spec.kind in _FAILURE_WINDOW_KINDS or spec.kind.startswith("stream"):
            clipped = _clip(spec.start_s, spec.end_s, duration_s)
            if clipped is not None:
                windows.append((origin + clipped[0], origin + clipped[1], spec.label))
    return windows


def _limit_facts(scenario: Scenario) -> tuple[LimitFact, ...]:
    quotas = scenario.provider.quotas
    if quotas is None:
        return ()
    client = scenario.client
    names = [m for m, _ in scenario.load.models]
    if isinstance(client, ClientConfig):
        names = names or [client.models[0].name]
    elif not names:
        names = [next(m.name for m in scenario.provider.models if m.kind != "embedding")]
    facts = []
    for name in names:
        told: dict[str, int | None] = {}
        if isinstance(client, ClientConfig):
            spec = client.model(name)
            limits = (spec.limits if spec is not None and spec.limits is not None else None) or client.limits
            told = {"rpm": limits.rpm, "tpm": limits.tpm, "itpm": limits.itpm, "otpm": limits.otpm}
        for kind, value in quotas.limits_for(name).configured():
            # told: the client was configured with this limit, or a lower one (a client configured above the
            # provider's quota, as after a quota squeeze, was not told the limit it meets)
            mine = told.get(kind)
            was_told = mine is not None and mine <= value
            facts.append(LimitFact(kind, value, model=name, window_s=quotas.window_s, told_to_client=was_told))
    return tuple(facts)


def _budget_facts(client: ClientConfig | SDKClientSpec) -> tuple[BudgetFact, ...]:
    if not isinstance(client, ClientConfig):
        return ()
    facts = []
    for rule in client.budgets:
        if rule.hard_usd is None or rule.scope not in ("global", "user", "feature"):
            continue
        if rule.scope != "global" and rule.entity == "*":
            continue  # "each user separately": the judge checks named entities and the global cap
        facts.append(BudgetFact(rule.scope, rule.hard_usd, None if rule.scope == "global" else rule.entity))
    return tuple(facts)


def run_facts(
    scenario: Scenario,
    stats: DriveStats,
    *,
    mode: str,
    wall_s: float,
    schedule_origin: float,
    extra: dict[str, float] | None = None,
    loop_lag_max_s: float | None = None,
    cache_baseline: CacheBaseline | None = None,
) -> RunFacts:
    """The facts of a finished run (``schedule_origin``: when the provider's fault clock started;
    ``loop_lag_max_s``: the event loop's worst measured lag, real time only)."""
    client = scenario.client
    if isinstance(client, SDKClientSpec):
        cap: float | None = client.backoff_cap_s
        retry_budget = None
        max_attempts: int | None = client.max_attempts
        jitter = "sdk"
    else:
        cap_value = getattr(client.retry.backoff, "cap", None)
        cap = float(cap_value) if isinstance(cap_value, int | float) and math.isfinite(cap_value) else None
        rb = client.retry_budget
        retry_budget = None if rb is None else RetryBudgetFact(rb.ratio, rb.reserve)
        max_attempts = client.retry.max_attempts
        jitter = type(client.retry.backoff).__name__
    return RunFacts(
        scenario=scenario.name,
        seed=scenario.seed,
        mode=mode,
        t0=stats.t0,
        t_end=stats.t_end,
        wall_s=wall_s,
        issued_ids=tuple(stats.issued_ids),
        outages=tuple(outage_windows(scenario.faults.specs, schedule_origin, scenario.duration_s)),
        backoff_cap_s=cap,
        limits=_limit_facts(scenario),
        budgets=_budget_facts(client),
        retry_budget=retry_budget,
        max_attempts=max_attempts,
        jitter=jitter,
        extra=dict(extra or {}),
        loop_lag_max_s=loop_lag_max_s,
        questions=dict(stats.questions),
        cache_baseline=cache_baseline,
    )
