"""Benchmark: how fast ``harness explore`` runs worlds, and how long a shrink takes.

Two measurements, each the median of several rounds in this process:

* ``worlds_per_min``: worlds of ``bench/scenarios/explore_100_users.toml`` (100 closed-loop users for
  60 simulated seconds, ~1,200 requests, up to two drawn outages or brownouts) explored per minute,
  counted on the process's CPU clock (one core: what one core does, whatever else the machine runs)
  and on the wall clock. Target: ≥ 100 per CPU minute.
* ``shrink``: ``examples/explore/no_jitter.toml`` (a client without jitter; up to 100
  users): worlds and seconds until the first failure, then shrink steps and seconds to the minimal
  world.

    .venv/bin/python bench/explore.py                 # a table
    .venv/bin/python bench/explore.py --json          # the numbers as JSON
    .venv/bin/python bench/explore.py --quick         # one round of fewer worlds
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # bench/fake_provider.py shadows a package

from harness.explore import ExploreProgress, ExploreSettings, explore  # noqa: E402
from harness.scenario.model import load_scenario  # noqa: E402

ROOT = HERE.parent
WORLD = HERE / "scenarios" / "explore_100_users.toml"
PLANTED = ROOT / "examples" / "explore" / "no_jitter.toml"


def worlds_per_minute(worlds: int, rounds: int) -> dict[str, float]:
    scenario = load_scenario(WORLD)
    cpu_rates, wall_rates = [], []
    for r in range(rounds):
        cpu, wall = time.process_time(), time.perf_counter()
        found = explore(scenario, ExploreSettings(examples=worlds, seed=100 + r, max_time_s=3600))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        assert found.passed, "the bench space has no failing gate"
        cpu_rates.append(60.0 * found.worlds / cpu)
        wall_rates.append(60.0 * found.worlds / wall)
    return {
        "worlds_per_min_cpu": round(statistics.median(cpu_rates), 1),
        "worlds_per_min_wall": round(statistics.median(wall_rates), 1),
        "worlds": worlds,
        "rounds": rounds,
    }


def shrink_time(rounds: int) -> dict[str, float]:
    scenario = load_scenario(PLANTED)
    first_s, shrink_s, found_at, steps, sizes = [], [], [], [], []
    for r in range(rounds):
        marks: dict[str, float] = {}

        def watch(p: ExploreProgress, marks: dict[str, float] = marks) -> None:
            if p.failures and "first" not in marks:
                marks["first"] = p.elapsed_s
                marks["worlds"] = p.worlds

        found = explore(scenario, ExploreSettings(seed=r + 1, examples=200, max_time_s=3600), on_progress=watch)
        assert found.counterexample is not None, "the planted bug was not found"
        first_s.append(marks["first"])
        shrink_s.append(found.elapsed_s - marks["first"])
        found_at.append(marks["worlds"])
        steps.append(found.shrink_steps)
        sizes.append(found.counterexample.world.fault_count)
    return {
        "first_failure_s": round(statistics.median(first_s), 2),
        "first_failure_world": statistics.median(found_at),
        "shrink_s": round(statistics.median(shrink_s), 2),
        "shrink_steps": statistics.median(steps),
        "counterexample_faults_max": max(sizes),
        "rounds": rounds,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    parser.add_argument("--quick", action="store_true", help="one round, fewer worlds")
    args = parser.parse_args()
    rounds = 1 if args.quick else 3
    rate = worlds_per_minute(10 if args.quick else 30, rounds)
    shrink = shrink_time(rounds)
    result = {"worlds": rate, "shrink": shrink, "target_worlds_per_min": 100}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print("| measure | value |")
    print("| --- | --- |")
    print(
        f"| 100-user, 60 s worlds per CPU minute (median of {rounds}) | {rate['worlds_per_min_cpu']} (target ≥ 100) |"
    )
    print(f"| … per wall minute on this machine | {rate['worlds_per_min_wall']} |")
    print(f"| planted no-jitter bug: first failing world (median) | world {shrink['first_failure_world']}, "
          f"{shrink['first_failure_s']} s |")  # fmt: skip
    print(f"| … then shrinking: steps, seconds (median) | {shrink['shrink_steps']}, {shrink['shrink_s']} s |")
    print(f"| … faults in the counterexample (most over rounds) | {shrink['counterexample_faults_max']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
