"""How a stream plan leaves the socket performer: how many sends, and the bytes of each.

The performer runs on a request whose transport records every send, so these tests see the writes
themselves (a client reading from a socket cannot: TCP may split or merge them).
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any
from unittest import mock

import pytest
from aiohttp import web
from aiohttp.http_writer import StreamWriter
from aiohttp.test_utils import make_mocked_request

from fake_provider.app import perform
from fake_provider.config import ModelConfig, ProviderConfig
from fake_provider.core import ProviderCore, ProviderRequest
from fake_provider.plan import Plan
from harness.distributions import Distribution
from harness.pricing import ModelPrice
from harness.wire import anthropic, gemini, openai, openai_client

DRIP = ModelConfig("drip", "openai", ModelPrice.per_million(1, 1), inter_chunk=Distribution.fixed(0.001))
KEYS = {"authorization": "Bearer sk-test", "x-api-key": "ak-test", "x-goog-api-key": "g-test"}


class RecordingTransport:
    """Stands for the connection's transport: every send is kept, nothing is closed."""

    def __init__(self) -> None:
        self.sends: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.sends.append(bytes(data))

    def writelines(self, parts: Any) -> None:
        self.sends.append(b"".join(parts))

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def close(self) -> None:
        return None


def recorded_request(path: str) -> tuple[web.BaseRequest, RecordingTransport]:
    """A keep-alive HTTP/1.1 request whose connection records what is sent on it."""
    transport = RecordingTransport()
    protocol = mock.Mock(transport=transport, _paused=False)  # never paused: drain returns at once
    writer = StreamWriter(protocol, asyncio.get_running_loop())
    request = make_mocked_request("POST", path, writer=writer, transport=transport, protocol=protocol)
    return request, transport


async def sends_of(path: str, body: dict[str, Any], core: ProviderCore) -> list[bytes]:
    request, transport = recorded_request(path)
    exchange = core.handle(ProviderRequest("POST", path, "", KEYS, json.dumps(body).encode()))
    await perform(request, exchange)
    return transport.sends


async def aiohttp_sends(path: str, plan: Plan) -> list[bytes]:
    """What aiohttp's own stream response sends for ``plan`` with every event due at once."""
    request, transport = recorded_request(path)
    response = web.StreamResponse(status=plan.status, headers=plan.headers)
    await response.prepare(request)
    await response.write_eof(b"".join(chunk.data for chunk in plan.chunks or ()))
    return transport.sends


def undated(data: bytes) -> bytes:
    return re.sub(rb"\r\nDate: [^\r]*\r\n", b"\r\nDate: -\r\n", data)


def chunked_body(data: bytes) -> bytes:
    """The payload of a chunked HTTP body (the frames' contents, joined)."""
    out = b""
    while True:
        size_line, data = data.split(b"\r\n", 1)
        size = int(size_line, 16)
        if size == 0:
            return out
        out += data[:size]
        data = data[size + 2 :]


async def test_a_stream_due_at_once_leaves_in_one_send_headers_included() -> None:
    core = ProviderCore(ProviderConfig())
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8, "stream": True}
    sends = await sends_of(openai.CHAT_PATH, body, core)
    assert len(sends) == 1
    head, payload = sends[0].split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nTransfer-Encoding: chunked" in head
    assert payload.endswith(b"\r\n0\r\n\r\n")  # the chunked terminator too
    events = openai_client.ChatStreamReader().feed(chunked_body(payload))
    assert sum(1 for e in events if e.text) == 8
    assert events[-1].done
    assert [r.output_tokens for r in core.log] == [8]


async def test_anthropic_stream_due_at_once_is_one_send_too() -> None:
    core = ProviderCore(ProviderConfig())
    body = {"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 5}
    sends = await sends_of(anthropic.MESSAGES_PATH, {**body, "stream": True}, core)
    assert len(sends) == 1
    events = anthropic.MessageStreamReader().feed(chunked_body(sends[0].split(b"\r\n\r\n", 1)[1]))
    assert [e.usage for e in events if e.usage][-1].output_tokens == 5


async def test_a_timed_stream_sends_its_headers_with_the_first_events_then_one_send_per_delay() -> None:
    core = ProviderCore(ProviderConfig().with_models(DRIP))
    body = {"model": "drip", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, "stream": True}
    sends = await sends_of(openai.CHAT_PATH, body, core)
    # headers + role + first token; tokens 2 and 3; token 4 with the finish, [DONE] and the terminator
    assert len(sends) == 4
    assert sends[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert sends[0].split(b"\r\n\r\n", 1)[1].count(b"data: ") == 2
    assert [s.count(b"data: ") for s in sends[1:]] == [1, 1, 3]
    assert sends[-1].endswith(b"\r\n0\r\n\r\n")
    payload = chunked_body(b"".join(sends).split(b"\r\n\r\n", 1)[1])
    assert sum(1 for e in openai_client.ChatStreamReader().feed(payload) if e.text) == 4


CASES = [
    (openai.CHAT_PATH, {"model": "gpt-4o-mini", "stream_options": {"include_usage": True}}),
    (anthropic.MESSAGES_PATH, {"model": "claude-haiku-4-5"}),
    (gemini.generate_path("gemini-2.5-flash", True, "v1beta"), {}),
]


@pytest.mark.parametrize(("path", "extra"), CASES)
async def test_a_stream_sent_at_once_is_what_aiohttp_sends_for_it(path: str, extra: dict[str, Any]) -> None:
    body = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 7, "stream": True, **extra}
    if "gemini" in path:
        body = {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}], "generationConfig": {"maxOutputTokens": 7}}
    route, _, query = path.partition("?")
    exchange = ProviderCore(ProviderConfig()).handle(
        ProviderRequest("POST", route, query, KEYS, json.dumps(body).encode())
    )
    assert exchange.plan.chunks
    request, transport = recorded_request(path)
    await perform(request, exchange)
    assert len(transport.sends) == 1
    reference = await aiohttp_sends(path, exchange.plan)  # (headers, then the body: two sends)
    assert undated(transport.sends[0]) == undated(b"".join(reference))
