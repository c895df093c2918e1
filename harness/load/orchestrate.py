"""``harness load`` end to end: the fake provider, the Locust processes, then the judge and the report.

This process never imports Locust (whose gevent monkey-patching would reach every library loaded
here); it starts the pieces as child processes and reads what they leave:

1. the fake provider, ``python -m fake_provider --scenario FILE`` on a free loopback port, in its own
   process so Locust's processes measure the client and not the server (or ``--provider-url``);
2. Locust with ``harness/locust/locustfile.py`` (``python -m locust``): one process, or a master and
   ``--workers K`` worker processes on this machine; the master's stats, CSV and HTML report go to the
   report folder, its summary to the terminal;
3. when the master exits: the provider's request log and ledger, every process's records
   (``<out>/records/``), merged (:mod:`harness.load.collect`) and judged like ``harness run``
   (:func:`harness.runner.run.judged_result`), then the same report files.

``--master`` runs 1-3 with workers from other machines (``harness load --worker --master-host H``);
``--worker`` runs only a Locust worker (:func:`run_worker`).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import harness
from harness.client import ClientConfig
from harness.control_api import CONTROL_TOKEN_ENV, control_headers
from harness.errors import ConfigError
from harness.load.collect import MergedRun, merge_records, read_run
from harness.load.plan import LoadPlan
from harness.load.records import boot_id
from harness.load.spec import SPEC_ENV, RunSpec, digest
from harness.preflight import check_out_dir, check_provider
from harness.records import ProviderRecord, load_jsonl
from harness.report.result import RunResult
from harness.runner.driver import DriveStats
from harness.runner.run import judged_result, run_cache_baseline
from harness.scenario.model import Scenario
from harness.testing.process import listening_process

__all__ = ["LOCUSTFILE", "LOCUST_FILES", "LoadOptions", "LoadRun", "run_load", "run_worker"]

#: the locustfile ``harness load`` runs (found by path: importing harness.locust here would patch this process)
LOCUSTFILE = Path(harness.__file__).resolve().parent / "locust" / "locustfile.py"
#: Locust's own report files in the report folder, linked from summary.md and report.html
LOCUST_FILES = (
    ("Locust HTML report", "locust_report.html"),
    ("Locust stats (CSV)", "locust_stats.csv"),
    ("Locust failures by error class (CSV)", "locust_failures.csv"),
    ("Locust stats history (CSV)", "locust_stats_history.csv"),
)
#: how Locust's processes are started: its command line, OS threads left unpatched (see that module)
LOCUST = (sys.executable, "-m", "harness.load.locust_process")
DIGEST_ENV = "HARNESS_LOAD_DIGEST"  # (harness.locust.scenario reads it; not imported here)
STARTUP_S = 60.0  # Locust's processes start, connect and begin within this
EXPECT_WORKERS_S = 120.0  # a master waits this long for its workers


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """The command line of ``harness load`` (see harness/commands/load.py)."""

    users: int | None = None
    spawn_rate: float | None = None
    run_time_s: float | None = None
    workers: int = 0  # local worker processes (0: one Locust process)
    redis_url: str | None = None
    provider_url: str | None = None
    web: bool = False
    web_port: int = 8089
    web_linger_s: float = 30.0  # --web: the UI stays up this long after the run
    out: Path | None = None
    seed: int | None = None
    quiet: bool = False
    master: bool = False  # workers come from elsewhere (harness load --worker)
    expect_workers: int = 1
    master_bind_host: str = "127.0.0.1"
    master_port: int | None = None
    allow_large: bool = False  # accept work above the ceilings (harness.scenario.bounds)


@dataclass(frozen=True)
class LoadRun:
    """A finished load run: the judged result, where it was written, and what each process did."""

    result: RunResult
    out: Path
    merged: MergedRun


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _get(url: str) -> bytes:
    request = urllib.request.Request(url, headers=control_headers())  # HARNESS_CONTROL_TOKEN, when set
    with urllib.request.urlopen(request, timeout=60) as response:
        data: bytes = response.read()
        return data


def _clear_records(folder: Path) -> None:
    """Remove a previous run's records (only the files a run writes there)."""
    if folder.is_dir():
        for pattern in ("*.issued", "*.questions", "*.outcomes.jsonl", "*.events.jsonl", "*.meta.json", "run.json"):
            for stale in folder.glob(pattern):
                stale.unlink()


def _loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


