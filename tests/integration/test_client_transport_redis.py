"""The aiohttp transport's error mapping and pooling over real sockets; policies shared through Redis."""

from __future__ import annotations

import asyncio
import socket
import uuid
from decimal import Decimal

import aiohttp
import pytest

from fake_provider.testing import running
from harness.client import (
    AiohttpTransport,
    BudgetRule,
    ClientConfig,
    HttpRequest,
    LimitConfig,
    RedisConfig,
    ResilientClient,
    RetryConfig,
    Timeouts,
)
from harness.client.transports import map_aiohttp_error
from harness.errors import (
    BudgetExceeded,
    ConnectError,
    ConnectionReset,
    DeadlineExceeded,
    TransportError,
)
from tests.unit.client.test_client_support import ask, provider, spec


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_a_refused_connection_is_a_connect_error() -> None:
    transport = AiohttpTransport(connect_timeout_s=1)
    try:
        with pytest.raises(ConnectError, match="could not connect"):
            await transport.send(HttpRequest("POST", f"http://127.0.0.1:{free_port()}/v1/chat/completions", {}, b"{}"))
    finally:
        await transport.aclose()


def test_aiohttp_failures_map_in_one_place() -> None:
    disconnected = map_aiohttp_error(aiohttp.ServerDisconnectedError(), "x")
    assert isinstance(disconnected, ConnectionReset)
    assert isinstance(map_aiohttp_error(aiohttp.ClientPayloadError("cut"), "x"), ConnectionReset)
    timeout = map_aiohttp_error(aiohttp.ConnectionTimeoutError(), "x")
    assert isinstance(timeout, DeadlineExceeded)
    assert timeout.code == "connect"
    assert isinstance(map_aiohttp_error(ConnectionResetError(), "x"), ConnectionReset)
    other = map_aiohttp_error(aiohttp.InvalidURL("nope"), "x")
    assert type(other) is TransportError


async def test_pooled_connections_survive_an_abandoned_stream() -> None:
    async with running(provider()) as server:
        cfg = ClientConfig(models=(spec("slow"),), timeouts=Timeouts(stall_s=0.2, first_token_s=1, total_s=5))
        async with ResilientClient(cfg.with_base_url(server.url, override=True)) as client:
            async with client.stream(ask("slow", max_tokens=5)) as stream:
                async for _ in stream:
                    break  # leave mid-stream: that connection must not go back to the pool
            for i in range(5):
                response = await client.chat(ask("slow", text=f"q{i}", max_tokens=1))
                assert response.usage.output_tokens == 1
            assert [o.status for o in client.outcomes()] == ["Cancelled"] + ["ok"] * 5


async def test_a_scheme_the_transport_cannot_speak_is_a_transport_error() -> None:
    transport = AiohttpTransport()
    try:
        with pytest.raises(TransportError):
            await transport.send(HttpRequest("POST", "gopher://127.0.0.1/", {}, b""))
    finally:
        await transport.aclose()


@pytest.mark.redis
async def test_two_clients_share_one_rate_limit_through_redis(redis_url: str) -> None:
    shared = RedisConfig(redis_url, name=f"test-{uuid.uuid4().hex[:8]}")
    cfg = ClientConfig(
        models=(spec("gpt-4o-mini"),),
        limits=LimitConfig(rpm=3),
        redis=shared,
        retry=RetryConfig(max_attempts=1),
        timeouts=Timeouts(total_s=1),
    )
    async with running(provider()) as server:
        cfg = cfg.with_base_url(server.url, override=True)
        async with ResilientClient(cfg) as a, ResilientClient(cfg) as b:
            results = await asyncio.gather(*(c.call(ask(text=f"q{i}")) for i, c in enumerate([a, b] * 3)))
        assert sorted(results) == [False] * 3 + [True] * 3  # one quota of 3 per minute for both processes
        assert len(server.core.log) == 3
        refused = [o for o in a.outcomes() + b.outcomes() if not o.ok]
        assert {o.status for o in refused} == {"DeadlineExceeded"}  # the limiter's wait would pass the deadline
        assert all(o.attempts == () for o in refused)


@pytest.mark.redis
async def test_a_shared_hard_budget_holds_across_clients(redis_url: str) -> None:
    shared = RedisConfig(redis_url, name=f"test-{uuid.uuid4().hex[:8]}")
    cfg = ClientConfig(
        models=(spec("gpt-4o-mini"),),
        budgets=(BudgetRule("global", "*", "total", "rolling", hard_usd=Decimal("0.000015")),),
        redis=shared,
    )
    async with running(provider()) as server:
        cfg = cfg.with_base_url(server.url, override=True)
        async with ResilientClient(cfg) as a, ResilientClient(cfg) as b:
            await a.chat(ask(text="one"))
            await b.chat(ask(text="two"))
            with pytest.raises(BudgetExceeded):
                await a.chat(ask(text="three"))
        assert len(server.core.log) == 2
        assert Decimal(server.core.ledger_dict()["total"]["cost_usd"]) <= Decimal("0.000015")


async def test_a_request_that_cannot_be_sent_is_a_bad_request_not_a_crash() -> None:
    async with running(provider()) as server:
        cfg = ClientConfig(models=(spec("gpt-4o-mini"),)).with_base_url(server.url, override=True)
        async with ResilientClient(cfg) as client:
            assert await client.call(ask(request_id="bad\r\nx-injected: 1")) is False
        (outcome,) = client.outcomes()
        assert outcome.status == "BadRequest"
        assert len(outcome.attempts) == 1  # not retried
        assert len(server.core.log) == 0  # nothing reached the provider
