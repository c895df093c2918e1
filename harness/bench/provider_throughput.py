"""Benchmark: the fake provider against a bare aiohttp server, side by side in one run.

Two measurements, each a ratio of the fake provider (request log, ledger and metrics on) to a bare
aiohttp handler doing the least possible on the same machine, in the same run:

* plain: non-streaming chat completions at 64 connections; the bare handler returns a fixed body of
  the same size → ``fake_rps``, ``bare_rps``, ``ratio``;
* streams: SSE events per second for long streamed completions (one event per token); the bare
  writer writes the same number of events of the same size → ``fake_chunks_per_s``,
  ``bare_chunks_per_s``, ``stream_ratio``.

With ``--faults``, a third server runs the same fake provider under a fault schedule and quotas —
a 10% brownout (503s drawn from the seed), RPM and TPM limits on every (key, model) set high enough
never to bind (so every request pays for the sliding-window bookkeeping and the rate-limit headers),
no added latency — and is measured in the same alternating rounds → ``faults_rps`` (all answers,
errors included), ``faults_ok_rps`` (the 200s), ``faults_error_share`` and ``faults_ratio`` =
``faults_rps / fake_rps``.

Every server runs in its own process (``python -m fake_provider`` for the fake one). The load
generator is ``wrk`` (Debian package ``wrk``) when it is on PATH, in its own process; otherwise a
built-in aiohttp load generator, also in its own process (it is slower than wrk, so absolute numbers
are lower and the ratios closer to 1: the generator, not the server, can be the bottleneck).

    .venv/bin/python bench/provider_throughput.py            # prints a table (medians of 3 alternating rounds)
    .venv/bin/python bench/provider_throughput.py --json     # {"fake_rps", "bare_rps", "ratio", ...}
    .venv/bin/python bench/provider_throughput.py --faults   # … and the same provider with faults and quotas on

The server CPU one short stream costs (64 tokens), beside bare aiohttp and Node stream servers, is
measured by :mod:`harness.bench.fake_provider_streams` (``bench/fake_provider_streams.py``).

Targets: ratio ≥ 0.5, stream_ratio ≥ 0.5, and with ``--faults`` faults_ratio ≥ 0.8.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from harness.testing.process import listening_process

#: run as ``python -m`` for the helper processes (a server, a load generator), not by file path
_MODULE = "harness.bench.provider_throughput"

CONNECTIONS = 64
STREAM_CONNECTIONS = 16
STREAM_TOKENS = 1000
KEY = "sk-bench"
PLAIN_BODY = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": "Say something short."}],
    "max_tokens": 16,
}
STREAM_BODY = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": "Tell me a long story."}],
    "max_tokens": STREAM_TOKENS,
    "stream": True,
}
HEADERS = {"content-type": "application/json", "authorization": f"Bearer {KEY}"}
BROWNOUT_P = 0.1
#: the --faults provider: a brownout on every request, and quotas that never bind (but are kept)
FAULTS_SCENARIO = f"""
[provider.quotas]
rpm = 1000000000
tpm = 1000000000000