@contextmanager
def _provider(scenario_path: Path, seed: int, given: str | None) -> Iterator[str]:
    if given is not None:
        url = given.rstrip("/")
        try:
            health = json.loads(_get(f"{url}/_fake/health"))
        except urllib.error.HTTPError as exc:
            if exc.code != 401:
                raise ConfigError("--provider-url", f"{url}/_fake/health answered {exc.code}") from None
            raise ConfigError("--provider-url", f"the fake provider at {url} needs {CONTROL_TOKEN_ENV}") from None
        except (OSError, ValueError, urllib.error.URLError) as exc:
            raise ConfigError("--provider-url", f"no fake provider answers at {url}: {exc}") from None
        if health.get("status") != "ok":
            raise ConfigError("--provider-url", f"{url}/_fake/health did not answer status ok")
        yield url
        return
    command = [sys.executable, "-m", "fake_provider", "--scenario", str(scenario_path), "--seed", str(seed)]
    with listening_process([*command, "--port", "0"]) as port:
        yield f"http://127.0.0.1:{port}"


def _spawn(command: list[str], env: dict[str, str], quiet: bool) -> subprocess.Popen[bytes]:
    out = subprocess.DEVNULL if quiet else None
    return subprocess.Popen(command, env=env, stdout=out, stderr=out, stdin=subprocess.DEVNULL)


def _locust_command(spec: RunSpec, options: LoadOptions, out: Path, master_port: int | None) -> list[str]:
    command = [*LOCUST, "-f", str(LOCUSTFILE), "--host", spec.provider_url]
    command += ["--exit-code-on-error", "0", "--csv", str(out / "locust"), "--html", str(out / "locust_report.html")]
    if options.web:
        command += ["--web-host", "127.0.0.1", "--web-port", str(options.web_port), "--autostart"]
        command += ["--autoquit", str(round(options.web_linger_s))]
    else:
        command += ["--headless"] + (["--only-summary"] if options.quiet else [])
    if master_port is not None:
        workers = options.expect_workers if options.master else options.workers
        command += ["--master", "--master-bind-host", options.master_bind_host, "--master-bind-port", str(master_port)]
        command += ["--expect-workers", str(workers), "--expect-workers-max-wait", str(int(EXPECT_WORKERS_S))]
    return command


def _worker_command(master_host: str, master_port: int) -> list[str]:
    return [
        *LOCUST, "-f", str(LOCUSTFILE), "--worker",
        "--master-host", master_host, "--master-port", str(master_port), "--loglevel", "WARNING",
    ]  # fmt: skip


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_load(scenario_path: Path, options: LoadOptions, *, say: Callable[[str], None] = _to_stderr) -> LoadRun:
    """Run the scenario's load under Locust and judge it (see the module docstring).

    ``say`` takes the one-line progress notes (the provider's URL, the processes' pids).
    """
    started = time.perf_counter()
    try:
        text = scenario_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(scenario_path), f"cannot read the scenario: {exc}") from None
    spec = RunSpec(
        scenario_toml=text,
        scenario_path=str(scenario_path),
        run_id=uuid.uuid4().hex,
        provider_url="",
        seed=options.seed,
        redis_url=options.redis_url,
        users=options.users,
        spawn_rate=options.spawn_rate,
        run_time_s=options.run_time_s,
        allow_large=options.allow_large,
    )
    scenario = spec.scenario()  # every problem is a ConfigError naming the field (exit 2)
    plan = spec.plan(scenario)
    out = options.out if options.out is not None else Path("reports") / scenario.name
    records = out / "records"
    check_out_dir(out)
    if options.provider_url is not None:
        for warning in check_provider(options.provider_url, scenario.provider):
            say(f"harness load: warning: {warning}")
    _clear_records(records)
    records.mkdir(parents=True, exist_ok=True)
    distributed = options.master or options.workers > 0
    master_port = (options.master_port or (5557 if options.master else _free_port())) if distributed else None
    with ExitStack() as stack:
        url = stack.enter_context(_provider(scenario_path, scenario.seed, options.provider_url))
        spec = replace(spec, provider_url=url, push_faults=options.provider_url is not None, records_dir=str(records))
        private = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="harness-load-")))
        spec_file = private / "spec.json"
        spec_file.write_text(spec.to_json(), encoding="utf-8")
        spec_file.chmod(0o600)  # a --redis URL may carry a password
        env = {**os.environ, SPEC_ENV: str(spec_file), "PYTHONUNBUFFERED": "1"}
        say(f"harness load: {scenario.name}: fake provider at {url}; {plan.users} users, {plan.run_time_s:g} s")
        master = _spawn(_locust_command(spec, options, out, master_port), env, quiet=False)
        stack.callback(_stop, master)
        workers = []
        if options.workers and master_port is not None:
            worker_env = {k: v for k, v in env.items() if k != SPEC_ENV}
            for _ in range(options.workers):
                worker = _spawn(_worker_command("127.0.0.1", master_port), worker_env, quiet=options.quiet)
                stack.callback(_stop, worker)
                workers.append(worker)
            say(f"harness load: Locust master pid {master.pid}; workers pid {' '.join(str(w.pid) for w in workers)}")
        if options.master:
            say(
                f"harness load: master on {options.master_bind_host}:{master_port}, waiting for "
                f"{options.expect_workers} worker(s): harness load {scenario_path} --worker --master-host HOST "
                f"--master-port {master_port}"
            )
        if options.web:
            say(f"harness load: Locust's web UI at http://127.0.0.1:{options.web_port}/")
        budget = STARTUP_S + plan.run_time_s + plan.drain_s + 30.0
        budget += (options.web_linger_s if options.web else 0.0) + (EXPECT_WORKERS_S if distributed else 0.0)
        interrupted = _wait(master, budget)
        for worker in workers:
            _stop(worker, grace_s=15.0)
        provider_records = list(load_jsonl(ProviderRecord, _get(f"{url}/_fake/requests").decode()))
        ledger = json.loads(_get(f"{url}/_fake/ledger"))
        provider_boot = boot_id() if options.provider_url is None or _loopback(url) else None
    run, processes = read_run(records)
    if not run:
        raise ConfigError(
            "locust", f"Locust did not start the run (exit code {master.returncode}); see its output above"
        )
    merged = merge_records(
        run,
        processes,
        provider_records,
        provider_boot=provider_boot,
        id_prefix=f"req-{scenario.seed}-{spec.run_id[:8]}-",
    )
    if interrupted:
        merged.findings.insert(0, interrupted)
    t_end = max((o.t_end for o in merged.outcomes), default=merged.origin + plan.run_time_s)
    stats = DriveStats(
        t0=merged.origin,
        t_end=t_end,
        issued_ids=merged.issued_ids,
        cancelled=merged.cancelled,
        crashes=merged.crashes,
        questions=merged.questions,
    )
    client = scenario.client
    wall_s = time.perf_counter() - started
    result = judged_result(
        scenario,
        stats,
        mode="locust",
        wall_s=wall_s,
        cache_baseline=run_cache_baseline(_baseline_scenario(scenario, plan), keep_redis=False),
        schedule_origin=merged.origin,
        records=provider_records,
        ledger=ledger,
        outcomes=merged.outcomes,
        events=merged.events,
        client_name=client.name if isinstance(client, ClientConfig) else client.kind,
        extra=merged.extra,
        findings=tuple(merged.findings),
    )
    result = replace(result, extra_files=LOCUST_FILES)
    return LoadRun(result=result, out=out, merged=merged)


