"""``harness serve`` and ``python -m fake_provider`` as a user runs them: in a subprocess, on loopback."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

BIN = Path(sys.executable).parent
HARNESS = [str(BIN / "harness")] if (BIN / "harness").exists() else [sys.executable, "-m", "harness.cli"]
LISTENING = re.compile(r"^listening on http://127\.0\.0\.1:(\d+)$")


def start(
    command: list[str], stderr: Any = subprocess.PIPE, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    match = LISTENING.match(line)
    if match is None:
        proc.kill()
        pytest.fail(f"unexpected first line {line!r}; stderr: {proc.communicate()[1]}")
    return proc, int(match.group(1))


def chat(port: int, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3})
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/chat/completions",
        data=body.encode(),
        headers={"authorization": "Bearer sk-test", "content-type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize(
    ("command", "sig"),
    [([*HARNESS, "serve"], signal.SIGINT), ([sys.executable, "-m", "fake_provider"], signal.SIGTERM)],
)
def test_serve_prints_the_url_answers_and_stops_cleanly(command: list[str], sig: signal.Signals) -> None:
    proc, port = start([*command, "--port", "0", "--seed", "3"])
    try:
        status, body = chat(port)
        assert status == 200
        assert body["usage"]["completion_tokens"] == 3
    finally:
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr


def test_options_and_a_scenario_file(tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text('[provider]\nallowed_keys = ["sk-other"]\n\n[load]\nusers = 5\n', encoding="utf-8")
    proc, port = start(
        [*HARNESS, "serve", "--scenario", str(scenario), "--allow-fault-headers", "--api-key", "sk-test"]
    )
    try:
        assert chat(port)[0] == 200  # --api-key replaces the scenario's allow-list
        assert chat(port, {"x-fake-status": "503"})[0] == 503
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)
    assert proc.returncode == 0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["serve", "--port", "abc"], "--port"),
        (["serve", "--port", "70000"], "--port"),
        (["serve", "--max-body-bytes", "1"], "--max-body-bytes"),
        (["serve", "--bogus"], "--bogus"),
        (["serve", "--scenario", "/nonexistent/x.toml"], "--scenario"),
        ([], "COMMAND"),
    ],
)
def test_usage_errors_exit_2_naming_the_option(args: list[str], needle: str) -> None:
    result = subprocess.run([*HARNESS, *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert needle in result.stderr


def test_an_invalid_scenario_names_the_field(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.toml"
    scenario.write_text("[provider]\n[[provider.models]]\nname = 'gpt-4o'\nttft = 'slow'\n", encoding="utf-8")
    result = subprocess.run(
        [*HARNESS, "serve", "--scenario", str(scenario)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert "provider.models[0].ttft" in result.stderr
