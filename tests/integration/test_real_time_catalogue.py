"""Every shipped scenario keeps its gates in real time too (``harness run --real-time``, over sockets).

The runs are real time, so they take their scenarios' own durations (the longest, tpm_saturation, 300 s
of load and up to 90 s of drain; brownout and fallback_flap 120 s). To keep the suite bounded
they run as concurrent ``harness run`` processes, at most ``PARALLEL`` at a time, longest first: all but
one scenario offer a few requests a second and spend their time waiting, so running them side by side
changes nothing they measure. outage_recovery (a thousand client instances on one loop) shares its CPU
with no other run but the ``WAITING`` ones (a handful of requests a second, mostly asleep): it starts
once every other run has ended, while tpm_saturation's long quota window is still ticking.

In CI's slow stage this test has an xdist worker of its own (tests/conftest.py, ``OWN_WORKER``) while the other slow
tests run one at a time on the other worker; outage_recovery takes the machine alone
(tests/machine_lock.py): it starts once the test running on the other worker has ended, and the
next one there waits until it is done.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.scenario.model import load_scenario
from tests.machine_lock import MachineLock

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "scenarios").rglob("*.toml"))
PARALLEL = 5
ALONE = {"outage_recovery"}  # CPU-heavy: only WAITING runs beside it
WAITING = {"tpm_saturation"}  # a few requests a second for five minutes, mostly waiting on its quota


def _key(path: Path) -> str:
    """A scenario's name in this test: its path under scenarios/ without .toml (stems repeat across folders)."""
    return path.relative_to(ROOT / "scenarios").with_suffix("").as_posix()


def _duration(path: Path) -> float:
    """Seconds of load the file's runs take together (a comparison runs its storm once per client)."""
    scenario = load_scenario(path)
    return scenario.duration_s * (1 + len(scenario.compare_with))


def _time_limit(path: Path) -> float:
    """Past this, the run is killed: each of its runs may take its whole drain, plus a margin for a slow start."""
    scenario = load_scenario(path)
    return (1 + len(scenario.compare_with)) * (scenario.duration_s + scenario.drain_s) + 180


def _may_start(path: Path, running: dict[Path, tuple[subprocess.Popen[str], float]], pending: list[Path]) -> bool:
    """A light run starts when a slot is free; a CPU-heavy one when nothing but WAITING runs is left."""
    if _key(path) not in ALONE:
        return len(running) < PARALLEL
    others = [p for p in pending if p != path]
    return not others and all(_key(p) in WAITING for p in running)


def _start(path: Path, out: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    cmd = [str(Path(sys.executable).with_name("harness")), "run", str(path), "--real-time", "--quiet", "--out",
           str(out / _key(path))]  # fmt: skip
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _run_all(paths: list[Path], out: Path) -> dict[Path, subprocess.CompletedProcess[str]]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # longest first; the CPU-heavy runs last, as they wait for the light ones to end
    pending = sorted(paths, key=lambda p: (_key(p) in ALONE, -_duration(p)))
    running: dict[Path, tuple[subprocess.Popen[str], float]] = {}
    done: dict[Path, subprocess.CompletedProcess[str]] = {}
    machine = MachineLock.for_session()  # None outside a pytest session of this suite: nothing to wait for
    try:
        while pending or running:
            while pending and _may_start(pending[0], running, pending):
                if _key(pending[0]) in ALONE and machine is not None and not machine.try_alone():
                    break  # a test still runs on another worker (none starts there now): try again next turn
                path = pending.pop(0)
                running[path] = (_start(path, out, env), time.monotonic() + _time_limit(path))
            for path, (proc, give_up) in list(running.items()):
                if proc.poll() is None and time.monotonic() > give_up:
                    proc.kill()
                if proc.poll() is not None:
                    stdout = proc.stdout.read() if proc.stdout else ""
                    done[path] = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, "")
                    del running[path]
                    if _key(path) in ALONE and machine is not None:
                        machine.release_alone()
            time.sleep(0.5)
    finally:
        if machine is not None:
            machine.release_alone()  # a closed gate would stop the other worker for good
    return done


#: scenarios not run here, each with its reason (none today; the causes found and fixed are in
#: docs/scenarios.md, "Real time and virtual time"); every other scenario must pass
KNOWN_GAPS: dict[str, str] = {}


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_every_shipped_scenario_passes_in_real_time(tmp_path: Path) -> None:
    done = _run_all([p for p in SHIPPED if _key(p) not in KNOWN_GAPS], tmp_path)
    failures = []
    for path, result in sorted(done.items()):
        summary_file = tmp_path / _key(path) / "summary.json"
        if result.returncode != 0 or not summary_file.is_file():
            failures.append(f"{path.relative_to(ROOT)}: exit {result.returncode}\n{result.stdout[-1500:]}")
            continue
        summary = json.loads(summary_file.read_text())
        assert summary["mode"] == "real-time"
        assert summary["passed"] is True
    assert not failures, "\n\n".join(failures)
    assert len(done) == len(SHIPPED) - len(KNOWN_GAPS)
    assert set(KNOWN_GAPS) <= {_key(p) for p in SHIPPED}, "a known gap names a scenario that no longer exists"
