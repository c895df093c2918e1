"""Unbounded scenarios are refused before anything runs: exit 2, one line naming the key.

Each case is one of the runs that used to go on until killed (or write outside ``reports/``, or
crash the judge). The refusal is arithmetic on the parsed file, so it costs milliseconds of CPU:
the in-process checks measure CPU time (``time.process_time``), never the wall clock.
"""

from __future__ import annotations

import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import ConfigError
from harness.judge import LimitFact
from harness.judge.metrics import limit_violations
from harness.records import ProviderRecord
from harness.scenario.bounds import MAX_FAULTS, MAX_REQUESTS, estimate_requests
from harness.scenario.model import load_scenario, parse_scenario

HEAD = "version = 1\nseed = 1\nduration_s = 10\n"
HEAD_60 = HEAD.replace("duration_s = 10", "duration_s = 60")
OPEN = '[load]\nmode = "open"\nrate = 2.0\n'

UNBOUNDED = {
    "empty file": ("", "load"),
    "spike_rate = 1e12": (
        HEAD
        + '[load]\nmode = "open"\narrivals = "spike"\nrate = 1.0\nspike_at_s = 1\nspike_s = 1\nspike_rate = 1e12\n',
        "load.spike_rate",
    ),
    "rate = 1e9": (HEAD + '[load]\nmode = "open"\nrate = 1e9\n', "load.rate"),
    "duration_s = 1e9": ("duration_s = 1e9\n[load]\nusers = 5\nrequests_per_user = 1\n", "duration_s"),
    "requests_per_user = 10^18": (
        HEAD_60 + "[load]\nusers = 10\nrequests_per_user = 1000000000000000000\n",
        "load.requests_per_user",
    ),
    "10,000 faults": (
        HEAD + OPEN + '[[faults]]\nkind = "outage"\nstart_s = 1\nduration_s = 1\n' * 10_000,
        "faults",
    ),
    "users = 1000000": (HEAD + "[load]\nusers = 1000000\nrequests_per_user = 1\n", "load.users"),
    'name = ".."': ('name = ".."\n' + HEAD + OPEN, "name"),
    'name = "a/../../b"': ('name = "a/../../b"\n' + HEAD + OPEN, "name"),
    "window_s = 1e-15": (HEAD + OPEN + "[provider.quotas]\nrpm = 5\nwindow_s = 1e-15\n", "provider.quotas.window_s"),
    "closed loop without think time or a request count": (
        HEAD.replace("duration_s = 10", "duration_s = 600") + "[load]\nusers = 10\n",
        "load.requests_per_user",
    ),
    "a closed loop that names no users": (HEAD + '[load]\nmode = "closed"\nrequests_per_user = 2\n', "load.users"),
    "an open loop that names no rate": (HEAD + '[load]\nmode = "open"\n', "load.rate"),
}


@pytest.mark.parametrize("case", list(UNBOUNDED))
def test_an_unbounded_scenario_is_refused_with_exit_2_naming_the_key(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, key = UNBOUNDED[case]
    with pytest.raises(ConfigError):  # before the CLI: a case that is not refused must not start a run
        parse_scenario(tomllib.loads(text))
    path = tmp_path / "scenario.toml"
    path.write_text(text, encoding="utf-8")
    cpu = time.process_time()
    code = main(["run", str(path), "--quiet", "--out", str(tmp_path / "out")])
    cpu = time.process_time() - cpu
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"harness run: error: {key}: "), lines[0]
    assert "Traceback" not in err
    assert cpu < 1.0, f"refusing took {cpu:.2f} s of CPU"
    assert not (tmp_path / "out").exists()  # nothing was run or written
    assert not (tmp_path.parent / "summary.json").exists()


def test_the_cli_refuses_an_empty_scenario_file_in_a_fresh_process(tmp_path: Path) -> None:
    path = tmp_path / "empty.toml"
    path.write_text("", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "harness run: error: load: a scenario must declare its load: a [load] table with users (closed loop) "
        "or a rate (open loop)"
    ]
    assert not (tmp_path / "reports").exists()


def test_the_ceiling_message_says_how_to_get_past_it() -> None:
    with pytest.raises(ConfigError) as info:
        parse_scenario({"duration_s": 60, "load": {"mode": "open", "rate": 1e9}})
    message = str(info.value)
    assert message.startswith("load.rate: 1e+09 requests/s over duration_s 60 s is about 6e+10 requests")
    assert f"ceiling of {MAX_REQUESTS:,}" in message
    assert "load.max_requests" in message
    assert "--allow-large" in message


