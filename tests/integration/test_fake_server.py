"""The fake provider over real loopback sockets: routes, control API, metrics, transport faults."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from fake_provider.config import ModelConfig, ProviderConfig
from fake_provider.core import ProviderCore, ProviderRequest
from fake_provider.memory import perform
from fake_provider.testing import RunningServer, running
from harness.distributions import Distribution
from harness.pricing import ModelPrice
from harness.wire import anthropic, gemini, openai, openai_client

KEY = {"authorization": "Bearer sk-test"}
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 6}
DRIP = ModelConfig("drip", "openai", ModelPrice.per_million(1, 1), inter_chunk=Distribution.fixed(0.02))


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    async with running(ProviderConfig(allow_fault_headers=True, max_body_bytes=4096).with_models(DRIP)) as s:
        yield s


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_chat_plain_and_streamed_over_the_socket(server: RunningServer, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{server.url}{openai.CHAT_PATH}", json=CHAT, headers=KEY) as resp:
        assert resp.status == 200
        assert resp.headers["x-request-id"].startswith("req_")
        plain = openai_client.parse_chat_body(await resp.read(), resp.headers)
    assert plain.usage.output_tokens == 6
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    async with http.post(f"{server.url}{openai.CHAT_PATH}", json=body, headers=KEY) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        reader = openai_client.ChatStreamReader()
        events = [e async for data in resp.content.iter_any() for e in reader.feed(data)]
    assert "".join(e.text for e in events) == plain.text  # same request, same answer
    assert events[-1].done
    records = list(server.core.log)
    assert [(r.stream, r.status, r.output_tokens) for r in records] == [(False, 200, 6), (True, 200, 6)]
    assert all(r.ttfb_s is not None and r.duration_s >= r.ttfb_s for r in records)


async def test_anthropic_and_gemini_over_the_socket(server: RunningServer, http: aiohttp.ClientSession) -> None:
    body = anthropic.build_messages_body("claude-haiku-4-5", [("user", "Hi")], max_tokens=4, stream=True)
    async with http.post(f"{server.url}{anthropic.MESSAGES_PATH}", data=body, headers={"x-api-key": "ak"}) as resp:
        reader = anthropic.MessageStreamReader()
        events = [e async for data in resp.content.iter_any() for e in reader.feed(data)]
    assert [e.usage for e in events if e.usage][-1].output_tokens == 4
    url = f"{server.url}{gemini.generate_path('gemini-2.5-flash', True, 'v1')}"
    body = gemini.build_generate_body([("user", "Hi")], max_tokens=3)
    async with http.post(url, data=body, headers={"x-goog-api-key": "g"}) as resp:
        reader = gemini.GenerateStreamReader()
        events = [e async for data in resp.content.iter_any() for e in reader.feed(data)] + reader.finish()
    assert events[-1].finish_reason == "MAX_TOKENS"
    assert events[-1].usage is not None
    assert events[-1].usage.output_tokens == 3


async def test_control_api(server: RunningServer, http: aiohttp.ClientSession) -> None:
    for _ in range(3):
        async with http.post(f"{server.url}{openai.CHAT_PATH}", json=CHAT, headers=KEY) as resp:
            await resp.read()
    async with http.get(f"{server.url}/_fake/health") as resp:
        health = await resp.json()
    assert (health["status"], health["requests"]) == ("ok", 3)
    async with http.get(f"{server.url}/_fake/requests?since=1") as resp:
        lines = (await resp.text()).splitlines()
        assert resp.headers["x-next-since"] == "3"
    assert [json.loads(line)["seq"] for line in lines] == [2, 3]
    async with http.get(f"{server.url}/_fake/requests?since=bogus") as resp:
        assert resp.status == 400
    async with http.get(f"{server.url}/_fake/ledger?entries=1") as resp:
        ledger = await resp.json()
    assert ledger["total"]["requests"] == 3
    assert len(ledger["entries"]) == 3
    async with http.get(f"{server.url}/metrics") as resp:
        text = await resp.text()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    requests = families["fake_provider_requests"].samples
    assert [(s.labels["api"], s.labels["status"], s.value) for s in requests] == [("openai.chat", "200", 3.0)]
    assert "fake_provider_request_duration_seconds" in families
    async with http.post(f"{server.url}/_fake/reset") as resp:
        assert (await resp.json()) == {"status": "reset"}
    assert len(server.core.log) == 0


async def test_bad_input_gets_4xx_in_the_providers_shape(server: RunningServer, http: aiohttp.ClientSession) -> None:
    cases = [
        ("POST", openai.CHAT_PATH, b"{not json", 400),
        ("POST", openai.CHAT_PATH, b'{"model": "gpt-4o-mini"}', 400),
        ("POST", openai.CHAT_PATH, b"x" * 5000, 413),
        ("GET", openai.CHAT_PATH, b"", 405),
        ("DELETE", "/v1/nowhere", b"", 404),
        ("POST", anthropic.MESSAGES_PATH, b"[1,2]", 400),
        ("POST", "/v1beta/models/gemini-2.5-flash:generateContent", b'{"contents": 3}', 400),
    ]
    headers = {**KEY, "x-api-key": "ak", "x-goog-api-key": "g"}
    for method, path, data, status in cases:
        async with http.request(method, f"{server.url}{path}", data=data, headers=headers) as resp:
            assert resp.status == status, (method, path)
            body = await resp.json()
            assert "error" in body


async def test_a_chunked_body_over_the_limit_is_a_413(server: RunningServer, http: aiohttp.ClientSession) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 1000

    async with http.post(f"{server.url}{openai.CHAT_PATH}", data=chunks(), headers=KEY) as resp:
        assert resp.status == 413


async def test_transport_faults_on_the_socket(server: RunningServer, http: aiohttp.ClientSession) -> None:
    url = f"{server.url}{openai.CHAT_PATH}"
    with pytest.raises(aiohttp.ClientConnectionError):
        async with http.post(url, json=CHAT, headers={**KEY, "x-fake-fault": "reset"}) as resp:
            await resp.read()
    with pytest.raises(aiohttp.ClientConnectionError):
        async with http.post(url, json=CHAT, headers={**KEY, "x-fake-fault": "silence; seconds=0.2"}) as resp:
            await resp.read()
    body = {**CHAT, "stream": True}
    received: list[bytes] = []

    async def read_cut_stream() -> None:
        async with http.post(url, json=body, headers={**KEY, "x-fake-fault": "cut; after_tokens=2"}) as resp:
            assert resp.status == 200
            async for data in resp.content.iter_any():
                received.append(data)

    with pytest.raises(aiohttp.ClientPayloadError):
        await read_cut_stream()
    assert b"".join(received).count(b"data: ") == 3  # the role chunk and two tokens, then the cut
    records = list(server.core.log)
    assert [(r.status, r.finish, r.output_tokens) for r in records] == [(0, None, 0), (0, None, 0), (200, "cut", 2)]
    assert records[1].duration_s >= 0.2


async def test_a_client_that_leaves_mid_stream_is_logged(server: RunningServer, http: aiohttp.ClientSession) -> None:
    body = {"model": "drip", "messages": [{"role": "user", "content": "x"}], "max_tokens": 200, "stream": True}
    async with http.post(f"{server.url}{openai.CHAT_PATH}", json=body, headers=KEY) as resp:
        await resp.content.readany()
        resp.connection.transport.abort()  # type: ignore[union-attr]
    for _ in range(200):
        if len(server.core.log):
            break
        await asyncio.sleep(0.02)
    (record,) = server.core.log
    assert record.finish == "client_gone"
    assert 0 < record.output_tokens < 200
    assert server.core.ledger.total.output_tokens == record.output_tokens


async def test_socket_and_memory_performers_agree(http: aiohttp.ClientSession) -> None:
    def make() -> ProviderCore:
        return ProviderCore(ProviderConfig(allow_fault_headers=True), wall_clock=lambda: 1_795_000_000.0)

    cases = [
        (openai.CHAT_PATH, {**CHAT, "stream": True, "stream_options": {"include_usage": True}}, {}),
        (openai.CHAT_PATH, CHAT, {}),
        (
            anthropic.MESSAGES_PATH,
            {"model": "claude-sonnet-4-20250514", "max_tokens": 5, "messages": [{"role": "user", "content": "a"}]},
            {},
        ),
        (openai.CHAT_PATH, CHAT, {"x-fake-status": "429; retry_after=1"}),
    ]
    async with running(ProviderConfig(allow_fault_headers=True), wall_clock=lambda: 1_795_000_000.0) as server:
        memory_core = make()
        for path, body, extra in cases:
            headers = {**KEY, "x-api-key": "ak", **extra}
            data = json.dumps(body).encode()
            async with http.post(f"{server.url}{path}", data=data, headers=headers) as resp:
                socket_status, socket_headers, socket_body = resp.status, resp.headers, await resp.read()
            response = perform(memory_core.handle(ProviderRequest("POST", path, "", headers, data)))
            memory_body = await response.read()
            await response.aclose()
            assert socket_status == response.status
            assert socket_body == memory_body
            for name, value in response.headers.items():
                if "ratelimit" in name and "reset" in name:  # counts down from each core's own window start
                    assert name in socket_headers
                    continue
                assert socket_headers[name] == value
        assert [r.output_tokens for r in server.core.log] == [r.output_tokens for r in memory_core.log]
        assert [r.cost_usd for r in server.core.log] == [r.cost_usd for r in memory_core.log]


async def test_the_app_can_be_mounted_as_an_aiohttp_application(http: aiohttp.ClientSession) -> None:
    from aiohttp import web

    from fake_provider.app import CORE, create_app

    core = ProviderCore(ProviderConfig())
    app = create_app(core)
    assert app[CORE] is core
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        async with http.post(f"{url}{openai.CHAT_PATH}", json=CHAT, headers=KEY) as resp:
            assert resp.status == 200
        async with http.get(f"{url}/_fake/health") as resp:
            assert (await resp.json())["requests"] == 1
    finally:
        await runner.cleanup()


async def test_stopping_the_server_ends_a_long_silence_and_records_it() -> None:
    async with running(ProviderConfig(allow_fault_headers=True)) as server:
        url = f"{server.url}{openai.CHAT_PATH}"

        async def silent_request() -> None:
            headers = {**KEY, "x-fake-fault": "silence; seconds=600"}
            async with aiohttp.ClientSession() as session, session.post(url, json=CHAT, headers=headers):
                pass

        task = asyncio.create_task(silent_request())
        await asyncio.sleep(0.3)  # the request is in; leaving the block stops the server (1 s grace)
    with pytest.raises(aiohttp.ClientError):
        await task
    (record,) = server.core.log
    assert (record.status, record.finish, record.fault) == (0, "client_gone", "header:silence")


async def test_a_client_that_hangs_up_during_a_silence_is_logged_at_once(server: RunningServer) -> None:
    # as the in-memory transport logs it: when the client gives up, not when the 600 s silence would end
    headers = {**KEY, "x-fake-fault": "silence; seconds=600"}
    timeout = aiohttp.ClientTimeout(total=0.3)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        with pytest.raises(asyncio.TimeoutError):
            async with session.post(f"{server.url}{openai.CHAT_PATH}", json=CHAT, headers=headers):
                pass
    for _ in range(500):
        if len(server.core.log):
            break
        await asyncio.sleep(0.02)
    (record,) = server.core.log
    assert (record.status, record.finish, record.fault) == (0, "client_gone", "header:silence")
    # the client's 0.3 s started before it connected and sent the request, the record's duration when the
    # provider had read it: under load the provider's share is shorter, never the 600 s of the silence
    assert 0 < record.duration_s < 600


async def _chunked_frames(url: str, body: dict[str, object]) -> list[bytes]:
    """The chunked-encoding frames of one response, read off a raw socket."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    data = json.dumps(body).encode()
    head = (
        f"POST {openai.CHAT_PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-test\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    writer.write(head.encode() + data)
    await reader.readuntil(b"\r\n\r\n")
    frames = []
    while True:
        size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
        if size == 0:
            break
        frames.append(await reader.readexactly(size))
        await reader.readexactly(2)
    writer.close()
    return frames


async def test_events_due_together_leave_in_one_write(server: RunningServer, http: aiohttp.ClientSession) -> None:
    body = {**CHAT, "stream": True}
    frames = await _chunked_frames(server.url, body)
    assert len(frames) == 1  # role, 6 text events, the finish and [DONE]: all due at once, one write
    async with http.post(f"{server.url}{openai.CHAT_PATH}", json=body, headers=KEY) as resp:
        read = await resp.read()
    same_events = openai_client.ChatStreamReader().feed(b"".join(frames))
    assert [e.text for e in openai_client.ChatStreamReader().feed(read)] == [e.text for e in same_events]
    drip = await _chunked_frames(server.url, {**body, "model": "drip"})
    assert len(drip) == 6  # role with the first text, then one write per later chunk; finish and [DONE] with the last
    assert [r.output_tokens for r in server.core.log] == [6, 6, 6]
