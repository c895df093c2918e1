"""Running a scenario end to end: provider, client, load, then the judge.

* **virtual** (default): everything in one process on :class:`harness.vtime.VirtualTimeLoop`; the client
  reaches the provider core through an in-memory transport; the wall clock seen by both sides is
  ``VIRTUAL_EPOCH + loop.time()``, so the same scenario and seed give the same logs and the same
  ``summary.json`` (only ``wall_s`` differs).
* **real-time**: the fake provider is started in-process on 127.0.0.1 (or ``provider_url`` points at one
  already running, started with ``harness serve --scenario`` the same file), the client talks over
  sockets, time is real.

Example::

    result = run_scenario(load_scenario("scenarios/outage_recovery.toml"))
    write_report(result, Path("reports/outage_recovery"))
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from fake_provider.app import start as start_server
from fake_provider.core import ProviderCore
from harness.client import ClientConfig
from harness.control_api import CONTROL_TOKEN_ENV, control_headers
from harness.errors import ConfigError
from harness.judge import evaluate_gates
from harness.judge.facts import CacheBaseline
from harness.judge.metrics import judge_logs
from harness.records import OutcomeRecord, PackedRecords, ProviderRecord, load_jsonl
from harness.report.result import ClientEvent, RunResult
from harness.runner.cache_baseline import baseline_of, wants_cache_baseline, without_semantic_cache
from harness.runner.clients import build_client
from harness.runner.driver import DriveStats, Progress, drive
from harness.runner.facts import fault_windows, run_facts
from harness.runner.loop_lag import LoopLagProbe
from harness.runner.workload import Workload
from harness.scenario.app_spec import AppClientSpec
from harness.scenario.model import Scenario
from harness.scenario.sdk_spec import SDK_APIS
from harness.vtime import run as run_virtual

__all__ = [
    "MODES",
    "VIRTUAL_EPOCH",
    "RunOptions",
    "comparison_storm",
    "judged_result",
    "run_cache_baseline",
    "run_comparison",
    "run_scenario",
]

MODES = ("virtual", "real-time")
#: Unix time that virtual runs start at (a fixed date, so logs are reproducible byte for byte)
VIRTUAL_EPOCH = 1_800_000_000.0


@dataclass(frozen=True)
class RunOptions:
    """How to run a scenario."""

    mode: str = "virtual"  # "virtual" or "real-time"
    provider_url: str | None = None  # real-time only: a running fake provider to use instead of our own
    on_progress: Callable[[Progress], None] | None = None  # called once per simulated second
    state_probe: Callable[[Callable[[], str]], None] | None = None  # receives the client's state() getter
    #: with a semantic cache: also run the scenario without it (virtual time, same seed) for exact savings
    cache_baseline: bool = True


def run_scenario(scenario: Scenario, options: RunOptions | None = None) -> RunResult:
    """Run the scenario and judge it (no files are written; see :func:`harness.report.write_report`)."""
    options = options or RunOptions()
    if options.mode not in MODES:
        raise ValueError(f"mode: expected one of {MODES}, got {options.mode!r}")
    started = time.perf_counter()
    with collector_for_simulation():
        if options.mode == "virtual":
            finished = run_virtual(_run(scenario, options))
        else:
            finished = asyncio.run(_run(scenario, options))
        gc.collect()  # the run's objects in reference cycles, before the judge allocates
    wall_s = time.perf_counter() - started
    baseline = run_cache_baseline(scenario) if options.cache_baseline else None
    # judged after the run is over: the provider, the client and the loop are gone, only their logs remain
    return judged_result(scenario, mode=options.mode, wall_s=wall_s, cache_baseline=baseline, **finished)


def run_cache_baseline(scenario: Scenario, *, keep_redis: bool = True) -> CacheBaseline | None:
    """The scenario and seed without the client's semantic cache, run in virtual time; None without a cache.

    The judge's ``semantic_cache_savings_usd`` is the difference of the two bills
    (:mod:`harness.runner.cache_baseline` says why the baseline is always virtual); ``keep_redis``:
    see :func:`~harness.runner.cache_baseline.without_semantic_cache`.
    """
    if not wants_cache_baseline(scenario):
        return None
    off = without_semantic_cache(scenario, keep_redis=keep_redis)
    result = run_scenario(off, RunOptions(mode="virtual", cache_baseline=False))
    return baseline_of(result, scenario.seed)


#: young-generation threshold during a simulation (CPython's default is 700 allocations)
SIMULATION_GC_THRESHOLD = 10_000


@contextlib.contextmanager
def collector_for_simulation() -> Iterator[None]:
    """The cyclic garbage collector tuned for a run (virtual or real time), restored afterwards.

    A simulation allocates fast and almost nothing it allocates is cyclic garbage: with the default
    threshold (a young collection every 700 net allocations) the collector took 5% of a 500-user storm
    and more as the run grew. Here: what existed before the run (modules, the scenario, the caller's
    objects) is frozen, so no collection walks it, and young collections come every 10,000
    allocations (cycles are still collected, only in larger batches). Neither changes a result.

    In real time it also shortens the pauses: a collection stops the one event loop that a run's
    client instances (and its fake provider) share, and every timer due meanwhile fires in the turn
    after it. In outage_recovery (a thousand instances) the default thresholds stopped the loop for up
    to 1.3 s, and the retries of that second reached the provider as one herd (docs/scenarios.md).
    """
    thresholds = gc.get_threshold()
    frozen = gc.get_freeze_count() > 0  # a caller froze already: leave their freeze alone
    if not frozen and gc.isenabled():
        gc.collect()
        gc.freeze()
    gc.set_threshold(max(thresholds[0], SIMULATION_GC_THRESHOLD), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        if not frozen:
            gc.unfreeze()


def run_comparison(scenario: Scenario, options: RunOptions | None = None) -> list[RunResult]:
    """The scenario's client, then every ``[[compare_with]]`` client, each through the same storm.

    When the load names no model, every client is sent the primary client's default model, so the
    comparison is of clients, not of models.
    """
    scenario = comparison_storm(scenario)
    return [run_scenario(scenario.with_client(c), options) for c in (scenario.client, *scenario.compare_with)]


def comparison_storm(scenario: Scenario) -> Scenario:
    """The scenario as each client of its comparison runs it (the primary client's model, when the load
    names none); ``run_scenario(comparison_storm(s))`` is the run the gates judge."""
    if scenario.compare_with and not scenario.load.models:
        scenario = replace(scenario, load=replace(scenario.load, models=((_default_model(scenario), 1.0),)))
    return scenario


def _default_model(scenario: Scenario) -> str:
    """The model requests use when the load names none: the client's first, or the SDK's API's first."""
    client = scenario.client
    if isinstance(client, ClientConfig):
        return client.models[0].name
    # LiteLLM speaks every API: an OpenAI model first, else any; an app the API it says it speaks
    api = client.api if isinstance(client, AppClientSpec) else SDK_APIS.get(client.kind)
    chat = [m for m in scenario.provider.models if m.kind != "embedding"]
    candidates = [m for m in chat if m.api == (api or "openai")] or ([] if api else chat)
    if not candidates:
        raise ConfigError("provider.models", f"no {api + ' ' if api else ''}chat model for the {client.kind} client")
    return candidates[0].name