def test_allow_large_accepts_what_the_ceiling_refuses_and_max_requests_bounds_it() -> None:
    data = {"duration_s": 60, "load": {"mode": "open", "rate": 1e9}}
    assert parse_scenario(data, allow_large=True).load.rate == 1e9
    bounded = {"duration_s": 60, "load": {"mode": "open", "rate": 1e9, "max_requests": 5000}}
    assert parse_scenario(bounded).load.max_requests == 5000
    # compare_with clients run the storm again: the estimate counts each
    storm = {"duration_s": 100, "load": {"mode": "open", "rate": 1500.0}}
    parse_scenario(storm)
    with pytest.raises(ConfigError, match=r"^load\.rate: .* × 2 clients"):
        parse_scenario({**storm, "compare_with": [{"models": [{"name": "gpt-4o-mini", "provider": "openai"}]}]})


def test_allow_large_runs_a_scenario_above_a_ceiling(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Over the fault ceiling but cheap to run: refused by default, run with --allow-large."""
    fault = '[[faults]]\nkind = "latency"\nstart_s = 0\nduration_s = 1\nttft = 0.01\n'
    path = tmp_path / "many_faults.toml"
    path.write_text('name = "many_faults"\nduration_s = 2\ndrain_s = 5\n' + OPEN + fault * (MAX_FAULTS + 1))
    assert main(["run", str(path), "--quiet", "--out", str(tmp_path / "a")]) == 2
    assert "faults: 1001 faults, above the ceiling" in capsys.readouterr().err
    assert main(["run", str(path), "--quiet", "--allow-large", "--out", str(tmp_path / "b")]) == 0
    assert (tmp_path / "b" / "summary.json").exists()


@pytest.mark.parametrize(
    ("load", "duration_s", "expected"),
    [
        ({"mode": "open", "rate": 10.0}, 20, 200),
        ({"mode": "open", "arrivals": "poisson", "rate": 5.0}, 300, 1500),
        ({"mode": "open", "arrivals": "ramp", "rate": 0.0, "rate_end": 10.0}, 100, 500),
        ({"mode": "open", "arrivals": "step", "steps": [[0, 5.0], [30, 20.0], [60, 5.0]]}, 90, 150 + 600 + 150),
        (
            {"mode": "open", "arrivals": "spike", "rate": 0.0, "spike_at_s": 1, "spike_s": 0.1, "spike_rate": 5000},
            30,
            500,
        ),
        (
            {"mode": "open", "arrivals": "spike", "rate": 1.0, "spike_at_s": 50, "spike_s": 100, "spike_rate": 10},
            60,
            150,
        ),
        ({"users": 1000, "requests_per_user": 1}, 60, 1000),
        ({"users": 10, "think_s": 2.0}, 30, 150),
        ({"users": 10}, 30, 300_000),  # no think time, no request count: one request per ms at most
        ({"mode": "open", "rate": 100.0, "max_requests": 50}, 60, 50),
    ],
)
def test_the_request_estimate(load: dict[str, object], duration_s: float, expected: float) -> None:
    scenario = parse_scenario({"duration_s": duration_s, "load": load}, allow_large=True)
    assert estimate_requests(scenario.load, duration_s).requests == pytest.approx(expected)


def test_every_shipped_scenario_is_within_the_ceilings() -> None:
    root = Path(__file__).parents[3] / "scenarios"
    paths = sorted(root.glob("*.toml")) + sorted(root.glob("conduct/*.toml"))
    assert paths
    for path in paths:
        load_scenario(path)  # raises if a ceiling is crossed


def test_the_judge_survives_a_window_below_the_clock_resolution() -> None:
    """``t - window_s == t`` in floating point: each arrival still counts itself, and no IndexError."""
    records = [
        ProviderRecord(i + 1, 1e6 + i * 1e-3, 0.0, "key:1", None, f"r{i}", None, 0, "openai.chat", "m", False, 200, 10)
        for i in range(5)
    ]
    assert limit_violations(records, LimitFact("rpm", 1, window_s=1e-15)) == 0
    assert limit_violations(records, LimitFact("rpm", 0, window_s=1e-15)) == 5
    assert limit_violations(records, LimitFact("rpm", 2, window_s=1.0)) == 3
