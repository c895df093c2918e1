"""``harness load`` end to end: Locust's processes, the fake provider in its own, the judge, the reports.

Each test is one bounded run (seconds of load on loopback) in subprocesses; the numbers asserted are
the judge's (summary.json) and Locust's own files, compared with the outcome log they came from.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from harness.records import OutcomeRecord, load_jsonl
from tests.integration.locust.conftest import REPO, harness_command, run_harness

pytestmark = pytest.mark.slow


def _summary(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return data


def _outcomes(out: Path) -> list[OutcomeRecord]:
    return list(load_jsonl(OutcomeRecord, (out / "outcomes.jsonl").read_text(encoding="utf-8")))


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.timeout(300)
def test_rate_limit_storm_under_locust_is_judged_like_any_run(tmp_path: Path) -> None:
    out = tmp_path / "storm"
    done = run_harness("load", "scenarios/rate_limit_storm.toml", "--run-time", "20", "--out", str(out), timeout_s=280)
    assert done.returncode in (0, 1), done.stderr[-3000:]
    summary = _summary(out)
    metrics = summary["metrics"]
    assert summary["mode"] == "locust"
    assert metrics["lost_requests"] == 0
    assert metrics["cost_abs_error_usd"] == "0"
    assert metrics["requests_logical"] > 100  # ~10 arrivals a second for 20 s
    assert metrics["provider_429s"] > 0  # the storm happened
    # Locust's table: one row per (API, model) of logical requests, failures by error class, TTFT apart
    outcomes = _outcomes(out)
    rows = {(r["Type"], r["Name"]): r for r in _csv(out / "locust_stats.csv")}
    llm = rows[("openai", "gpt-4o-mini")]
    failed = [o for o in outcomes if not o.ok]
    assert int(llm["Request Count"]) == len(outcomes) == metrics["requests_logical"]
    assert int(llm["Failure Count"]) == len(failed)
    streamed = [o for o in outcomes if o.ok and o.stream and o.ttft_s is not None]
    assert int(rows[("TTFT", "gpt-4o-mini")]["Request Count"]) == len(streamed) > 0
    failures = {(r["Method"], r["Name"], r["Error"]): int(r["Occurrences"]) for r in _csv(out / "locust_failures.csv")}
    assert failures == {
        ("openai", "gpt-4o-mini", f"{status}()"): n for status, n in Counter(o.status for o in failed).items()
    }
    # the same report folder as harness run --real-time, plus Locust's
    for name in ("summary.json", "report.html", "summary.md", "junit.xml", "outcomes.jsonl", "provider_requests.jsonl",
                 "ledger.json", "events.jsonl", "locust_report.html", "locust_stats_history.csv"):  # fmt: skip
        assert (out / name).is_file(), name
    assert "locust_report.html" in (out / "summary.md").read_text(encoding="utf-8")
    # the terminal: Locust's summary (its stats logger writes to stderr), then the gate table
    assert "Response time percentiles" in done.stderr
    assert all(f"{o.status}()" in done.stderr for o in failed)  # Locust's error report, by class
    assert "gates: rate_limit_storm" in done.stdout


def _shared_quota(tmp_path: Path, name: str, *extra: str) -> dict[str, Any]:
    out = tmp_path / name
    done = run_harness(
        "load", "examples/shared_quota.toml", "--workers", "2", "--run-time", "12", "--quiet", "--out", str(out),
        *extra, timeout_s=400,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr[-3000:]
    summary = _summary(out)
    assert summary["metrics"]["locust_processes"] == 2  # both workers ran requests
    assert summary["metrics"]["lost_requests"] == 0
    return summary


@pytest.mark.redis
@pytest.mark.timeout(600)
def test_two_workers_obey_one_quota_only_with_the_limiter_in_redis(tmp_path: Path, redis_url: str) -> None:
    shared = _shared_quota(tmp_path, "redis", "--redis", redis_url)["metrics"]
    assert shared["limit_violations"] == 0
    assert shared["provider_429s"] == 0
    assert shared["goodput_ratio"] >= 0.9  # and the fleet still got (nearly) the whole quota
    apart = _shared_quota(tmp_path, "memory")["metrics"]  # each worker's limiter admits the whole quota
    assert apart["limit_violations"] > 0
    assert apart["provider_429s"] > 0


_SLOW_ANSWERS = """\
version = 1
name = "slow_answers"
description = "Every answer takes a second: each user always has a request in flight."
seed = 4
duration_s = 14
drain_s = 10

[[faults]]
kind = "latency"
always = true
ttft = { kind = "fixed", value = 1.0 }

[load]
users = 8
max_tokens = 8

