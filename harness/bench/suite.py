"""``harness bench``: the performance suite, each contender measured beside its baseline in the same run.

Five measurements, each reported as a ratio (or a cost per step) taken side by side, in one run, on
this machine, with the machine's load noted before and after (a ratio is meaningful under load; an
absolute number is not):

* **provider** — the fake provider (request log, ledger, metrics on) against a bare aiohttp handler
  returning the same bytes: plain requests per second and SSE events per second
  (:mod:`harness.bench.provider_throughput`);
* **client** — the reference client with every policy on, and the openai SDK when installed, against
  raw aiohttp, all calling the same fake provider (:mod:`harness.bench.client_overhead`);
* **policies** — µs per request for one limiter acquire + breaker check + cost settle, and for the
  whole cycle with budgets (:mod:`harness.bench.policies`; in memory, and in Redis with ``--redis``);
* **virtual time** — simulated seconds per wall second for ``scenarios/outage_recovery.toml``, and
  for ten minutes of 200 users without ``--quick`` (:mod:`harness.bench.virtual_time`);
* **backoff** — the AWS backoff simulation with this client's strategies, calls and completion time
  against AWS's own numbers (:mod:`harness.bench.backoff_simulation`).

``--quick`` shortens every measurement (one round of one second; fewer simulation runs) so the
whole suite fits a CI job; its ratios are noisier, not different. Medians of several rounds otherwise.
"""

from __future__ import annotations

import importlib.util
import math
import os
import shutil
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SECTIONS", "BenchOptions", "Ratio", "machine_load", "run_suite"]


@dataclass(frozen=True)
class BenchOptions:
    """How long to measure."""

    quick: bool = False
    redis_url: str | None = None  # also time the Redis policies against this Redis
    sections: tuple[str, ...] = ()  # empty: all

    @property
    def seconds(self) -> float:  # per throughput measurement
        return 1.0 if self.quick else 5.0

    @property
    def rounds(self) -> int:  # alternating rounds; medians reported
        return 1 if self.quick else 3


@dataclass(frozen=True)
class Ratio:
    """One number of the suite, with what it compares."""

    name: str
    value: float
    unit: str  # "x" for a ratio, "µs" for a cost
    contender: str
    baseline: str
    reading: str  # how to read it, one line

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "unit": self.unit,
            "contender": self.contender,
            "baseline": self.baseline,
            "reading": self.reading,
        }


@dataclass
class SectionResult:
    name: str
    ratios: list[Ratio] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0
    skipped: str | None = None  # why the section did not run


