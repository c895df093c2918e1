"""Benchmark: the reference client under Locust against the asyncio runner and raw aiohttp, in one run.

Three contenders send plain chat completions at 64 concurrent requests to the same fake provider
(``python -m fake_provider``, its own process, started once):

* ``raw``: a bare ``aiohttp.ClientSession`` posting a request of the same size and decoding the answer
  (the floor any client pays; for reference);
* ``asyncio``: ``harness run bench/scenarios/locust_overhead.toml --real-time --provider-url …``: the
  asyncio runner's 64 closed-loop users driving one reference client over sockets;
* ``locust``: ``harness load`` with the same scenario and provider: one Locust process, 64 Locust users
  driving the same reference client through the asyncio bridge (:mod:`harness.locust.bridge`), every
  request reported to Locust's stats and shipped to the judge.

Both runners report their own throughput the same way: the judge's logical requests over the run's
simulated seconds (first request to last answer; process start-up and the report are outside it).
Rounds are interleaved (raw, asyncio, locust; the order rotates each round) so all see the same
background load on this shared machine; the table shows medians and each round's locust/asyncio ratio.

    .venv/bin/python bench/locust_overhead.py                 # 3 rounds of 10 s
    .venv/bin/python bench/locust_overhead.py --rounds 5 --json

Target: locust ≥ 0.8 × asyncio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.testing.process import listening_process

_HERE = Path(__file__).resolve().parent

REPO = _HERE.parent
SCENARIO = _HERE / "scenarios" / "locust_overhead.toml"
CONCURRENCY = 64
CONTENDERS = ("raw", "asyncio", "locust")
PROMPT = " ".join(["the"] * 12)  # about the size of the scenario's 20-token prompts
MAX_TOKENS = 16


async def _raw(port: int, seconds: float) -> float:
    import aiohttp

    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    headers = {"content-type": "application/json", "authorization": "Bearer sk-bench"}
    payload = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": PROMPT}], "max_tokens": MAX_TOKENS}
    done = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as session:

        async def worker(deadline: float) -> None:
            nonlocal done
            while time.monotonic() < deadline:
                async with session.post(url, data=json.dumps(payload).encode(), headers=headers) as response:
                    answer = json.loads(await response.read())
                    if response.status != 200 or not answer["choices"]:
                        raise RuntimeError(f"status {response.status}")
                done += 1

        await asyncio.gather(*(worker(time.monotonic() + 1.0) for _ in range(CONCURRENCY)))  # warm-up
        done = 0
        start = time.monotonic()
        await asyncio.gather(*(worker(start + seconds) for _ in range(CONCURRENCY)))
        return done / (time.monotonic() - start)


def _judged(command: str, port: int, seconds: float) -> float:
    """Run ``harness run --real-time`` or ``harness load`` on the scenario; its requests per simulated second."""
    with tempfile.TemporaryDirectory(prefix="bench-locust-") as tmp:
        scenario = SCENARIO
        if command == "run":  # the asyncio runner has no --run-time: the same scenario with that duration
            scenario = Path(tmp) / "locust_overhead.toml"
            scenario.write_text(SCENARIO.read_text().replace("duration_s = 10", f"duration_s = {seconds:g}"))
        args = [
            sys.executable,
            "-m",
            "harness.cli",
            command,
            str(scenario),
            "--provider-url",
            f"http://127.0.0.1:{port}",
        ]
        # no think time is the point (the client's own throughput); it is above the closed-loop request
        # estimate of docs/scenarios.md "Bounds", bounded here by the run time
        args += ["--out", str(Path(tmp) / "report"), "--quiet", "--allow-large"]
        args += ["--real-time"] if command == "run" else ["--run-time", f"{seconds:g}"]
        done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=seconds * 4 + 240)
        summary_file = Path(tmp) / "report" / "summary.json"
        if not summary_file.exists():
            raise RuntimeError(f"harness {command} failed ({done.returncode}): {done.stderr[-2000:]}")
        metrics = json.loads(summary_file.read_text())["metrics"]
        if metrics["lost_requests"] or metrics["success_rate"] != 1:
            raise RuntimeError(f"harness {command}: lost {metrics['lost_requests']}, success {metrics['success_rate']}")
        return float(metrics["requests_logical"]) / float(metrics["simulated_s"])


def measure(kind: str, port: int, seconds: float) -> float:
    if kind == "raw":
        command = [sys.executable, __file__, "--_raw", str(port), str(seconds)]
        out = subprocess.run(command, capture_output=True, text=True, timeout=seconds * 3 + 60)
        if out.returncode != 0:
            raise RuntimeError(f"raw failed: {out.stderr[-2000:]}")
        return float(out.stdout.strip().splitlines()[-1])
    return _judged("run" if kind == "asyncio" else "load", port, seconds)


def bench(seconds: float, rounds: int) -> dict[str, Any]:
    rps: dict[str, list[float]] = {kind: [] for kind in CONTENDERS}
    load: list[float] = []
    with listening_process([sys.executable, "-m", "fake_provider", "--port", "0", "--seed", "1"]) as port:
        for r in range(rounds):
            order = CONTENDERS[r % 3 :] + CONTENDERS[: r % 3]
            for kind in order:
                rps[kind].append(measure(kind, port, seconds))
            load.append(os.getloadavg()[0])
    ratios = [lo / a for lo, a in zip(rps["locust"], rps["asyncio"], strict=True)]
    medians = {kind: statistics.median(values) for kind, values in rps.items()}
    return {
        "seconds": seconds,
        "rounds": rounds,
        "raw_rps": medians["raw"],
        "asyncio_rps": medians["asyncio"],
        "locust_rps": medians["locust"],
        "locust_vs_asyncio": medians["locust"] / medians["asyncio"],
        "locust_vs_asyncio_per_round": ratios,
        "asyncio_vs_raw": medians["asyncio"] / medians["raw"],
        "locust_vs_raw": medians["locust"] / medians["raw"],
        "samples": rps,
        "load_average": load,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of load per contender and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--_raw", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._raw:
        print(asyncio.run(_raw(int(args._raw[0]), float(args._raw[1]))))
        return 0
    result = bench(args.seconds, args.rounds)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{args.rounds} interleaved rounds of {args.seconds:g} s, {CONCURRENCY} concurrent requests (medians):")
    for kind in CONTENDERS:
        samples = ", ".join(f"{v:,.0f}" for v in result["samples"][kind])
        print(f"  {kind:8} {result[kind + '_rps']:>9,.0f} req/s   ({samples})")
    per_round = ", ".join(f"{r:.2f}" for r in result["locust_vs_asyncio_per_round"])
    print(f"  locust / asyncio: {result['locust_vs_asyncio']:.2f} (per round: {per_round}); target ≥ 0.8")
    print(f"  asyncio / raw: {result['asyncio_vs_raw']:.2f}; locust / raw: {result['locust_vs_raw']:.2f}")
    print(f"  load average after each round: {', '.join(f'{v:.1f}' for v in result['load_average'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