def _fetch(url: str, method: str = "GET", body: bytes | None = None) -> bytes:
    headers = {"content-type": "application/json", **control_headers()}  # HARNESS_CONTROL_TOKEN, when set
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            data: bytes = response.read()
            return data
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            what = "refused the control token" if headers.get("authorization") else "requires a control token"
            raise ConfigError("--provider-url", f"the fake provider {what}; set {CONTROL_TOKEN_ENV}") from None
        raise


async def _run(scenario: Scenario, options: RunOptions) -> dict[str, Any]:
    """Run the load; returns :func:`judged_result`'s arguments, the logs packed (the run's objects can go)."""
    loop = asyncio.get_running_loop()
    clock = loop.time
    virtual = options.mode == "virtual"
    wall = (lambda: VIRTUAL_EPOCH + loop.time()) if virtual else time.time
    core: ProviderCore | None = None
    server = None
    remote = None if virtual else options.provider_url
    if remote is None:
        core = ProviderCore(scenario.provider, clock=clock, wall_clock=wall)
    if virtual:
        base_url = "http://fake-provider.invalid"
    elif remote is None:
        assert core is not None
        server, port = await start_server(core, "127.0.0.1", 0)
        base_url = f"http://127.0.0.1:{port}"
    else:
        base_url = remote.rstrip("/")
        await asyncio.to_thread(_fetch, f"{base_url}/_fake/reset", "POST", b"{}")
        faults = json.dumps(scenario.faults.to_dict()).encode()
        await asyncio.to_thread(_fetch, f"{base_url}/_fake/faults", "POST", faults)
    client = build_client(
        scenario, base_url=base_url, core=core if virtual else None, clock=clock, sleep=asyncio.sleep, wall=wall
    )
    if options.state_probe is not None:
        options.state_probe(client.state)
    origin = clock()
    if core is not None:
        core.reset()  # the fault schedule's clock starts with the load
        origin = core.run_started
    default_model = _default_model(scenario)
    workload = Workload(scenario.load, scenario.seed, default_model)
    lag = None if virtual else LoopLagProbe(clock, asyncio.sleep)
    probing = None if lag is None else lag.start()
    try:
        stats = await drive(
            scenario.load,
            workload,
            client,
            duration_s=scenario.duration_s,
            drain_s=scenario.drain_s,
            clock=clock,
            sleep=asyncio.sleep,
            seed=scenario.seed,
            on_progress=options.on_progress,
        )
    finally:
        if probing is not None:
            probing.cancel()
        await client.aclose()
        if server is not None:
            await server.cleanup()
    # the logs packed, never a list of every record as objects. A client whose log is packed already (one
    # reference client) hands its outcomes over packed: its sealed blocks shared, no record built or
    # encoded again. The provider's log is then packed by judged_result as the judge reads it (one pass
    # instead of two; it outlives the run's other objects until then), unless another run comes first
    # (the semantic cache's baseline: this run's logs are packed before it starts)
    packed_outcomes = getattr(client, "packed_outcomes", None)
    later = packed_outcomes is not None and core is not None
    later = later and not (options.cache_baseline and wants_cache_baseline(scenario))
    outcomes = packed_outcomes() if packed_outcomes is not None else PackedRecords(OutcomeRecord, client.outcomes())
    events: list[ClientEvent] = client.events()
    records: Iterable[ProviderRecord]
    ledger: dict[str, Any]
    if core is not None:
        ledger = core.ledger_dict()
        records = core.log if later else PackedRecords(ProviderRecord, core.log)
    else:
        assert remote is not None
        text = (await asyncio.to_thread(_fetch, f"{remote}/_fake/requests")).decode()
        records = PackedRecords(ProviderRecord, load_jsonl(ProviderRecord, text))
        del text
        ledger = json.loads(await asyncio.to_thread(_fetch, f"{remote}/_fake/ledger"))
    extra = {"client_crashes": float(len(stats.crashes)), "cancelled_requests": float(stats.cancelled)}
    return {
        "stats": stats,
        "schedule_origin": origin,
        "records": records,
        "ledger": ledger,
        "outcomes": outcomes,
        "events": events,
        "client_name": client.name,
        "extra": extra,
        "loop_lag_max_s": None if lag is None else lag.max_s,
    }


