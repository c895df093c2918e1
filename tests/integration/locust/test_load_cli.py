"""``harness load``: a user's mistake gets one line and exit code 2, before any process starts."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.cli import main

SMOKE = "scenarios/smoke.toml"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--worker"], "--worker needs --master-host"),
        (["--worker", "--master-host", "h", "--users", "3"], "--users belong to the master"),
        (["--master-host", "h"], "--master-host goes with --worker"),
        (["--master", "--workers", "2"], "use one"),
        (["--workers", "65"], "at most 64"),
        (["--master-port", "5557"], "--master-port goes with"),
        (["--expect-workers", "3"], "go with --master"),
        (["--redis", "http://user:secret@host"], "--redis"),
        (["--run-time", "100000"], "--run-time"),
        (["--users", "100001"], "--users"),
    ],
)
def test_mistakes_are_one_line_and_exit_2(
    args: list[str], says: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parents[3])
    assert main(["load", SMOKE, *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert says in err
    assert "Traceback" not in err
    assert "secret" not in err
    assert "locust" not in sys.modules  # nothing was started, and this process never imports Locust


@pytest.mark.parametrize(
    "args", [["--users", "0"], ["--run-time", "soon"], ["--spawn-rate", "-1"], ["--web-port", "0"], ["--seed", "-1"]]
)
def test_malformed_options_are_argparse_errors(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["load", SMOKE, *args])
    assert exited.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_a_bad_scenario_names_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('version = 1\n[load]\nusers = "many"\n', encoding="utf-8")
    assert main(["load", str(bad)]) == 2
    assert "load.users" in capsys.readouterr().err
    assert main(["load", str(tmp_path / "missing.toml")]) == 2
    assert main(["load", str(bad), "--worker", "--master-host", "127.0.0.1"]) == 2  # a worker checks its file too
    sdk = tmp_path / "sdk.toml"
    sdk.write_text('version = 1\n[client]\nkind = "openai-sdk"\n[load]\nusers = 1\n', encoding="utf-8")
    assert main(["load", str(sdk), "--redis", "redis://127.0.0.1:6379/4"]) == 2
    assert "only the reference client keeps state in Redis" in capsys.readouterr().err
