"""Benchmark: how fast virtual time runs scenarios.

Two measurements, each the median of several runs in this process:

* ``outage_recovery_wall_s``: wall seconds for ``scenarios/outage_recovery.toml`` (1000 client
  instances, a 20 s outage, thousands of retries). Target: under 30 s.
* ``speedup``: simulated seconds / wall seconds for ``bench/scenarios/ten_minutes_200_users.toml``
  (ten minutes of 200 closed-loop users with realistic latencies and a brownout). Target: ≥ 50x.

    .venv/bin/python bench/virtual_time.py            # a table
    .venv/bin/python bench/virtual_time.py --json     # {"outage_recovery_wall_s", "speedup", ...}

Scale mode (``--scale``): ``bench/scenarios/storm_10000_users.toml`` (two minutes of closed-loop users,
5 s think time, 30% streamed) with 100, 1,000 and 10,000 users, each run in a fresh process so its
peak memory is its own: per-request CPU, simulation wall and CPU, the garbage collector's share,
peak memory (``ru_maxrss``) and the time to write the report, with the machine's load average beside
them. ``--baseline DIR`` runs another checkout of the project (e.g. ``git worktree add /tmp/before
<commit>``) in alternating rounds with this one and prints the ratios, so a change is measured side
by side on the same loaded machine::

    .venv/bin/python bench/virtual_time.py --scale --users 100 1000 --runs 3
    .venv/bin/python bench/virtual_time.py --scale --users 1000 --runs 3 --baseline /tmp/before --json
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

from harness.runner.run import run_scenario
from harness.scenario.model import load_scenario

#: the repository (a checkout: the scenarios and bench/scenarios/ are files beside the package)
ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "bench"


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


STORM = HERE / "scenarios" / "storm_10000_users.toml"
SCALE_USERS = (100, 1000, 10000)


def scale_one(users: int, scenario_path: Path) -> dict[str, float]:
    """Run the storm with ``users`` users in this process; the numbers of one round (see the docstring)."""
    import gc
    import resource
    import tempfile
    from dataclasses import replace

    from harness.report import write_report

    scenario = load_scenario(scenario_path, allow_large=True)  # ~220,000 requests: above the run ceiling on purpose
    scenario = replace(scenario, load=replace(scenario.load, users=users))
    collecting = [0.0, 0.0]  # [total CPU seconds in collections, start of the current one]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collecting[1] = time.process_time()
        else:
            collecting[0] += time.process_time() - collecting[1]

    gc.callbacks.append(on_gc)
    load = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    result = run_scenario(scenario)
    sim_wall, sim_cpu = time.perf_counter() - wall, time.process_time() - cpu
    gc_s = collecting[0]
    with tempfile.TemporaryDirectory() as out:
        wall, cpu = time.perf_counter(), time.process_time()
        write_report(result, Path(out))
        report_wall, report_cpu = time.perf_counter() - wall, time.process_time() - cpu
    attempts = float(result.metrics["attempts"])
    return {
        "users": users,
        "attempts": attempts,
        "sim_wall_s": round(sim_wall, 3),
        "sim_cpu_s": round(sim_cpu, 3),
        "cpu_per_request_ms": round(sim_cpu / attempts * 1000, 4),
        "gc_share": round(gc_s / sim_cpu, 4) if sim_cpu else 0.0,
        "report_wall_s": round(report_wall, 3),
        "report_cpu_s": round(report_cpu, 3),
        "report_share": round(report_cpu / sim_cpu, 4) if sim_cpu else 0.0,
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_avg": round(load, 2),
    }


def _scale_round(users: int, tree: Path | None) -> dict[str, float]:
    env = dict(os.environ)
    if tree is not None:  # another checkout: its packages first on the path
        env["PYTHONPATH"] = os.pathsep.join([str(tree), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    # as a module from the tree's root (a script's own folder first on the path would let a module
    # beside it, such as a module named like a package, shadow the fake_provider package)
    command = [sys.executable, "-m", "harness.bench.virtual_time", "--_scale-one", str(users), str(STORM)]
    out = subprocess.run(command, capture_output=True, text=True, env=env, check=False, cwd=tree or ROOT)
    if out.returncode != 0:
        raise SystemExit(f"scale run ({users} users, {tree or 'this tree'}) failed:\n{out.stderr[-2000:]}")
    data: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return data


def _medians(rounds: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}


def scale(users: list[int], runs: int, baseline: Path | None) -> dict[str, object]:
    """Alternating rounds of this tree (and the baseline's), medians per user count; ratios = this / baseline."""
    out: dict[str, object] = {}
    for n in users:
        now: list[dict[str, float]] = []
        before: list[dict[str, float]] = []
        for _ in range(runs):
            if baseline is not None:
                before.append(_scale_round(n, baseline))
            now.append(_scale_round(n, None))
        entry: dict[str, object] = {"now": _medians(now), "rounds": now}
        if baseline is not None:
            b, a = _medians(before), _medians(now)
            entry["before"] = b
            entry["before_rounds"] = before
            entry["ratios"] = {
                key: round(a[key] / b[key], 3)
                for key in ("cpu_per_request_ms", "sim_wall_s", "sim_cpu_s", "report_cpu_s", "peak_mb")
                if b[key]
            }
            # per round, this tree's cost over the baseline's in the same round (both saw the same load)
            entry["round_ratios"] = [
                round(x["cpu_per_request_ms"] / y["cpu_per_request_ms"], 3) for x, y in zip(now, before, strict=True)
            ]
        out[str(n)] = entry
    return out


def _print_scale(result: dict[str, object], runs: int) -> None:
    print(f"storm_10000_users.toml at scale (medians of {runs} rounds, each in a fresh process)")
    header = "users  attempts  sim wall  sim CPU  CPU/request  GC share  report CPU  report/sim  peak MB  load"
    for n, entry in result.items():
        assert isinstance(entry, dict)
        print(header)
        for label in ("before", "now"):
            if label in entry:
                r = entry[label]
                print(
                    f"{n:>5}  {r['attempts']:>8,.0f}  {r['sim_wall_s']:>7.2f}s  {r['sim_cpu_s']:>6.2f}s  "
                    f"{r['cpu_per_request_ms']:>9.3f}ms  {r['gc_share']:>8.1%}  {r['report_cpu_s']:>9.2f}s  "
                    f"{r['report_share']:>10.1%}  {r['peak_mb']:>7.0f}  {r['load_avg']:>4.1f}   {label}"
                )
        if "ratios" in entry:
            print(f"       now / before: {json.dumps(entry['ratios'])}; per round: {entry['round_ratios']}")


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["--_scale-one"]:
        print(json.dumps(scale_one(int(args_in[1]), Path(args_in[2]))))
        return 0
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario; medians are reported (default 3)")
    parser.add_argument("--scale", action="store_true", help="the storm at 100, 1,000 and 10,000 users instead")
    parser.add_argument("--users", type=int, nargs="+", default=list(SCALE_USERS), help="--scale: user counts")
    parser.add_argument("--baseline", type=Path, help="--scale: another checkout to run side by side (ratios)")
    args = parser.parse_args(args_in)
    if args.runs < 1:
        parser.error("--runs: expected a whole number ≥ 1")
    if any(n < 1 or n > 100_000 for n in args.users):
        parser.error("--users: expected whole numbers from 1 to 100,000")
    if args.baseline is not None and not (args.baseline / "harness" / "runner" / "run.py").is_file():
        parser.error(f"--baseline: {args.baseline} is not a checkout of this project")
    if args.scale:
        result = scale(args.users, args.runs, args.baseline)
        if args.json:
            print(json.dumps(result))
        else:
            _print_scale(result, args.runs)
        return 0
    outage = measure(ROOT / "scenarios" / "outage_recovery.toml", args.runs)
    day = measure(HERE / "scenarios" / "ten_minutes_200_users.toml", args.runs)
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
