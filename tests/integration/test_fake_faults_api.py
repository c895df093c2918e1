"""Faults and quotas from the outside: the control API, ``harness serve --scenario``, and the socket path.

Also the performer's direct-write path: plain answers go out as one send of raw bytes, and the
requests it does not cover (HTTP/1.0, ``Connection: close``, ``HEAD``, large bodies) still get a
correct answer through aiohttp.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from fake_provider.config import ProviderConfig
from fake_provider.quotas import Limits, QuotaConfig
from fake_provider.testing import RunningServer, running
from harness.wire import openai

from .test_fake_server_cli import HARNESS, chat, start

KEY = {"authorization": "Bearer sk-test"}
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 4}


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    async with running(ProviderConfig(quotas=QuotaConfig(Limits(rpm=3)))) as s:
        yield s


async def test_post_faults_replaces_the_schedule_and_reset_restarts_it(server: RunningServer) -> None:
    async with aiohttp.ClientSession() as http:
        url = f"{server.url}/_fake/faults"
        async with http.get(url) as resp:
            assert await resp.json() == {"faults": []}
        schedule = {"faults": [{"kind": "outage", "start_s": 0, "duration_s": 3600, "keys": ["sk-test"]}]}
        async with http.post(url, json=schedule) as resp:
            assert resp.status == 200
            stored = await resp.json()
        assert stored["faults"][0]["keys"][0].startswith("key:")  # the key itself is never echoed
        assert "sk-test" not in json.dumps(stored)
        async with http.post(f"{server.url}{openai.CHAT_PATH}", json=CHAT, headers=KEY) as resp:
            assert resp.status == 503
        async with http.post(f"{server.url}{openai.CHAT_PATH}", json=CHAT, headers={"authorization": "Bearer b"}) as r:
            assert r.status == 200  # another key: not a target
        async with http.get(f"{server.url}/_fake/health") as resp:
            health = await resp.json()
        assert (health["faults"], health["quotas"], health["in_flight"]) == (1, True, 0)
        async with http.post(url, json={"faults": [{"kind": "outage", "always": True}, {"kind": "x"}]}) as resp:
            assert resp.status == 400
            assert (await resp.json())["error"].startswith("faults[1].kind: expected one of")
        async with http.post(url, data=b"{nope") as resp:
            assert resp.status == 400
        async with http.get(url) as resp:
            assert len((await resp.json())["faults"]) == 1  # a bad schedule changed nothing
        async with http.post(f"{server.url}/_fake/reset") as resp:
            assert resp.status == 200
        assert len(server.core.log) == 0


async def test_quota_headers_and_429s_over_the_socket(server: RunningServer) -> None:
    async with aiohttp.ClientSession() as http:
        statuses, remaining = [], []
        for _ in range(4):
            async with http.post(f"{server.url}{openai.CHAT_PATH}", json=CHAT, headers=KEY) as resp:
                statuses.append(resp.status)
                remaining.append(resp.headers["x-ratelimit-remaining-requests"])
                hint = resp.headers.get("retry-after-ms")
        assert statuses == [200, 200, 200, 429]
        assert remaining == ["2", "1", "0", "0"]
        assert hint is not None
        assert 59_000 < int(hint) <= 60_000
        async with http.post(f"{server.url}/_fake/reset") as resp:
            assert resp.status == 200
        async with http.post(f"{server.url}{openai.CHAT_PATH}", json=CHAT, headers=KEY) as resp:
            assert resp.status == 200  # the reset forgot the quota state


def test_serve_reads_faults_and_quotas_from_the_scenario(tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        '[provider.quotas]\nrpm = 2\n\n[[faults]]\nkind = "http"\nalways = true\nstatus = 502\nmodels = ["gpt-4o"]\n',
        encoding="utf-8",
    )
    proc, port = start([*HARNESS, "serve", "--scenario", str(scenario), "--seed", "5"])
    try:
        assert [chat(port)[0] for _ in range(3)] == [200, 200, 429]
        status, body = _chat_model(port, "gpt-4o")
        assert (status, body["error"]["type"]) == (502, "server_error")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)
    assert proc.returncode == 0


def _chat_model(port: int, model: str) -> tuple[int, dict[str, object]]:
    import urllib.error
    import urllib.request

    data = json.dumps({**CHAT, "model": model}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{openai.CHAT_PATH}", data=data, headers=KEY)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_bad_fault_in_the_scenario_names_the_field(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.toml"
    scenario.write_text('[[faults]]\nkind = "outage"\nduration_s = -5\n', encoding="utf-8")
    result = subprocess.run(
        [*HARNESS, "serve", "--scenario", str(scenario)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert "faults[0].duration_s: expected a number ≥ 0, got -5" in result.stderr


async def _raw(port: int, request: bytes, head_only: bool = False) -> bytes:
    """Send raw bytes, read until the server closes or a whole response (its head only, for HEAD) arrived."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    data = b""
    try:
        while True:
            piece = await asyncio.wait_for(reader.read(65536), timeout=5)
            if not piece:
                break
            data += piece
            head, sep, body = data.partition(b"\r\n\r\n")
            length = [ln for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length:")]
            if sep and (head_only or (length and len(body) >= int(length[0].split(b":")[1]))):
                break
    finally:
        writer.close()
    return data


async def test_the_direct_write_path_and_its_fallbacks() -> None:
    async with running(ProviderConfig()) as server:
        body = json.dumps(CHAT).encode()

        def request(version: str, method: str = "POST", extra: str = "") -> bytes:
            return (
                f"{method} {openai.CHAT_PATH} HTTP/{version}\r\nHost: x\r\nAuthorization: Bearer k\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
            ).encode() + body

        direct = await _raw(server.port, request("1.1"))
        assert direct.startswith(b"HTTP/1.1 200 OK\r\n")
        head, _, answer = direct.partition(b"\r\n\r\n")
        assert b"Content-Length: %d" % len(answer) in head
        assert json.loads(answer)["usage"]["completion_tokens"] == 4
        for text in (request("1.0"), request("1.1", extra="Connection: close\r\n")):
            answer_bytes = await _raw(server.port, text)
            assert b" 200 OK\r\n" in answer_bytes.split(b"\r\n")[0] + b"\r\n"
            assert json.loads(answer_bytes.partition(b"\r\n\r\n")[2])["object"] == "chat.completion"
        head_request = f"HEAD {openai.CHAT_PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n\r\n".encode()
        head_only = await _raw(server.port, head_request, head_only=True)
        assert head_only.startswith(b"HTTP/1.1 405")
        assert head_only.endswith(b"\r\n\r\n")  # a HEAD answer has no body
        # several requests on one keep-alive connection, answered in order
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as http:
            for _ in range(5):
                async with http.post(f"{server.url}{openai.CHAT_PATH}", json=CHAT, headers=KEY) as resp:
                    assert resp.status == 200
                    await resp.read()
            # a body over the direct-write limit goes through aiohttp's writer
            big = {"model": "text-embedding-3-small", "input": ["word"] * 40, "encoding_format": "float"}
            async with http.post(f"{server.url}/v1/embeddings", json=big, headers=KEY) as resp:
                data = await resp.read()
                assert resp.status == 200
                assert len(data) > 256 * 1024
                assert len(json.loads(data)["data"]) == 40
        assert len(server.core.log) == 10
