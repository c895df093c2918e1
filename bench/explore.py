"""Benchmark: how fast ``harness explore`` runs worlds, and how long a shrink takes.

Two measurements:

* ``worlds_per_min``: worlds of ``bench/scenarios/explore_100_users.toml`` (100 closed-loop users for
  60 simulated seconds, ~1,200 requests, up to two drawn outages or brownouts) explored per minute,
  counted on the process's CPU clock (one core: what one core does, whatever else the machine runs)
  and on the wall clock. Each round runs in a fresh process, which first explores two worlds of another
  seed (imports, Hypothesis's one-time scan of the source) and then times the exploration; that
  warm-up's CPU is reported too (``startup_cpu_s``). Target: ≥ 100 per CPU minute.
* ``shrink``: ``examples/explore/no_jitter.toml`` (a client without jitter; up to 100 users): worlds
  and seconds until the first failure, then shrink steps and seconds to the minimal world.

``--baseline DIR`` runs another checkout of the project (``git worktree add /tmp/before <commit>``)
in alternating rounds with this one, the same worlds in both, and prints the ratio this / baseline of
worlds per CPU minute, per round and as the median: a side-by-side measure on a loaded machine.

    .venv/bin/python bench/explore.py                 # a table
    .venv/bin/python bench/explore.py --json          # the numbers as JSON
    .venv/bin/python bench/explore.py --quick         # one round of fewer worlds
    .venv/bin/python bench/explore.py --rounds 3 --worlds 30 --baseline /tmp/before --no-shrink
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # (a script named like a package)

from harness.explore import ExploreProgress, ExploreSettings, explore  # noqa: E402
from harness.scenario.model import load_scenario  # noqa: E402

ROOT = HERE.parent
WORLD = HERE / "scenarios" / "explore_100_users.toml"
PLANTED = ROOT / "examples" / "explore" / "no_jitter.toml"


def one_round(worlds: int, seed: int) -> dict[str, float]:
    """In this process: warm up, then explore ``worlds`` worlds of the bench space; CPU and wall."""
    scenario = load_scenario(WORLD)
    explore(scenario, ExploreSettings(examples=2, seed=seed + 10_000, max_time_s=3600))  # imports, scans
    startup = time.process_time()
    cpu, wall = time.process_time(), time.perf_counter()
    found = explore(scenario, ExploreSettings(examples=worlds, seed=seed, max_time_s=3600))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    assert found.passed, "the bench space has no failing gate"
    return {
        "worlds": found.worlds,
        "cpu_s": round(cpu, 3),
        "wall_s": round(wall, 3),
        "worlds_per_min_cpu": round(60.0 * found.worlds / cpu, 1),
        "worlds_per_min_wall": round(60.0 * found.worlds / wall, 1),
        "startup_cpu_s": round(startup, 3),
        "load_avg": round(os.getloadavg()[0], 2),
    }


def _round_in(tree: Path | None, worlds: int, seed: int) -> dict[str, float]:
    env = dict(os.environ)
    if tree is not None:  # another checkout: its packages first on the path
        env["PYTHONPATH"] = os.pathsep.join([str(tree), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    command = [sys.executable, str(Path(__file__).resolve()), "--_round", str(worlds), str(seed)]
    out = subprocess.run(command, capture_output=True, text=True, env=env, check=False, cwd=tree or ROOT)
    if out.returncode != 0:
        raise SystemExit(f"explore round ({tree or 'this tree'}) failed:\n{out.stderr[-2000:]}")
    data: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return data


def worlds_per_minute(worlds: int, rounds: int, baseline: Path | None = None) -> dict[str, Any]:
    """Alternating fresh-process rounds (baseline first when given); medians, and ratios this / baseline."""
    now: list[dict[str, float]] = []
    before: list[dict[str, float]] = []
    for r in range(rounds):
        if baseline is not None:
            before.append(_round_in(baseline, worlds, 100 + r))
        now.append(_round_in(None, worlds, 100 + r))
    result: dict[str, Any] = {
        "worlds_per_min_cpu": statistics.median(x["worlds_per_min_cpu"] for x in now),
        "worlds_per_min_wall": statistics.median(x["worlds_per_min_wall"] for x in now),
        "startup_cpu_s": statistics.median(x["startup_cpu_s"] for x in now),
        "worlds": worlds,
        "rounds": now,
    }
    if baseline is not None:
        result["baseline"] = str(baseline)
        result["baseline_rounds"] = before
        result["baseline_worlds_per_min_cpu"] = statistics.median(x["worlds_per_min_cpu"] for x in before)
        pairs = zip(now, before, strict=True)
        per_round = [round(a["worlds_per_min_cpu"] / b["worlds_per_min_cpu"], 3) for a, b in pairs]
        result["ratio_per_round"] = per_round
        result["ratio"] = statistics.median(per_round)
    return result


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


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["--_round"]:
        print(json.dumps(one_round(int(args_in[1]), int(args_in[2]))))
        return 0
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    parser.add_argument("--quick", action="store_true", help="one round of 10 worlds (shrink: one round)")
    parser.add_argument("--rounds", type=int, help="rounds, each in a fresh process (default 3; --quick 1)")
    parser.add_argument("--worlds", type=int, help="worlds per round (default 30; --quick 10)")
    parser.add_argument("--baseline", type=Path, help="another checkout, run in alternating rounds (ratios)")
    parser.add_argument("--no-shrink", action="store_true", help="skip the shrink measurement")
    args = parser.parse_args(args_in)
    rounds = args.rounds if args.rounds is not None else (1 if args.quick else 3)
    worlds = args.worlds if args.worlds is not None else (10 if args.quick else 30)
    if not 1 <= rounds <= 50:
        parser.error(f"--rounds: expected 1 to 50, got {rounds}")
    if not 1 <= worlds <= 1000:
        parser.error(f"--worlds: expected 1 to 1000, got {worlds}")
    if args.baseline is not None and not (args.baseline / "harness" / "explore" / "search.py").is_file():
        parser.error(f"--baseline: {args.baseline} is not a checkout of this project with harness explore")
    rate = worlds_per_minute(worlds, rounds, args.baseline)
    shrink = None if args.no_shrink else shrink_time(1 if args.quick else rounds)
    result = {"worlds": rate, "shrink": shrink, "target_worlds_per_min": 100}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print("| measure | value |")
    print("| --- | --- |")
    print(f"| 100-user, 60 s worlds per CPU minute (median of {rounds} rounds of {worlds}) | "
          f"{rate['worlds_per_min_cpu']} (target ≥ 100) |")  # fmt: skip
    print(f"| … per wall minute on this machine | {rate['worlds_per_min_wall']} |")
    startup = rate["startup_cpu_s"]
    print(f"| … CPU before the timed worlds (imports, Hypothesis's scan, 2 warm-up worlds) | {startup} s |")
    if "ratio" in rate:
        print(f"| baseline {rate['baseline']}: worlds per CPU minute | {rate['baseline_worlds_per_min_cpu']} |")
        print(f"| this / baseline (median; per round {rate['ratio_per_round']}) | {rate['ratio']} |")
    if shrink is not None:
        print(f"| planted no-jitter bug: first failing world (median) | world {shrink['first_failure_world']}, "
              f"{shrink['first_failure_s']} s |")  # fmt: skip
        print(f"| … then shrinking: steps, seconds (median) | {shrink['shrink_steps']}, {shrink['shrink_s']} s |")
        print(f"| … faults in the counterexample (most over rounds) | {shrink['counterexample_faults_max']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
