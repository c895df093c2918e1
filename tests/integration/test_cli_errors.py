"""Every CLI mistake a user can make is one line on stderr naming the problem, exit 2, never a traceback.

Most cases run :func:`harness.cli.main` in this process (a traceback would be an exception escaping
it); the unreachable provider runs the real console script in a subprocess, as a user would.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from rich.console import Console

from harness.cli import build_parser, main
from harness.commands.serve import build_core
from harness.runner.driver import Progress
from harness.runner.progress import render_line
from harness.runner.verdict import print_verdict
from harness.testing.process import listening_process
from tests.unit.report.synthetic import outage_run

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
SMOKE = str(SCENARIOS / "smoke.toml")


def fails_in_one_line(capsys: pytest.CaptureFixture[str], argv: list[str], *needles: str) -> str:
    """Run ``harness ARGV``; assert exit 2 and exactly one stderr line holding every needle."""
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse exits on a bad option value
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_an_unreachable_provider_url_is_one_line_in_a_real_process(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", SMOKE, "--real-time", "--provider-url", "http://127.0.0.1:9",
         "--out", str(tmp_path / "r"), "--quiet"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "--provider-url" in lines[0]
    assert "no fake provider answers at http://127.0.0.1:9" in lines[0]


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("not-a-url", "expected http://HOST:PORT"),
        ("ftp://127.0.0.1:21", "expected http://HOST:PORT"),
        ("http://127.0.0.1:99999", "is not a URL"),
        ("http://127.0.0.1:80?x=1", "without a query"),
    ],
)
def test_a_malformed_provider_url_is_a_usage_error(capsys: pytest.CaptureFixture[str], url: str, needle: str) -> None:
    fails_in_one_line(capsys, ["run", SMOKE, "--real-time", "--provider-url", url], "--provider-url", needle)
    fails_in_one_line(capsys, ["load", SMOKE, "--provider-url", url], "--provider-url", needle)


def test_a_provider_url_that_is_not_a_fake_provider_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "index.html").write_text("hello")
    server = [sys.executable, "-c",
              "import http.server, functools, sys;"
              "h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1]);"
              "s = http.server.HTTPServer(('127.0.0.1', 0), h);"
              "print(f'listening on http://127.0.0.1:{s.server_port}', flush=True); s.serve_forever()",
              str(tmp_path)]  # fmt: skip
    with listening_process(server) as port:
        fails_in_one_line(
            capsys,
            ["run", SMOKE, "--real-time", "--provider-url", f"http://127.0.0.1:{port}", "--out", str(tmp_path / "r")],
            "--provider-url", "answered 404 to /_fake/health: no fake provider",
        )  # fmt: skip


@pytest.mark.parametrize("out", ["/proc/harness-report", "FILE"])
def test_an_unwritable_out_folder_is_one_line_before_the_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, out: str
) -> None:
    if out == "FILE":  # a file where the folder should be
        out = str(tmp_path / "taken")
        Path(out).write_text("not a folder")
    fails_in_one_line(capsys, ["run", SMOKE, "--out", out, "--quiet"], "--out", "cannot write the report to")


@pytest.mark.parametrize("seed", ["99999999999999999999999", "-1", "seven", str(2**63)])
@pytest.mark.parametrize("command", [["run", SMOKE], ["serve"], ["load", SMOKE]])
def test_a_seed_out_of_range_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], command: list[str], seed: str
) -> None:
    fails_in_one_line(capsys, [*command, "--seed", seed], "--seed", "expected an integer from 0 to 2**63-1")


def test_the_largest_seed_is_accepted() -> None:
    args = build_parser().parse_args(["run", SMOKE, "--seed", str(2**63 - 1)])
    assert args.seed == 2**63 - 1


def test_an_unknown_client_kind_lists_every_kind(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = (SCENARIOS / "smoke.toml").read_text(encoding="utf-8")
    assert "[[client.models]]\n" in text
    bad = tmp_path / "typo.toml"
    bad.write_text(text.replace("[[client.models]]\n", '[client]\nkind = "opnai-sdk"\n\n[[client.models]]\n', 1))
    line = fails_in_one_line(capsys, ["run", str(bad), "--out", str(tmp_path / "r")], "client.kind", 'got "opnai-sdk"')
    for kind in ("reference", "openai-sdk", "anthropic-sdk", "litellm"):
        assert repr(kind) in line or f'"{kind}"' in line, line


def test_a_missing_command_and_an_unknown_option_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    fails_in_one_line(capsys, [], "a COMMAND is required")
    fails_in_one_line(capsys, ["run", SMOKE, "--no-such-option"], "unrecognized arguments: --no-such-option")
    fails_in_one_line(
        capsys, ["run", SMOKE, "--provider-url", "http://127.0.0.1:9"], "--provider-url needs --real-time"
    )


def test_serve_takes_the_seed_of_the_scenario_file() -> None:
    args = build_parser().parse_args(["serve", "--scenario", str(SCENARIOS / "rate_limit_storm.toml")])
    assert build_core(args).seed == 11  # the file says seed = 11
    args = build_parser().parse_args(["serve", "--scenario", str(SCENARIOS / "rate_limit_storm.toml"), "--seed", "3"])
    assert build_core(args).seed == 3  # the command line overrides the file


def _health(port: int) -> dict[str, object]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_fake/health", timeout=10) as response:
        health: dict[str, object] = json.loads(response.read())
        return health


def test_a_remote_provider_started_with_another_scenario_is_warned_about(tmp_path: Path) -> None:
    from harness.preflight import check_provider
    from harness.scenario.model import load_scenario

    storm = load_scenario(SCENARIOS / "rate_limit_storm.toml")
    smoke = load_scenario(SCENARIOS / "smoke.toml")
    serve = [sys.executable, "-m", "harness.cli", "serve", "--scenario", str(SCENARIOS / "rate_limit_storm.toml")]
    with listening_process(serve) as port:
        url = f"http://127.0.0.1:{port}"
        assert _health(port)["seed"] == 11
        assert check_provider(url, storm.provider) == []  # the same file: no warning
        (warning,) = check_provider(url, smoke.provider)
        assert "was not started with this scenario's [provider] table" in warning
        assert "its seed is 11, the scenario's 1" in warning
        (warning,) = check_provider(url, storm.with_seed(12).provider)  # same file, another --seed
        assert "its seed is 11, the scenario's 12" in warning


@pytest.mark.slow
def test_harness_run_prints_the_mismatch_warning_on_one_line(tmp_path: Path) -> None:
    short = tmp_path / "short_smoke.toml"
    text = (SCENARIOS / "smoke.toml").read_text(encoding="utf-8")
    assert "duration_s = 30\n" in text
    short.write_text(text.replace("duration_s = 30\n", "duration_s = 1\n"), encoding="utf-8")
    serve = [sys.executable, "-m", "harness.cli", "serve", "--scenario", str(SCENARIOS / "rate_limit_storm.toml")]
    with listening_process(serve) as port:
        done = subprocess.run(
            [sys.executable, "-m", "harness.cli", "run", str(short), "--real-time", "--quiet",
             "--provider-url", f"http://127.0.0.1:{port}", "--out", str(tmp_path / "r")],
            capture_output=True, text=True, timeout=120, cwd=tmp_path,
        )  # fmt: skip
    warnings = [line for line in done.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1, done.stderr
    assert warnings[0].startswith("harness run: warning: the provider at http://127.0.0.1:")


@pytest.mark.parametrize("command", ["run", "serve", "load"])
def test_help_text_has_no_rst_markup(capsys: pytest.CaptureFixture[str], command: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for markup in ("``", ":mod:", ":class:", ":func:"):
        assert markup not in out, out


def test_the_progress_line_says_when_the_run_is_draining() -> None:
    during = render_line(Progress(t_s=12.0, issued=10, completed=5, ok=5), 20, "closed", "virtual")
    assert during.startswith("t=12.0/20s virtual")
    draining = render_line(Progress(t_s=45.1, issued=10, completed=9, ok=9, in_flight=1), 20, "closed", "virtual")
    assert draining.startswith("draining t=45.1s (load ended at 20s) virtual")
    assert "45.1/20" not in draining


def test_a_comparison_verdict_shows_the_whole_commands_wall_time() -> None:
    result = outage_run(clients=20, duration_s=10.0, outage=(2.0, 4.0))
    out = io.StringIO()
    print_verdict(result, Console(file=out, width=300), total_wall_s=29.8, runs=3)
    verdict = out.getvalue().strip().splitlines()[-1]
    assert f"simulated in {result.facts.wall_s:,.2f} s" in verdict
    assert "all 3 clients run, judged and reported in 29.8 s" in verdict
    alone = io.StringIO()
    print_verdict(result, Console(file=alone, width=300), total_wall_s=29.8, runs=1)
    assert "clients run" not in alone.getvalue()


def test_parse_types_reject_without_argparse() -> None:
    from harness.commands._args import provider_url, seed

    assert seed("0") == 0
    assert provider_url("http://[::1]:8080/") == "http://[::1]:8080"
    with pytest.raises(argparse.ArgumentTypeError):
        provider_url("http://127.0.0.1:0")