def _baseline_scenario(scenario: Scenario, plan: LoadPlan) -> Scenario:
    """The scenario as the cache-off baseline replays it in virtual time, in this one process (without
    ``[client.redis]``: state shared through Redis is the client's own state in one process): the run's
    users (``--users``, closed loop); an open loop replays the same arrivals."""
    if plan.closed:
        scenario = replace(scenario, load=replace(scenario.load, users=plan.users))
    return scenario


def _wait(master: subprocess.Popen[bytes], budget_s: float) -> str | None:
    """Wait for the master; on Ctrl-C or past the budget, stop it (its processes flush what they have)."""
    try:
        master.wait(timeout=budget_s)
        return None
    except KeyboardInterrupt:
        reason = "the run was interrupted (Ctrl-C): requests in flight then are counted as lost"
    except subprocess.TimeoutExpired:
        reason = f"Locust did not finish within {budget_s:.0f} s and was stopped"
    _stop(master, grace_s=30.0)
    return reason


def _stop(proc: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """End a child we started: wait a little, then SIGTERM (Locust flushes and quits), then SIGKILL."""
    if proc.poll() is not None:
        return
    try:
        proc.wait(timeout=grace_s)
        return
    except subprocess.TimeoutExpired:
        pass
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_worker(scenario_path: Path, master_host: str, master_port: int, *, quiet: bool = False) -> int:
    """``harness load --worker``: one Locust worker for a master elsewhere; returns its exit code.

    The scenario file must be the master's (same text): the worker refuses another with exit code 2.
    """
    try:
        text = scenario_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(scenario_path), f"cannot read the scenario: {exc}") from None
    # the master judged the bounds; a worker only checks the scenario is valid
    RunSpec(
        scenario_toml=text, scenario_path=str(scenario_path), run_id="check", provider_url="", allow_large=True
    ).scenario()
    env = {**os.environ, DIGEST_ENV: digest(text), "PYTHONUNBUFFERED": "1"}
    env.pop(SPEC_ENV, None)
    worker = subprocess.Popen(_worker_command(master_host, master_port), env=env, stdin=subprocess.DEVNULL)
    try:
        return worker.wait()
    except KeyboardInterrupt:
        _stop(worker, grace_s=0.0)
        return 130
