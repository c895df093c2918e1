"""The semantic cache's baseline: the same scenario and seed again with the cache off, in virtual time.

"What did the cache save?" has an exact answer only against the same run without it. A virtual run is
deterministic per seed, so running the scenario a second time with ``[client.semantic_cache]``
removed gives the same storm (the same arrivals, questions and fault windows), request for
request; the two bills' difference is what the cache saved, retries it spared included.

The baseline always runs in virtual time, whatever the measured run's mode: a second run over sockets
or under Locust would take as long as the first (a minute for the shipped scenario), while a virtual one
takes a few CPU seconds. For a run over sockets or under Locust the savings are then the measured
bill against the simulated bill of the same scenario and seed (:class:`~harness.judge.facts.CacheBaseline`
says ``mode = "virtual"``, and the report says so).

Example::

    baseline = run_cache_baseline(scenario)     # harness.runner.run: None when there is no cache
    baseline.cost_provider_usd                  # Decimal('0.02266'): the bill without the cache
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from harness.client import ClientConfig
from harness.judge.facts import CacheBaseline
from harness.report.result import RunResult
from harness.scenario.model import Scenario

__all__ = ["baseline_of", "wants_cache_baseline", "without_semantic_cache"]


def wants_cache_baseline(scenario: Scenario) -> bool:
    """Whether the scenario's client has a semantic cache switched on (a baseline is then worth running)."""
    client = scenario.client
    return isinstance(client, ClientConfig) and client.semantic_cache is not None


def without_semantic_cache(scenario: Scenario, *, keep_redis: bool = True) -> Scenario:
    """The same scenario with the client's ``[client.semantic_cache]`` removed (everything else kept).

    ``keep_redis=False`` also removes ``[client.redis]``: for a baseline of a run whose processes shared
    state through Redis, replayed in one process (where the client's own state is that shared state)."""
    client = scenario.client
    if not isinstance(client, ClientConfig):
        return scenario
    return replace(scenario, client=replace(client, semantic_cache=None, redis=client.redis if keep_redis else None))


def baseline_of(result: RunResult, seed: int) -> CacheBaseline:
    """The numbers of ``result``, a virtual run of the scenario without its cache, as the judge takes them."""
    m = result.metrics
    return CacheBaseline(
        mode=result.facts.mode,
        seed=seed,
        requests_logical=_int(m["requests_logical"]),
        attempts=_int(m["attempts"]),
        success_rate=_float(m["success_rate"]),
        cost_provider_usd=Decimal(str(m["cost_provider_usd"])),
        latency_p50_s=_float(m["latency_p50_s"]),
        latency_p99_s=_float(m["latency_p99_s"]),
    )


def _int(value: object) -> int:
    assert isinstance(value, int)
    return value


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None
