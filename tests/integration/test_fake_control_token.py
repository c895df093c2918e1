"""The control API lets no one in without the control token.

A server given a control token (``--control-token``, ``HARNESS_CONTROL_TOKEN``, or ``start(...,
control_token=)``) answers 401 on ``/_fake/*`` and ``/metrics`` without ``Authorization: Bearer
<token>``; ``harness serve`` refuses a non-loopback bind without one (exit 2, one line naming the
option). The tests bind loopback only: the token is required by configuration, which is the same
code path a non-loopback bind takes (``harness serve`` only adds the refusal and a warning).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import urllib.error
import urllib.request

import pytest

from fake_provider.app import start as start_server
from fake_provider.config import ProviderConfig
from fake_provider.control_auth import is_control_path, is_loopback, token_matches
from fake_provider.core import ProviderCore
from harness.control_api import CONTROL_TOKEN_ENV, control_headers
from tests.integration.test_fake_server_cli import HARNESS, chat, start

TOKEN = "ctl-9e8d7c6b5a49"
CONTROL = [
    ("GET", "/_fake/health"),
    ("GET", "/_fake/requests"),
    ("GET", "/_fake/ledger"),
    ("GET", "/_fake/faults"),
    ("POST", "/_fake/faults"),
    ("POST", "/_fake/reset"),
    ("GET", "/metrics"),
]


def call(port: int, method: str, path: str, headers: dict[str, str] | None = None) -> int:
    body = b'{"faults": [{"kind": "outage", "always": true}]}' if method == "POST" else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_with_a_token_every_control_route_refuses_a_request_without_it() -> None:
    async def scenario() -> None:
        core = ProviderCore(ProviderConfig())
        runner, port = await start_server(core, "127.0.0.1", 0, control_token=TOKEN)
        try:
            for method, path in CONTROL:
                for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": TOKEN}, {"x-api-key": TOKEN}):
                    assert await asyncio.to_thread(call, port, method, path, headers) == 401, (method, path, headers)
            # nothing was changed by the refused requests: no fault schedule was installed
            assert core.faults_dict() == {"faults": []}
            for method, path in CONTROL:
                status = await asyncio.to_thread(call, port, method, path, control_headers(TOKEN))
                assert status == 200, (method, path)
            await asyncio.to_thread(call, port, "POST", "/_fake/reset", control_headers(TOKEN))
            await asyncio.to_thread(call, port, "POST", "/_fake/faults", control_headers(TOKEN))
            assert core.faults_dict()["faults"]  # with the token, the schedule was replaced
            # the provider API itself is not behind the control token
            status, _ = await asyncio.to_thread(chat, port)
            assert status >= 500  # the outage set above, which the token allowed
        finally:
            await runner.cleanup()

    asyncio.run(scenario())


def test_harness_serve_with_a_control_token_from_the_environment() -> None:
    env = {**os.environ, CONTROL_TOKEN_ENV: TOKEN}
    proc, port = start([*HARNESS, "serve", "--port", "0"], env=env)
    try:
        assert call(port, "GET", "/_fake/health") == 401
        assert call(port, "GET", "/metrics") == 401
        assert call(port, "GET", "/_fake/health", control_headers(TOKEN)) == 200
        assert chat(port)[0] == 200
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=15)
    assert TOKEN not in stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "example.org"])
def test_harness_serve_refuses_a_non_loopback_bind_without_a_token(host: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != CONTROL_TOKEN_ENV}
    done = subprocess.run(
        [*HARNESS, "serve", "--host", host, "--port", "0"], capture_output=True, text=True, timeout=30, env=env
    )
    assert done.returncode == 2
    assert done.stdout == ""  # it never listened
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "--control-token" in lines[0]
    assert CONTROL_TOKEN_ENV in lines[0]


def test_an_empty_control_token_is_refused() -> None:
    done = subprocess.run([*HARNESS, "serve", "--control-token", ""], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "--control-token" in done.stderr
    assert "Traceback" not in done.stderr


def test_loopback_detection_and_token_matching() -> None:
    for host in ("127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "", "10.0.0.1", "192.168.1.5", "myhost", "fe80::1"):
        assert not is_loopback(host), host
    assert is_control_path("/_fake/health")
    assert is_control_path("/metrics")
    assert is_control_path("/_fake/x")
    assert not is_control_path("/v1/chat/completions")
    assert not is_control_path("/metrics/x")
    assert token_matches({"authorization": f"Bearer {TOKEN}"}, TOKEN)
    assert token_matches({"authorization": f"bearer  {TOKEN} "}, TOKEN)
    assert not token_matches({"authorization": f"Bearer {TOKEN}x"}, TOKEN)
    assert not token_matches({"authorization": f"Basic {TOKEN}"}, TOKEN)
    assert not token_matches({"authorization": "Bearer caf\udce9"}, TOKEN)  # undecodable bytes: refused, no crash
    assert not token_matches({}, TOKEN)


def test_harness_run_against_a_token_protected_provider(tmp_path: object) -> None:
    """``harness run --real-time --provider-url`` sends the token from ``HARNESS_CONTROL_TOKEN``."""
    from pathlib import Path

    scenario = Path(__file__).parents[2] / "scenarios" / "smoke.toml"
    env = {**os.environ, CONTROL_TOKEN_ENV: TOKEN}
    proc, port = start([*HARNESS, "serve", "--port", "0", "--scenario", str(scenario)], env=env)
    try:
        out = Path(str(tmp_path)) / "report"
        args = ["run", str(scenario), "--real-time", "--provider-url", f"http://127.0.0.1:{port}"]
        done = subprocess.run(
            [*HARNESS, *args, "--quiet", "--out", str(out)], capture_output=True, text=True, timeout=120, env=env
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert json.loads((out / "summary.json").read_text())["passed"] is True
        without = {k: v for k, v in env.items() if k != CONTROL_TOKEN_ENV}
        refused = subprocess.run(
            [*HARNESS, *args, "--quiet", "--out", str(out)], capture_output=True, text=True, timeout=120, env=without
        )
        assert refused.returncode != 0
        assert "Traceback" not in refused.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=15)
