"""Benchmark: how fast virtual time runs scenarios.

Two measurements, each the median of several runs in this process:

* ``outage_recovery_wall_s``: wall seconds for ``scenarios/outage_recovery.toml`` (1000 client
  instances, a 20 s outage, thousands of retries). Target: under 30 s.
* ``speedup``: simulated seconds / wall seconds for ``bench/scenarios/ten_minutes_200_users.toml``
  (ten minutes of 200 closed-loop users with realistic latencies and a brownout). Target: ≥ 50x.

    .venv/bin/python bench/virtual_time.py            # a table
    .venv/bin/python bench/virtual_time.py --json     # {"outage_recovery_wall_s", "speedup", ...}
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from harness.runner.run import run_scenario
from harness.scenario.model import load_scenario

#: the repository (a checkout: the scenarios and bench/scenarios/ are files beside the package)
ROOT = Path(__file__).resolve().parents[2]


def measure(path: Path, runs: int) -> dict[str, float]:
    scenario = load_scenario(path)
    walls, simulated, requests = [], [], []
    for _ in range(runs):
        start = time.perf_counter()
        result = run_scenario(scenario)
        walls.append(time.perf_counter() - start)
        simulated.append(float(result.metrics["simulated_s"]))
        requests.append(float(result.metrics["attempts"]))
    wall = statistics.median(walls)
    return {
        "wall_s": round(wall, 3),
        "simulated_s": round(statistics.median(simulated), 3),
        "attempts": statistics.median(requests),
        "speedup": round(statistics.median(simulated) / wall, 1),
        "attempts_per_wall_s": round(statistics.median(requests) / wall, 1),
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario; medians are reported (default 3)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs: expected a whole number ≥ 1")
    outage = measure(ROOT / "scenarios" / "outage_recovery.toml", args.runs)
    day = measure(ROOT / "bench" / "scenarios" / "ten_minutes_200_users.toml", args.runs)
    result = {
        "outage_recovery_wall_s": outage["wall_s"],
        "outage_recovery_target_s": 30.0,
        "speedup": day["speedup"],
        "speedup_target": 50.0,
        "ten_minutes_wall_s": day["wall_s"],
        "ten_minutes_attempts": day["attempts"],
        "attempts_per_wall_s": day["attempts_per_wall_s"],
        "outage_recovery": outage,
        "ten_minutes_200_users": day,
    }
    if args.json:
        print(json.dumps(result))
        return 0
    attempts = f"{outage['attempts']:,.0f} attempts"
    print(f"outage_recovery.toml      {outage['wall_s']:8.2f} s wall   (target < 30 s; {attempts})")
    print(
        f"10 min × 200 users        {day['wall_s']:8.2f} s wall   {day['speedup']:7.1f}x real time (target ≥ 50x; "
        f"{day['attempts']:,.0f} attempts, {day['attempts_per_wall_s']:,.0f}/s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
