"""Benchmark: the reference client's overhead, against raw aiohttp and the openai SDK, in one run.

The clients send the same plain chat completion (gpt-4o-mini, max_tokens 16) at 64 concurrent
requests to the same fake provider (``python -m fake_provider``, its own process):

* ``raw``: a bare ``aiohttp.ClientSession`` (its defaults) that builds the request's JSON with
  ``json.dumps`` and decodes the answer with ``json.loads``: what minimal user code does, and the
  baseline the ratios are against (honest, not a strawman: it does the work every client must do);
* ``raw_prepared``: the same session posting prepared bytes and reading the body without decoding it
  (the floor of aiohttp itself; reported for reference, not a baseline);
* ``reference``: :class:`harness.client.ResilientClient` with every policy on — rate limiter (limits
  far above the load, so it admits everything but does all its bookkeeping), circuit breaker, retry
  policy with a retry budget, adaptive throttling, a hard budget, the cost tracker, deadlines, and
  the outcome log keeping every record; coalescing and the cache stay off (the requests are
  identical: either would answer without sending);
* ``openai``: the official SDK's ``AsyncOpenAI`` (its own retries on, its default pool).

Each client runs in its own process, one after the other, round after round (so all of them see the
same background load); the table shows the median requests/s of each, the median client CPU per
request, and the ratios to ``raw``. The machine is shared and noisy: the per-round ratios (each
client against the raw client of the same round) are reported too.

    .venv/bin/python bench/client_overhead.py                 # a table (3 rounds of 5 s)
    .venv/bin/python bench/client_overhead.py --json          # {"raw_rps", "reference_rps", "openai_rps", ...}
    .venv/bin/python bench/client_overhead.py --breakdown     # also the client stack alone, policy by policy

Target: reference ≥ 0.8 × raw.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import Any, ClassVar

from harness.testing.process import listening_process

#: run as ``python -m`` for the helper processes (a server, a load generator), not by file path
_MODULE = "harness.bench.client_overhead"

CONCURRENCY = 64
KEY = "sk-bench"
MODEL = "gpt-4o-mini"
PROMPT = "Say something short."
MAX_TOKENS = 16
CLIENTS = ("raw", "raw_prepared", "reference", "openai")


def fake_provider() -> AbstractContextManager[int]:
    """``python -m fake_provider`` on a free loopback port, until the block ends."""
    return listening_process([sys.executable, "-m", "fake_provider", "--port", "0", "--seed", "1", "--api-key", KEY])


async def _drive(one: Callable[[], Awaitable[None]], seconds: float) -> tuple[float, float]:
    """``CONCURRENCY`` workers calling ``one`` until the time is up: (requests per second, CPU µs per request).

    CPU time is this process's (user + system): what one request costs the client, whatever else runs.
    """
    done = 0
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done
        while time.monotonic() < deadline:
            await one()
            done += 1

    start, cpu = time.monotonic(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return done / (time.monotonic() - start), (time.process_time() - cpu) / max(done, 1) * 1e6


def _payload() -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": MAX_TOKENS}


async def _raw(port: int, seconds: float, prepared: bool = False) -> tuple[float, float]:
    import aiohttp

    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    body = json.dumps(_payload()).encode()
    headers = {"content-type": "application/json", "authorization": f"Bearer {KEY}"}
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> None:  # minimal user code: build the JSON, post it, decode the answer
            async with session.post(url, data=json.dumps(_payload()).encode(), headers=headers) as response:
                answer = json.loads(await response.read())
                if response.status != 200 or not answer["choices"]:
                    raise RuntimeError(f"status {response.status}")

        async def one_prepared() -> None:  # the floor: prepared bytes, the body read but not decoded
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"status {response.status}")

        run = one_prepared if prepared else one
        await _drive(run, min(1.0, seconds))  # warm-up: connections, caches
        return await _drive(run, seconds)


def reference_config(port: int) -> Any:
    """The reference client with every policy on (limits far above the load: full bookkeeping, no waits)."""
    from decimal import Decimal

    from harness.client import (
        BreakerConfig,
        BudgetRule,
        ClientConfig,
        LimitConfig,
        ModelSpec,
        RetryBudgetConfig,
        RetryConfig,
        ThrottleConfig,
        Timeouts,
    )

    return ClientConfig(
        models=(ModelSpec(MODEL, "openai", base_url=f"http://127.0.0.1:{port}", api_keys=(KEY,)),),
        retry=RetryConfig(max_attempts=3),
        retry_budget=RetryBudgetConfig(ratio=0.1, reserve=10),
        throttle=ThrottleConfig(k=2, window_s=120),
        breaker=BreakerConfig(),
        limits=LimitConfig(rpm=100_000_000, tpm=10_000_000_000),
        budgets=(BudgetRule("global", "*", "day", "rolling", Decimal("1000000"), Decimal("2000000")),),
        timeouts=Timeouts(connect_s=5, first_token_s=30, stall_s=30, attempt_s=60, total_s=120),
    )


async def _reference(port: int, seconds: float) -> tuple[float, float]:
    from harness.client import ChatRequest, Message, ResilientClient

    request = ChatRequest(MODEL, (Message("user", PROMPT),), max_tokens=MAX_TOKENS, user="bench", feature="bench")
    async with ResilientClient(reference_config(port)) as client:

        async def one() -> None:
            await client.chat(request)

        await _drive(one, min(1.0, seconds))
        result = await _drive(one, seconds)
        failed = [o for o in client.log.records if not o.ok]
        if failed:
            raise RuntimeError(f"{len(failed)} reference requests failed, e.g. {failed[0].status}: {failed[0].error}")
        return result


async def _openai(port: int, seconds: float) -> tuple[float, float]:
    import openai

    client = openai.AsyncOpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY, max_retries=2)
    messages: Any = [{"role": "user", "content": PROMPT}]
    try:

        async def one() -> None:
            await client.chat.completions.create(model=MODEL, messages=messages, max_tokens=MAX_TOKENS)

        await _drive(one, min(1.0, seconds))
        return await _drive(one, seconds)
    finally:
        await client.close()


def _measure_here(kind: str, port: int, seconds: float) -> tuple[float, float]:
    if kind == "raw_prepared":
        return asyncio.run(_raw(port, seconds, prepared=True))
    runs = {"raw": _raw, "reference": _reference, "openai": _openai}
    return asyncio.run(runs[kind](port, seconds))


def measure(kind: str, port: int, seconds: float) -> tuple[float, float]:
    """One measurement of ``kind`` in a fresh process: (requests/s, client CPU µs per request)."""
    command = [sys.executable, "-m", _MODULE, "--_client", kind, str(port), str(seconds)]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds * 3 + 120)
    if out.returncode != 0:
        raise RuntimeError(f"{kind} failed: {out.stderr[-2000:]}")
    rps, cpu = out.stdout.strip().splitlines()[-1].split()
    return float(rps), float(cpu)


def bench(seconds: float, rounds: int, clients: tuple[str, ...] = CLIENTS) -> dict[str, Any]:
    """``rounds`` rounds of each client in turn; medians, ratios to ``raw`` (which always runs)."""
    clients = ("raw", *(k for k in clients if k != "raw"))
    rps: dict[str, list[float]] = {kind: [] for kind in clients}
    cpu: dict[str, list[float]] = {kind: [] for kind in clients}
    with fake_provider() as port:
        for _ in range(rounds):
            for kind in clients:
                r, c = measure(kind, port, seconds)
                rps[kind].append(r)
                cpu[kind].append(c)
    med = {kind: statistics.median(values) for kind, values in rps.items()}
    per_request = {kind: statistics.median(values) for kind, values in cpu.items()}
    result: dict[str, Any] = {}
    for kind in clients:
        result[f"{kind}_rps"] = round(med[kind], 1)
    for kind in clients:
        if kind != "raw":
            result[f"{kind}_ratio"] = round(med[kind] / med["raw"], 3)
    if "reference" in clients:
        # the same ratio per round (the clients ran back to back under the same background load)
        round_ratios = [rps["reference"][i] / rps["raw"][i] for i in range(rounds)]
        result["reference_ratio_per_round_median"] = round(statistics.median(round_ratios), 3)
        result["reference_ratio_per_round"] = [round(r, 3) for r in round_ratios]
    # client CPU per request: raw / reference is the throughput ratio a CPU-bound client would reach
    for kind in clients:
        result[f"{kind}_cpu_us"] = round(per_request[kind], 1)
    if "reference" in clients:
        result["reference_cpu_ratio"] = round(per_request["raw"] / per_request["reference"], 3)
    result.update(
        concurrency=CONCURRENCY,
        seconds=seconds,
        rounds=rounds,
        samples_rps={k: [round(v, 1) for v in vs] for k, vs in rps.items()},
        samples_cpu_us={k: [round(v, 1) for v in vs] for k, vs in cpu.items()},
    )
    return result


# ------------------------------------------------------------------------------------------ breakdown
def breakdown(requests: int = 40_000) -> dict[str, float]:
    """µs of client CPU per request with no network at all, every policy on, then with each one off:
    where the overhead goes.

    A transport answers with the fake provider's own body after yielding to the loop once, and
    ``CONCURRENCY`` tasks share the requests, so the attempts overlap as they do over sockets (one
    deadline timer for all of them, the same in-flight population for the garbage collector). The
    same tasks driving the transport alone (``"the transport alone"``) are the harness's own cost,
    subtracted from every other line.
    """
    import dataclasses

    from harness.client import ChatRequest, LimitConfig, Message, ResilientClient, Timeouts

    body = fetch_body()

    class Instant:
        """Answers every request with a recorded chat completion, after yielding once."""

        status = 200
        headers: ClassVar[dict[str, str]] = {"x-request-id": "req_1", "content-type": "application/json"}

        async def send(self, request: object) -> Instant:
            await asyncio.sleep(0)
            return self

        async def read(self) -> bytes:
            return body

        async def aclose(self) -> None:
            pass

    full = reference_config(1)
    variants: dict[str, Any] = {
        "every policy on": full,
        "without the limiter's limits": dataclasses.replace(full, limits=LimitConfig()),
        "without the breaker": dataclasses.replace(full, breaker=None),
        "without budgets": dataclasses.replace(full, budgets=()),
        "without adaptive throttling": dataclasses.replace(full, throttle=None),
        "without the retry budget": dataclasses.replace(full, retry_budget=None),
        "without deadlines": dataclasses.replace(full, timeouts=Timeouts(None, None, None, None, None)),
    }
    variants["no policy, no deadline"] = dataclasses.replace(
        full, limits=LimitConfig(), breaker=None, budgets=(), throttle=None, retry_budget=None,
        timeouts=Timeouts(None, None, None, None, None),
    )  # fmt: skip
    request = ChatRequest(MODEL, (Message("user", PROMPT),), max_tokens=MAX_TOKENS, user="bench", feature="bench")

    async def run(config: Any) -> float:
        transport = Instant()
        client = None if config is None else ResilientClient(config, transport=transport)  # type: ignore[arg-type]

        async def one() -> None:
            if client is None:  # the transport alone: the harness's own share
                response = await transport.send(None)
                await response.read()
                await response.aclose()
            else:
                await client.chat(request)

        async def share(n: int) -> None:
            left = n

            async def worker() -> None:
                nonlocal left
                while left > 0:
                    left -= 1
                    await one()

            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))

        await share(2_000)
        start = time.process_time()
        await share(requests)
        return (time.process_time() - start) / requests * 1e6

    alone = asyncio.run(run(None))
    out = {"the transport alone": round(alone, 1)}
    out.update({name: round(asyncio.run(run(config)) - alone, 1) for name, config in variants.items()})
    return out


def fetch_body() -> bytes:
    """One plain completion from the fake provider core (no server needed)."""
    from fake_provider import ProviderConfig, ProviderCore, ProviderRequest
    from fake_provider.plan import Delivery

    core = ProviderCore(ProviderConfig())
    payload = {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": MAX_TOKENS}
    headers = {"authorization": f"Bearer {KEY}"}
    exchange = core.handle(ProviderRequest("POST", "/v1/chat/completions", "", headers, json.dumps(payload).encode()))
    exchange.finish(Delivery(status=200))
    return bytes(exchange.plan.body)


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["--_client"]:
        rps, cpu_us = _measure_here(args_in[1], int(args_in[2]), float(args_in[3]))
        print(rps, cpu_us, flush=True)
        return 0
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each measurement (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; medians are reported (default 3)")
    parser.add_argument(
        "--breakdown", action="store_true", help="also measure the client stack alone (no network), policy by policy"
    )
    parser.add_argument(
        "--clients", default=",".join(CLIENTS), help=f"comma-separated subset of {','.join(CLIENTS)} (raw always runs)"
    )
    args = parser.parse_args(args_in)
    clients = tuple(k.strip() for k in args.clients.split(",") if k.strip())
    unknown = sorted(set(clients) - set(CLIENTS))
    if unknown:
        parser.error(f"--clients: unknown {unknown}; expected some of {','.join(CLIENTS)}")
    if args.seconds <= 0:
        parser.error("--seconds: expected a positive number")
    if args.rounds < 1:
        parser.error("--rounds: expected a whole number ≥ 1")
    result = bench(args.seconds, args.rounds, clients)
    if args.breakdown:
        result["breakdown_cpu_us"] = breakdown()
    if args.json:
        print(json.dumps(result))
        return 0
    r = result
    print(f"{CONCURRENCY} concurrent plain chat completions, {args.seconds:g} s each, median of {args.rounds} rounds")
    labels = {
        "raw": ("raw aiohttp", "the baseline: json.dumps, post, json.loads"),
        "raw_prepared": ("raw, prepared", "prepared bytes, no decoding: aiohttp's floor"),
        "reference": ("reference client", "every policy on; target ≥ 0.8 × raw"),
        "openai": ("openai AsyncOpenAI", "retries on"),
    }
    for kind, (label, note) in labels.items():
        if f"{kind}_rps" not in r:
            continue
        ratio = "" if kind == "raw" else f"   {r[f'{kind}_ratio']:.3f} × raw"
        rate, cpu = r[f"{kind}_rps"], r[f"{kind}_cpu_us"]
        print(f"  {label:18s} {rate:>10,.0f} req/s   {cpu:>7.1f} µs CPU/request{ratio}   ({note})")
    if "reference_rps" in r:
        print(
            f"  reference per round: {r['reference_ratio_per_round']} × raw; CPU ratio {r['reference_cpu_ratio']:.3f}"
        )
    if args.breakdown:
        print("the client stack alone, no network (µs of CPU per request):")
        for name, us in r["breakdown_cpu_us"].items():
            print(f"  {name:32s} {us:7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