def machine_load() -> dict[str, Any]:
    """The load average and the number of CPUs, to print beside the numbers they colour."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:  # pragma: no cover - not on Linux
        one = five = fifteen = math.nan
    cpus = os.cpu_count() or 1
    return {
        "cpus": cpus,
        "load_1m": round(one, 2),
        "load_5m": round(five, 2),
        "load_15m": round(fifteen, 2),
        "load_per_cpu": round(one / cpus, 2),
    }


def _provider(options: BenchOptions) -> SectionResult:
    from harness.bench import provider_throughput

    wrk = shutil.which("wrk") is not None
    raw = provider_throughput.bench(options.seconds, wrk, options.rounds)
    generator = f"load by {raw['load_generator']}, {raw['connections']} connections"
    return SectionResult(
        "provider",
        [
            Ratio(
                "provider_plain",
                raw["ratio"],
                "x",
                f"fake provider {raw['fake_rps']:,.0f} req/s",
                f"bare aiohttp {raw['bare_rps']:,.0f} req/s",
                f"requests per second of the fake provider over a bare handler ({generator}); target ≥ 0.5",
            ),
            Ratio(
                "provider_stream",
                raw["stream_ratio"],
                "x",
                f"fake provider {raw['fake_chunks_per_s']:,.0f} events/s",
                f"bare aiohttp {raw['bare_chunks_per_s']:,.0f} events/s",
                "SSE events per second of the fake provider's streams over a bare writer; target ≥ 0.5",
            ),
        ],
        raw,
    )


def _client(options: BenchOptions) -> SectionResult:
    from harness.bench import client_overhead

    kinds = ("raw", "reference") + (("openai",) if importlib.util.find_spec("openai") is not None else ())
    raw = client_overhead.bench(options.seconds, options.rounds, kinds)
    ratios = [
        Ratio(
            "client_reference",
            raw["reference_ratio"],
            "x",
            f"reference client {raw['reference_rps']:,.0f} req/s",
            f"raw aiohttp {raw['raw_rps']:,.0f} req/s",
            "throughput of the reference client (every policy on) over raw aiohttp at 64 concurrent requests",
        ),
        Ratio(
            "client_reference_cpu",
            raw["reference_cpu_ratio"],
            "x",
            f"reference client {raw['reference_cpu_us']:,.0f} µs CPU/request",
            f"raw aiohttp {raw['raw_cpu_us']:,.0f} µs CPU/request",
            "raw aiohttp's client CPU per request over the reference client's: the ratio a CPU-bound caller sees",
        ),
    ]
    if "openai_ratio" in raw:
        ratios.append(
            Ratio(
                "client_openai_sdk",
                raw["openai_ratio"],
                "x",
                f"openai SDK {raw['openai_rps']:,.0f} req/s",
                f"raw aiohttp {raw['raw_rps']:,.0f} req/s",
                "throughput of the official openai SDK over raw aiohttp, for comparison",
            )
        )
    return SectionResult("client", ratios, raw)


def _policies(options: BenchOptions) -> SectionResult:
    import asyncio

    from harness.bench import policies

    n = 5_000 if options.quick else 20_000
    memory = policies.bench_memory(n)
    raw: dict[str, Any] = {"memory": memory}
    ratios = [
        Ratio(
            "policy_step_us",
            memory["core_us"],
            "µs",
            "limiter acquire + breaker check + cost settle",
            "—",
            "in-memory cost of the three policy steps on every request; target < 20 µs",
        ),
        Ratio(
            "policy_cycle_us",
            memory["full_cycle_us"],
            "µs",
            "the whole cycle, budgets and settles included",
            "—",
            "in-memory cost of every policy step of one request",
        ),
    ]
    if options.redis_url:
        redis = asyncio.run(policies.bench_redis(options.redis_url, max(1, n // 10)))
        raw["redis"] = redis
        ratios.append(
            Ratio(
                "policy_redis_round_trips",
                redis["per_request_us"] / redis["ping_us"],
                "x",
                f"Redis policies {redis['per_request_us']:,.0f} µs/request",
                f"one PING {redis['ping_us']:,.0f} µs",
                "the Redis policies' time per request in round trips (each step is one Lua script)",
            )
        )
    return SectionResult("policies", ratios, raw)


def _virtual_time(options: BenchOptions) -> SectionResult:
    from harness.bench import virtual_time

    root = virtual_time.ROOT
    outage_path = root / "scenarios" / "outage_recovery.toml"
    if not outage_path.is_file():
        return SectionResult("virtual time", skipped=f"{outage_path} not found (run from a checkout)")
    runs = 1 if options.quick else 3
    outage = virtual_time.measure(outage_path, runs)
    ratios = [
        Ratio(
            "vtime_outage_recovery",
            outage["speedup"],
            "x",
            f"{outage['simulated_s']:,.1f} s simulated",
            f"{outage['wall_s']:,.2f} s wall",
            "outage_recovery (1000 clients, 20 s outage) in virtual time: simulated seconds per wall second",
        ),
    ]
    raw: dict[str, Any] = {"outage_recovery": outage}
    day_path = root / "bench" / "scenarios" / "ten_minutes_200_users.toml"
    if not options.quick and day_path.is_file():
        day = virtual_time.measure(day_path, runs)
        raw["ten_minutes_200_users"] = day
        ratios.append(
            Ratio(
                "vtime_ten_minutes",
                day["speedup"],
                "x",
                f"{day['simulated_s']:,.0f} s simulated",
                f"{day['wall_s']:,.1f} s wall",
                "ten minutes of 200 users with a brownout: simulated seconds per wall second; target ≥ 50",
            )
        )
    return SectionResult("virtual time", ratios, raw)


def _backoff(options: BenchOptions) -> SectionResult:
    from harness.bench import backoff_simulation

    runs, repeats = (5, 1) if options.quick else (100, 5)
    ratios: list[Ratio] = []
    raw: dict[str, Any] = {}
    for name in backoff_simulation.STRATEGIES:
        means = [backoff_simulation.simulate(name, runs=runs, seed=r) for r in range(repeats)]
        calls = statistics.fmean(m[0] for m in means)
        seconds = statistics.fmean(m[1] for m in means)
        ref_calls, ref_s = backoff_simulation.REFERENCE[name]
        raw[name] = {
            "calls": round(calls, 1),
            "completion_s": round(seconds, 3),
            "reference_calls": ref_calls,
            "reference_completion_s": ref_s,
        }
        ratios.append(
            Ratio(
                f"backoff_{name}_calls",
                round(calls / ref_calls, 3),
                "x",
                f"{calls:,.0f} calls",
                f"AWS {ref_calls:,} calls",
                "calls over AWS's simulator's (1.0: the same)",
            )
        )
        ratios.append(
            Ratio(
                f"backoff_{name}_time",
                round(seconds / ref_s, 3),
                "x",
                f"{seconds:,.2f} s",
                f"AWS {ref_s:g} s",
                "time to finish over AWS's simulator's",
            )
        )
    raw.update(runs=runs, repeats=repeats, clients=100)
    return SectionResult("backoff", ratios, raw)


#: the suite, in order: (name, function)
SECTIONS: tuple[tuple[str, Callable[[BenchOptions], SectionResult]], ...] = (
    ("provider", _provider),
    ("client", _client),
    ("policies", _policies),
    ("virtual-time", _virtual_time),
    ("backoff", _backoff),
)


def run_suite(options: BenchOptions, on_section: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Every section (or ``options.sections``), one after the other; the JSON document ``--json`` prints."""
    before = machine_load()
    started = time.perf_counter()
    sections: list[SectionResult] = []
    for name, run in SECTIONS:
        if options.sections and name not in options.sections:
            continue
        if on_section is not None:
            on_section(name)
        t0 = time.perf_counter()
        result = run(options)
        result.wall_s = round(time.perf_counter() - t0, 2)
        sections.append(result)
    return {
        "quick": options.quick,
        "seconds_per_measurement": options.seconds,
        "rounds": options.rounds,
        "machine": {"before": before, "after": machine_load()},
        "wall_s": round(time.perf_counter() - started, 2),
        "ratios": {r.name: r.to_dict() for s in sections for r in s.ratios},
        "sections": {s.name: {"wall_s": s.wall_s, "skipped": s.skipped, "raw": s.raw} for s in sections},
        "repository": str(Path(__file__).resolve().parents[2]),
    }