def judged_result(
    scenario: Scenario,
    stats: DriveStats,
    *,
    mode: str,
    wall_s: float,
    schedule_origin: float,
    records: Iterable[ProviderRecord],
    ledger: dict[str, Any],
    outcomes: Iterable[OutcomeRecord],
    events: list[ClientEvent],
    client_name: str,
    extra: dict[str, float],
    findings: tuple[str, ...] = (),
    loop_lag_max_s: float | None = None,
    cache_baseline: CacheBaseline | None = None,
) -> RunResult:
    """Judge a finished run from its logs: the seam every runner ends with (this one, the Locust runner).

    ``loop_lag_max_s``: the worst lag of the run's event loop, in real time (:mod:`harness.runner.loop_lag`).
    ``cache_baseline``: the same scenario without its semantic cache (:func:`run_cache_baseline`).
    The logs are kept packed in the result (:class:`~harness.records.PackedRecords`): lists given here
    are packed, so a report of a large run does not hold every record as objects.
    """
    # a log given unpacked is packed as the judge reads it: one pass, and no record rebuilt from its
    # block for the judge (at 1,000 users, reading both packed logs again took a third of the judge's time)
    provider_log = records if isinstance(records, PackedRecords) else PackedRecords(ProviderRecord)
    outcome_log = outcomes if isinstance(outcomes, PackedRecords) else PackedRecords(OutcomeRecord)
    reading = (
        records if records is provider_log else provider_log.packing(records),
        outcomes if outcomes is outcome_log else outcome_log.packing(outcomes),
    )
    records, outcomes = provider_log, outcome_log
    facts = run_facts(
        scenario, stats, mode=mode, wall_s=wall_s, schedule_origin=schedule_origin, extra=extra,
        loop_lag_max_s=loop_lag_max_s, cache_baseline=cache_baseline,
    )  # fmt: skip
    metrics, columns = judge_logs(facts, records, outcomes, events, reading=reading)
    gates = evaluate_gates(scenario.gates, metrics, facts)
    quotas = scenario.provider.quotas
    limits = quotas.limits_for(_default_model(scenario)) if quotas is not None else None
    return RunResult(
        facts=facts,
        metrics=metrics,
        gates=gates,
        provider_records=records,
        outcomes=outcomes,
        events=events,
        description=scenario.description,
        client=client_name,
        ledger=ledger,
        fault_windows=fault_windows(scenario.faults.specs, schedule_origin, scenario.duration_s),
        quota_tpm=None if limits is None else (limits.tpm or limits.itpm),
        quota_rpm=None if limits is None else limits.rpm,
        findings=findings,
        columns=columns,
    )
