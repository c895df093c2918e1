"""Benchmark: the server CPU one streamed answer costs the fake provider, beside bare stream servers.

Complete 64-token chat streams (67 SSE events: the role, 64 tokens, the finish and ``[DONE]``) are
requested over and over at 16 connections by a load generator in its own process, and each server's
own CPU time (user + system, read from ``/proc/<pid>/stat`` before and after) is divided by the
streams it completed. Three servers, each in its own process, measured in alternating rounds so they
share the machine's background load; medians are reported:

* ``fake`` — ``python -m fake_provider`` with its request log, ledger and metrics on;
* ``bare_aiohttp`` — an aiohttp handler writing the same number of events of the same size, one
  ``write`` per event (:func:`harness.bench.provider_throughput.bare_server`);
* ``bare_node`` — Node's ``http`` module doing the same, one ``res.write`` per event
  (``harness/bench/bare_sse_server.js``); skipped, with the reason printed, when ``node`` is absent.

Targets (issue 19): at most 600 µs of server CPU per stream, and at least 1.5x the bare aiohttp
stream rate. CPU time, unlike wall time, stays meaningful on a shared machine; the load average is
printed beside the numbers all the same.

    .venv/bin/python bench/fake_provider_streams.py                       # 3 alternating rounds of 5 s
    .venv/bin/python bench/fake_provider_streams.py --quick --json        # one round of 1 s, as JSON
    .venv/bin/python bench/fake_provider_streams.py --baseline /tmp/before   # another checkout's provider beside
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from harness.bench.provider_throughput import KEY, STREAM_BODY, fetch
from harness.testing.process import listening_server

__all__ = ["NODE_SERVER", "bench", "cpu_seconds", "main"]

STREAM_TOKENS = 64
CONNECTIONS = 16
BODY = {**STREAM_BODY, "max_tokens": STREAM_TOKENS}
NODE_SERVER = Path(__file__).with_name("bare_sse_server.js")
TARGET_CPU_US = 600.0
TARGET_RATE_RATIO = 1.5
#: the helper processes (a bare aiohttp server, the load generator) live in the throughput bench
_HELPERS = "harness.bench.provider_throughput"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load(port: int, seconds: float) -> tuple[float, float, int]:
    """Run the load generator (its own process) for ``seconds``: (streams/s, error share, streams)."""
    command = [sys.executable, "-m", _HELPERS, "--_load", str(port), json.dumps(BODY), str(CONNECTIONS), str(seconds)]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    rate, share, done = (float(v) for v in out.strip().splitlines()[-1].split())
    return rate, share, int(done)


def one_round(port: int, pid: int, seconds: float) -> tuple[float, float]:
    """(streams per second, server CPU µs per stream) for one server, after a short warm-up."""
    _load(port, min(0.5, seconds))
    before = cpu_seconds(pid)
    rate, share, done = _load(port, seconds)
    used = cpu_seconds(pid) - before
    if share:
        raise RuntimeError(f"the load generator saw error responses ({share:.1%})")
    return rate, used / max(1, done) * 1e6


def _load_average() -> float:
    return round(os.getloadavg()[0], 2)


def bench(seconds: float, rounds: int, baseline: Path | None = None, node: str | None = None) -> dict[str, Any]:
    """Measure every server; ``baseline``: another checkout whose fake provider runs beside as ``fake_baseline``.

    ``node``: the Node executable (``None``: the bare Node server is skipped).
    """
    load_before = _load_average()
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        scenario = Path(tmp, "bench.toml")  # every stream runs to max_tokens: a natural length ten times longer
        scenario.write_text(f'[[provider.models]]\nname = "gpt-4o-mini"\noutput_tokens = {STREAM_TOKENS * 10}\n')
        fake = [sys.executable, "-m", "fake_provider", "--port", "0", "--seed", "1", "--api-key", KEY]
        fake += ["--scenario", str(scenario)]
        servers: dict[str, tuple[int, int]] = {"fake": stack.enter_context(listening_server(fake))}
        if baseline is not None:
            env = {**os.environ, "PYTHONPATH": str(baseline)}
            servers["fake_baseline"] = stack.enter_context(listening_server(fake, env, baseline))
        sample = fetch(servers["fake"][0], BODY)
        events = sample.count(b"data: ")
        event_file = Path(tmp, "event.txt")  # one event of the fake's mean event size
        event_file.write_bytes(b"data: " + b"x" * max(1, len(sample) // events - 8) + b"\n\n")
        bare = [sys.executable, "-m", _HELPERS, "--_bare", "sse", str(event_file), str(events)]
        servers["bare_aiohttp"] = stack.enter_context(listening_server(bare))
        if node is not None:
            servers["bare_node"] = stack.enter_context(
                listening_server([node, str(NODE_SERVER), str(event_file), str(events)])
            )
        rates: dict[str, list[float]] = {name: [] for name in servers}
        cpu: dict[str, list[float]] = {name: [] for name in servers}
        for _ in range(rounds):  # alternating, so every server sees the same background load
            for name, (port, pid) in servers.items():
                streams_per_s, us = one_round(port, pid, seconds)
                rates[name].append(round(streams_per_s, 1))
                cpu[name].append(round(us, 1))
    rate = {name: statistics.median(v) for name, v in rates.items()}
    cpu_us = {name: statistics.median(v) for name, v in cpu.items()}
    found: dict[str, Any] = {
        "stream_tokens": STREAM_TOKENS,
        "events_per_stream": events,
        "bytes_per_stream": len(sample),
        "connections": CONNECTIONS,
        "seconds": seconds,
        "rounds": rounds,
        "streams_per_s": {k: round(v, 1) for k, v in rate.items()},
        "server_cpu_us_per_stream": {k: round(v, 1) for k, v in cpu_us.items()},
        "rate_vs_bare_aiohttp": round(rate["fake"] / rate["bare_aiohttp"], 3),
        "cpu_vs_bare_aiohttp": round(cpu_us["fake"] / cpu_us["bare_aiohttp"], 3),
        "samples": {"streams_per_s": rates, "server_cpu_us_per_stream": cpu},
        "load_avg_before": load_before,
        "load_avg_after": _load_average(),
        "cpus": os.cpu_count() or 1,
        "targets": {"cpu_us_per_stream": TARGET_CPU_US, "rate_vs_bare_aiohttp": TARGET_RATE_RATIO},
    }
    if node is not None:
        found["rate_vs_bare_node"] = round(rate["fake"] / rate["bare_node"], 3)
        found["cpu_vs_bare_node"] = round(cpu_us["fake"] / cpu_us["bare_node"], 3)
    else:
        found["bare_node_skipped"] = "node is not on PATH"
    return found


def _print(found: dict[str, Any]) -> None:
    print(
        f"{found['stream_tokens']}-token streams ({found['events_per_stream']} events, "
        f"{found['bytes_per_stream']:,} bytes), {found['connections']} connections, median of {found['rounds']} "
        f"alternating rounds of {found['seconds']:g} s; load average {found['load_avg_before']} before, "
        f"{found['load_avg_after']} after ({found['cpus']} CPUs)"
    )
    for name, rate in found["streams_per_s"].items():
        us = found["server_cpu_us_per_stream"][name]
        print(f"  {name:<14} {rate:>8,.0f} streams/s   {us:>7,.0f} µs server CPU per stream")
    cpu_ok = found["server_cpu_us_per_stream"]["fake"] <= TARGET_CPU_US
    rate_ok = found["rate_vs_bare_aiohttp"] >= TARGET_RATE_RATIO
    print(
        f"  fake / bare aiohttp: rate {found['rate_vs_bare_aiohttp']:.2f}x (target ≥ {TARGET_RATE_RATIO}: "
        f"{'met' if rate_ok else 'NOT met'}), CPU {found['cpu_vs_bare_aiohttp']:.2f}x"
    )
    if "rate_vs_bare_node" in found:
        print(f"  fake / bare Node:    rate {found['rate_vs_bare_node']:.2f}x, CPU {found['cpu_vs_bare_node']:.2f}x")
    else:
        print(f"  bare Node: skipped ({found['bare_node_skipped']})")
    print(f"  fake CPU per stream: target ≤ {TARGET_CPU_US:.0f} µs: {'met' if cpu_ok else 'NOT met'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each measurement (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians are reported (default 3)")
    parser.add_argument("--quick", action="store_true", help="one round of one second (a check that it runs)")
    parser.add_argument("--baseline", type=Path, help="another checkout of the project whose provider runs beside")
    parser.add_argument("--no-node", action="store_true", help="skip the bare Node server even if node is on PATH")
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        parser.error("--seconds: expected a positive number")
    if args.rounds < 1:
        parser.error("--rounds: expected a whole number ≥ 1")
    if args.baseline is not None and not (args.baseline / "fake_provider").is_dir():
        parser.error(f"--baseline: {args.baseline} is not a checkout of this project (no fake_provider/ in it)")
    seconds, rounds = (1.0, 1) if args.quick else (args.seconds, args.rounds)
    node = None if args.no_node else shutil.which("node")
    found = bench(seconds, rounds, args.baseline, node)
    if node is None:
        found["bare_node_skipped"] = "--no-node" if args.no_node else "node is not on PATH"
    if args.json:
        print(json.dumps(found))
    else:
        _print(found)
    return 0


if __name__ == "__main__":
    sys.exit(main())