[[gates]]
metric = "lost_requests"
"""


@pytest.mark.timeout(300)
def test_a_worker_killed_mid_run_is_named_and_its_requests_counted(tmp_path: Path) -> None:
    scenario = tmp_path / "slow_answers.toml"
    scenario.write_text(_SLOW_ANSWERS, encoding="utf-8")
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        harness_command("load", str(scenario), "--workers", "2", "--quiet", "--out", str(out)),
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        deadline = time.monotonic() + 120
        pids: list[int] = []
        while not pids and time.monotonic() < deadline:
            pids = [int(p) for line in lines if "workers pid" in line for p in line.split("workers pid")[1].split()]
            time.sleep(0.1)
        assert pids, "".join(lines)
        records = out / "records"
        while not any(records.glob("w*.outcomes.jsonl")) and time.monotonic() < deadline:
            time.sleep(0.2)  # both workers have been sending for a while
        time.sleep(3)
        victim = pids[0]
        os.kill(victim, signal.SIGKILL)  # no goodbye: whatever its last batch carried is all the master has
        stdout, _ = proc.communicate(timeout=200)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, stdout[-2000:] + "".join(lines)[-3000:]  # lost requests fail the gate
    metas = {json.loads(p.read_text())["pid"]: json.loads(p.read_text()) for p in records.glob("w*.meta.json")}
    killed, survivor = metas[victim], next(m for pid, m in metas.items() if pid != victim)
    assert killed["final"] is False
    assert survivor["final"] is True
    summary = _summary(out)
    metrics = summary["metrics"]
    assert metrics["locust_processes_lost"] == 1
    assert metrics["lost_requests"] >= 1  # it had requests in flight: they ended without an outcome
    [finding] = [f for f in summary["findings"] if "without an outcome" in f]
    assert f"process {killed['tag']} " in finding
    assert f"pid {victim}" in finding
    assert f"{metrics['lost_requests']} of its" in finding  # every lost request is the killed worker's
    assert "Findings" in (out / "summary.md").read_text(encoding="utf-8")
    assert killed["tag"] in stdout  # the terminal's process table names it too


_SDK_BOUNDED = """\
version = 1
name = "sdk_bounded"
description = "The official openai SDK as the client under test, bounded by requests rather than by time."
seed = 6
duration_s = 60
drain_s = 10

[load]
users = 4
requests_per_user = 10
max_requests = 30
think_s = 0.05
max_tokens = 16
stream_share = 0.5

[client]
kind = "openai-sdk"

[[gates]]
metric = "lost_requests"
"""


@pytest.mark.compat
@pytest.mark.timeout(300)
def test_an_sdk_client_on_two_workers_stops_at_max_requests(tmp_path: Path) -> None:
    scenario = tmp_path / "sdk_bounded.toml"
    scenario.write_text(_SDK_BOUNDED, encoding="utf-8")
    out = tmp_path / "sdk"
    done = run_harness("load", str(scenario), "--workers", "2", "--quiet", "--out", str(out), timeout_s=280)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    summary = _summary(out)
    metrics = summary["metrics"]
    assert summary["client"] == "openai-sdk"
    assert metrics["requests_logical"] == 30  # max_requests, split between the workers (4 × 10 would be 40)
    assert metrics["lost_requests"] == 0
    assert metrics["cost_abs_error_usd"] == "0"
    assert metrics["simulated_s"] < 60  # the run ended when the requests ran out, not at duration_s
    issued = {p.name: len(p.read_text().split()) for p in (out / "records").glob("w*.issued")}
    assert sorted(issued.values()) == [15, 15]
    [llm] = [r for r in _csv(out / "locust_stats.csv") if r["Type"] == "openai"]  # one model: the SDK's default
    assert int(llm["Request Count"]) == 30  # both workers' stats reached the master


_OPEN_LOOP = """\
version = 1
name = "open_loop_busy"
description = "Ten arrivals a second, answers that take half a second: more than two senders can keep up with."
seed = 8
duration_s = 6
drain_s = 10

[[faults]]
kind = "latency"
always = true
ttft = { kind = "fixed", value = 0.5 }

[load]
mode = "open"
arrivals = "constant"
rate = 10.0
max_tokens = 8
"""


@pytest.mark.timeout(300)
def test_a_master_and_a_worker_started_apart_keep_an_open_loop_schedule_honestly(tmp_path: Path) -> None:
    """``--master`` here, ``--worker`` there (the several-machines path, on one machine); the open-loop
    arrivals reach the worker through its share, and arrivals that find no free user are counted."""
    import socket

    scenario = tmp_path / "open_loop_busy.toml"
    scenario.write_text(_OPEN_LOOP, encoding="utf-8")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    out = tmp_path / "apart"
    master = subprocess.Popen(
        harness_command("load", str(scenario), "--master", "--expect-workers", "1", "--master-port", port,
                        "--users", "2", "--quiet", "--out", str(out)),
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    worker = subprocess.Popen(
        harness_command("load", str(scenario), "--worker", "--master-host", "127.0.0.1", "--master-port", port),
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        stdout, stderr = master.communicate(timeout=250)
        worker.wait(timeout=60)
    finally:
        for p in (master, worker):
            if p.poll() is None:
                p.kill()
                p.wait()
    assert master.returncode in (0, 1), stdout[-2000:] + stderr[-3000:]
    assert worker.returncode == 0
    assert "--worker --master-host HOST" in stderr  # the master says how to start workers
    assert [p.name for p in (out / "records").glob("*.meta.json")] == ["w0.meta.json"]
    summary = _summary(out)
    metrics = summary["metrics"]
    sent = metrics["requests_logical"]
    assert metrics["locust_processes"] == 1
    assert metrics["lost_requests"] == 0
    assert metrics["arrivals_late"] > 0
    assert sent + metrics["arrivals_dropped"] <= 60  # the schedule: 10 a second for 6 s
    assert 0 < sent < 40  # two senders at ~2 answers a second each cannot send 60
    assert any("raise --users" in finding for finding in summary["findings"])