[[faults]]
kind = "brownout"
always = true
p = {BROWNOUT_P}
status = 503
"""


# --------------------------------------------------------------------------------------------- servers
def bare_server(kind: str, body_file: str, events: int) -> None:
    """A bare aiohttp server: a fixed JSON body, or ``events`` copies of one SSE event."""
    from aiohttp import web

    payload = Path(body_file).read_bytes()

    async def plain(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=payload, content_type="application/json")

    async def sse(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"content-type": "text/event-stream; charset=utf-8"})
        await response.prepare(request)
        for _ in range(events):
            await response.write(payload)
        await response.write_eof()
        return response

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", plain if kind == "json" else sse)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(f"listening on http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def fetch(port: int, body: dict[str, Any]) -> bytes:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/chat/completions", data=json.dumps(body).encode(), headers=HEADERS
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return bytes(response.read())


# --------------------------------------------------------------------------------------------- load
def run_wrk(
    port: int, body: dict[str, Any], connections: int, seconds: float, errors: list[float] | None = None
) -> float:
    """Requests per second; with ``errors`` (a list to append the share of non-2xx answers to), errors are fine."""
    script = (
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(json.dumps(body))}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {KEY}"\n'
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "-s", handle.name,
             f"http://127.0.0.1:{port}/v1/chat/completions"],
            capture_output=True, text=True, check=True, timeout=seconds + 60,
        ).stdout  # fmt: skip
    finally:
        os.unlink(handle.name)
    failed = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if failed is not None and errors is None:
        raise RuntimeError(f"wrk saw error responses:\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if match is None or total is None:
        raise RuntimeError(f"cannot read wrk output:\n{out}")
    if errors is not None:
        errors.append(int(failed.group(1)) / max(1, int(total.group(1))) if failed else 0.0)
    return float(match.group(1))


def load_generator(port: int, body_json: str, connections: int, seconds: float) -> None:
    """The fallback: ``connections`` aiohttp workers posting in a loop; prints requests/s and the error share."""
    import aiohttp

    async def main() -> None:
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        data = body_json.encode()
        done = failed = 0
        deadline = time.monotonic() + seconds

        async def worker(session: aiohttp.ClientSession) -> None:
            nonlocal done, failed
            while time.monotonic() < deadline:
                async with session.post(url, data=data, headers=HEADERS) as response:
                    await response.read()
                    failed += response.status != 200
                done += 1

        connector = aiohttp.TCPConnector(limit=connections)
        async with aiohttp.ClientSession(connector=connector) as session:
            start = time.monotonic()
            await asyncio.gather(*(worker(session) for _ in range(connections)))
            print(done / (time.monotonic() - start), failed / max(1, done), done, flush=True)

    asyncio.run(main())


def run_fallback(
    port: int, body: dict[str, Any], connections: int, seconds: float, errors: list[float] | None = None
) -> float:
    command = [sys.executable, "-m", _MODULE, "--_load", str(port), json.dumps(body), str(connections), str(seconds)]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    rps, share = (float(v) for v in out.strip().splitlines()[-1].split()[:2])
    if share and errors is None:
        raise RuntimeError(f"the load generator saw error responses ({share:.1%})")
    if errors is not None:
        errors.append(share)
    return rps


def measure(
    port: int,
    body: dict[str, Any],
    connections: int,
    seconds: float,
    use_wrk: bool,
    errors: list[float] | None = None,
) -> float:
    run = run_wrk if use_wrk else run_fallback
    run(port, body, connections, min(1.0, seconds), None if errors is None else [])  # warm-up
    return run(port, body, connections, seconds, errors)


# --------------------------------------------------------------------------------------------- main
def bench(seconds: float, use_wrk: bool, rounds: int, faults: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        # every stream runs to max_tokens: a fixed natural length longer than the cap
        models = f'[[provider.models]]\nname = "gpt-4o-mini"\noutput_tokens = {STREAM_TOKENS * 10}\n'
        scenario = Path(tmp, "bench.toml")
        scenario.write_text(models)
        Path(tmp, "faults.toml").write_text(models + FAULTS_SCENARIO)
        fake_cmd = [sys.executable, "-m", "fake_provider", "--port", "0", "--seed", "1", "--api-key", KEY]
        faults_port = None
        if faults:
            faults_cmd = [*fake_cmd, "--scenario", str(Path(tmp, "faults.toml"))]
            faults_port = stack.enter_context(listening_process(faults_cmd))
        with listening_process([*fake_cmd, "--scenario", str(scenario)]) as fake_port:
            plain_sample = fetch(fake_port, PLAIN_BODY)
            stream_sample = fetch(fake_port, STREAM_BODY)
            events = stream_sample.count(b"data: ")
            Path(tmp, "plain.json").write_bytes(plain_sample)
            event = b"data: " + b"x" * max(1, len(stream_sample) // events - 8) + b"\n\n"
            Path(tmp, "event.txt").write_bytes(event)
            bare_json = [sys.executable, "-m", _MODULE, "--_bare", "json", str(Path(tmp, "plain.json")), "0"]
            bare_sse = [sys.executable, "-m", _MODULE, "--_bare", "sse", str(Path(tmp, "event.txt")), str(events)]
            with listening_process(bare_json) as json_port, listening_process(bare_sse) as sse_port:
                # alternate fake and bare, round after round, so both see the same background load
                samples: dict[str, list[float]] = {"fake": [], "bare": [], "fake_stream": [], "bare_stream": []}
                errors: list[float] = []
                for _ in range(rounds):
                    samples["fake"].append(measure(fake_port, PLAIN_BODY, CONNECTIONS, seconds, use_wrk))
                    if faults_port is not None:
                        rps = measure(faults_port, PLAIN_BODY, CONNECTIONS, seconds, use_wrk, errors)
                        samples.setdefault("faults", []).append(rps)
                    samples["bare"].append(measure(json_port, PLAIN_BODY, CONNECTIONS, seconds, use_wrk))
                    samples["fake_stream"].append(measure(fake_port, STREAM_BODY, STREAM_CONNECTIONS, seconds, use_wrk))
                    samples["bare_stream"].append(measure(sse_port, STREAM_BODY, STREAM_CONNECTIONS, seconds, use_wrk))
    fake_rps, bare_rps = statistics.median(samples["fake"]), statistics.median(samples["bare"])
    fake_srps, bare_srps = statistics.median(samples["fake_stream"]), statistics.median(samples["bare_stream"])
    with_faults: dict[str, Any] = {}
    if faults:
        faults_rps, share = statistics.median(samples["faults"]), statistics.median(errors)
        with_faults = {
            "faults_rps": round(faults_rps, 1),
            "faults_ok_rps": round(faults_rps * (1 - share), 1),
            "faults_error_share": round(share, 4),
            "faults_ratio": round(faults_rps / fake_rps, 3),
            "faults_ok_ratio": round(faults_rps * (1 - share) / fake_rps, 3),
            "faults_scenario": f"brownout p={BROWNOUT_P} (503), rpm and tpm quotas that never bind, no added latency",
        }
    return {
        "fake_rps": round(fake_rps, 1),
        "bare_rps": round(bare_rps, 1),
        "ratio": round(fake_rps / bare_rps, 3),
        "fake_chunks_per_s": round(fake_srps * events, 1),
        "bare_chunks_per_s": round(bare_srps * events, 1),
        "stream_ratio": round(fake_srps / bare_srps, 3),
        **with_faults,
        "load_generator": "wrk" if use_wrk else "aiohttp",
        "connections": CONNECTIONS,
        "stream_connections": STREAM_CONNECTIONS,
        "events_per_stream": events,
        "seconds": seconds,
        "rounds": rounds,
        "samples": {k: [round(v, 1) for v in vs] for k, vs in samples.items()},
    }


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["--_bare"]:
        bare_server(args_in[1], args_in[2], int(args_in[3]))
        return 0
    if args_in[:1] == ["--_load"]:
        load_generator(int(args_in[1]), args_in[2], int(args_in[3]), float(args_in[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each measurement (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians are reported (default 3)")
    parser.add_argument("--no-wrk", action="store_true", help="use the aiohttp load generator even if wrk exists")
    parser.add_argument(
        "--faults", action="store_true", help="also measure the provider with a 10%% brownout and quotas on"
    )
    args = parser.parse_args(args_in)
    if args.seconds <= 0:
        parser.error("--seconds: expected a positive number")
    if args.rounds < 1:
        parser.error("--rounds: expected a whole number ≥ 1")
    result = bench(args.seconds, shutil.which("wrk") is not None and not args.no_wrk, args.rounds, args.faults)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"load generator: {result['load_generator']}, {args.seconds:g} s per measurement, median of {args.rounds}")
    print(f"plain chat completions, {CONNECTIONS} connections:")
    print(f"  fake provider  {result['fake_rps']:>12,.0f} req/s")
    print(f"  bare aiohttp   {result['bare_rps']:>12,.0f} req/s")
    print(f"  ratio          {result['ratio']:>12.3f}   (target ≥ 0.5)")
    print(f"SSE streams of {result['events_per_stream']} events, {STREAM_CONNECTIONS} connections:")
    print(f"  fake provider  {result['fake_chunks_per_s']:>12,.0f} events/s")
    print(f"  bare aiohttp   {result['bare_chunks_per_s']:>12,.0f} events/s")
    print(f"  ratio          {result['stream_ratio']:>12.3f}   (target ≥ 0.5)")
    if args.faults:
        print(f"plain chat completions with faults ({result['faults_scenario']}):")
        print(f"  answers        {result['faults_rps']:>12,.0f} req/s   ({result['faults_error_share']:.1%} errors)")
        print(f"  of which 200   {result['faults_ok_rps']:>12,.0f} req/s")
        print(f"  vs no faults   {result['faults_ratio']:>12.3f}   (target ≥ 0.8)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
