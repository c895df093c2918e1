"""Reproduce the AWS "Exponential Backoff And Jitter" simulation with harness.client.backoff, in virtual time.

The model (Marc Brooker's aws-arch-backoff-simulator): N clients each want to write one row once, with
optimistic concurrency. A client reads the row's version, then writes with that version; the write
succeeds only if nobody wrote in between, otherwise the client backs off and starts again with a read.
Every message takes |Normal(10 ms, 2 ms)| on the network. A "call" is a write that reached the server.
The simulator's backoff is ``min(cap, base · 2^n)`` with n = 1 for the first retry and base 5 ms, cap
2 s, i.e. our ``full_jitter(base=0.010, cap=2)`` etc.; decorrelated jitter starts from 5 ms.

Each client is a coroutine on :class:`harness.vtime.VirtualTimeLoop`; completion time is the virtual
time at which the last client succeeded. Results are means over ``--repeats`` × ``--runs`` runs.

    .venv/bin/python bench/backoff_simulation.py --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys

from harness import vtime
from harness.client.backoff import Backoff, decorrelated_jitter, equal_jitter, exponential, full_jitter, none

BASE_S, CAP_S = 0.005, 2.0
STRATEGIES: dict[str, Backoff] = {
    # AWS's n starts at 1, so its first ceiling is 2 · base: our base for the exponential family is 10 ms
    "none": none(),
    "exponential": exponential(2 * BASE_S, CAP_S),
    "full_jitter": full_jitter(2 * BASE_S, CAP_S),
    "equal_jitter": equal_jitter(2 * BASE_S, CAP_S),
    "decorrelated_jitter": decorrelated_jitter(BASE_S, CAP_S),
}
#: AWS's simulator averaged over 5×100 runs (the numbers docs/metrics.md lists): calls, completion seconds
REFERENCE = {
    "none": (2423, 2.0),
    "exponential": (1855, 63.4),
    "full_jitter": (796, 4.9),
    "equal_jitter": (812, 6.6),
    "decorrelated_jitter": (1002, 4.6),
}


async def _one_run(strategy: Backoff, clients: int, rng: random.Random) -> tuple[int, float]:
    loop = asyncio.get_running_loop()
    row = {"version": 0, "calls": 0}

    def net() -> float:
        return abs(rng.normalvariate(0.010, 0.002))

    async def client() -> None:
        attempt, previous = 0, 0.0
        delay = 0.0
        while True:
            await asyncio.sleep(net() + delay)  # request to the server (after any backoff)
            seen = row["version"]  # read
            await asyncio.sleep(net())  # read response
            await asyncio.sleep(net())  # write request
            row["calls"] += 1
            ok = row["version"] == seen
            if ok:
                row["version"] += 1
            await asyncio.sleep(net())  # write response
            if ok:
                return
            attempt += 1
            delay = strategy.delay(attempt, previous, rng)
            previous = delay

    start = loop.time()
    await asyncio.gather(*(client() for _ in range(clients)))
    return row["calls"], loop.time() - start


def simulate(name: str, *, clients: int = 100, runs: int = 100, seed: int = 0) -> tuple[float, float]:
    """Mean (calls, completion seconds) over ``runs`` runs of one strategy."""
    rng = random.Random(f"{seed}:{name}")
    calls, times = [], []
    for _ in range(runs):
        c, t = vtime.run(_one_run(STRATEGIES[name], clients, rng))
        calls.append(c)
        times.append(t)
    return statistics.fmean(calls), statistics.fmean(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = {}
    for name in STRATEGIES:
        means = [simulate(name, clients=args.clients, runs=args.runs, seed=args.seed + r) for r in range(args.repeats)]
        calls = statistics.fmean(m[0] for m in means)
        seconds = statistics.fmean(m[1] for m in means)
        ref_calls, ref_s = REFERENCE[name]
        results[name] = {
            "calls": round(calls, 1),
            "completion_s": round(seconds, 3),
            "reference_calls": ref_calls,
            "reference_completion_s": ref_s,
            "calls_error": round(calls / ref_calls - 1, 4),
            "completion_error": round(seconds / ref_s - 1, 4),
            "within_5pct": abs(calls / ref_calls - 1) <= 0.05 and abs(seconds / ref_s - 1) <= 0.05,
        }
    if args.json:
        json.dump({"clients": args.clients, "runs": args.runs, "repeats": args.repeats, "results": results}, sys.stdout,
                  indent=2)  # fmt: skip
        print()
    else:
        print(f"{'strategy':<22}{'calls':>10}{'ref':>8}{'time s':>10}{'ref':>8}  within 5%")
        for name, r in results.items():
            print(f"{name:<22}{r['calls']:>10}{r['reference_calls']:>8}{r['completion_s']:>10}"
                  f"{r['reference_completion_s']:>8}  {r['within_5pct']}")  # fmt: skip
    return 0 if all(r["within_5pct"] for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
