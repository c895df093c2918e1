"""Socket and memory performers agree on every fault kind: status, headers, body bytes, event timings.

The same plan is performed twice: by the aiohttp app on a loopback socket (arrival offsets of the
bytes measured at the client), and by the in-memory performer under the virtual-time loop. Both
cores have the same schedule, seed and wall clock and see the same arrivals, so they decide the
same plan. Virtual timings must match the plan exactly. On the socket no byte may arrive before its
planned time (less 5 ms of timer granularity) — a missing 20 ms gap or 300 ms stall fails that —
and none much after it: lateness is what a busy 2-core machine adds, so that bound is generous.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from fake_provider.config import ModelConfig, ProviderConfig
from fake_provider.core import ProviderCore, ProviderRequest
from fake_provider.memory import perform
from fake_provider.plan import Plan
from fake_provider.schedule import FaultSchedule
from fake_provider.testing import RunningServer, running
from harness import vtime
from harness.distributions import Distribution
from harness.pricing import ModelPrice
from harness.wire import anthropic, openai

WALL = 1_795_000_000.0
EARLY_S = 0.005  # a byte may arrive this much before its planned time (timer and clock granularity)
LATE_S = 0.4  # and this much after: scheduling noise on a loaded 2-core machine, never an early byte
_PACE = {"ttft": Distribution.fixed(0.05), "inter_chunk": Distribution.fixed(0.02)}
MODELS = (
    ModelConfig("paced-gpt", "openai", ModelPrice.per_million(1, 2), **_PACE),
    ModelConfig("paced-claude", "anthropic", ModelPrice.per_million(1, 2), **_PACE),
    ModelConfig("paced-gemini", "gemini", ModelPrice.per_million(1, 2), **_PACE),
)
KEYS = {"authorization": "Bearer sk-parity", "x-api-key": "ak-parity", "x-goog-api-key": "g-parity"}
IGNORED = {"date", "server", "content-length", "transfer-encoding"}  # added by the socket, not in the plan


_SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}


def request(provider: str, stream: bool, contract: bool = False) -> tuple[str, str, bytes]:
    """(path, query, body) of a small request to the paced model of ``provider``; ``contract``: one that asks
    for a tool call (OpenAI, Anthropic) or JSON output (Gemini), which the output faults break."""
    if provider == "openai":
        body: dict[str, Any] = {"model": "paced-gpt", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
        if contract:
            body |= {"max_tokens": 50, "tool_choice": "required",
                     "tools": [{"type": "function", "function": {"name": "f", "parameters": _SCHEMA}}]}  # fmt: skip
        return openai.CHAT_PATH, "", json.dumps({**body, "stream": stream}).encode()
    if provider == "anthropic":
        body = {"model": "paced-claude", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
        if contract:
            body |= {"max_tokens": 50, "tools": [{"name": "f", "input_schema": _SCHEMA}]}
        return anthropic.MESSAGES_PATH, "", json.dumps({**body, "stream": stream}).encode()
    method = "streamGenerateContent" if stream else "generateContent"
    body = {"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"maxOutputTokens": 5}}
    if contract:
        body["generationConfig"] = {"responseMimeType": "application/json", "responseJsonSchema": _SCHEMA}
    return f"/v1beta/models/paced-gemini:{method}", "alt=sse" if stream else "", json.dumps(body).encode()


@dataclass
class Seen:
    """What a client observed: status, headers, the body, and when each piece of it arrived."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    headers_at: float | None = None
    body: bytes = b""
    arrivals: list[tuple[int, float]] = field(default_factory=list)  # (bytes so far, seconds since the send)
    broken: bool = False  # the connection failed (reset, silence, cut) …
    broken_at: float | None = None  # … this long after the send

    def time_of(self, offset: int) -> float:
        """When the byte at ``offset`` (exclusive end) had arrived."""
        return next(t for size, t in self.arrivals if size >= offset)


def expected_times(plan: Plan) -> list[tuple[int, float]]:
    """(body bytes so far, planned time) after each write of the plan."""
    if plan.chunks is None:
        return [(len(plan.body), plan.headers_delay_s)] if plan.body else []
    out: list[tuple[int, float]] = []
    size, t = 0, plan.headers_delay_s
    for chunk in plan.chunks:
        t += chunk.delay_s
        if chunk.data:
            size += len(chunk.data)
            if out and chunk.delay_s <= 0:
                out[-1] = (size, out[-1][1])  # due at the same instant as the write before: one read
            else:
                out.append((size, t))
    return out


async def over_the_socket(session: aiohttp.ClientSession, url: str, query: str, body: bytes) -> Seen:
    loop = asyncio.get_running_loop()
    seen = Seen()
    start = loop.time()
    try:
        async with session.post(url + (f"?{query}" if query else ""), data=body, headers=KEYS) as resp:
            seen.status, seen.headers = resp.status, {k.lower(): v for k, v in resp.headers.items()}
            seen.headers_at = loop.time() - start
            async for piece in resp.content.iter_any():
                seen.body += piece
                seen.arrivals.append((len(seen.body), loop.time() - start))
    except (aiohttp.ClientError, ConnectionError):
        seen.broken, seen.broken_at = True, loop.time() - start
    return seen


def in_memory(core: ProviderCore, path: str, query: str, body: bytes) -> Seen:
    async def main() -> Seen:
        loop = asyncio.get_running_loop()
        seen = Seen()
        start = loop.time()
        response = perform(core.handle(ProviderRequest("POST", path, query, KEYS, body)))
        try:
            await response.headers_sent()
            seen.status, seen.headers, seen.headers_at = response.status, dict(response.headers), loop.time() - start
            async for piece in response:
                seen.body += piece
                seen.arrivals.append((len(seen.body), loop.time() - start))
        except ConnectionResetError:
            seen.broken, seen.broken_at = True, loop.time() - start
        finally:
            await response.aclose()
        return seen

    return vtime.run(main())


CASES: list[tuple[str, dict[str, Any], str, bool]] = [
    # HTTP answers
    ("http-429-both", {"kind": "http", "status": 429, "retry_after_s": 1.5, "retry_format": "both"}, "openai", False),
    ("http-429-date", {"kind": "http", "status": 429, "retry_after_s": 2, "retry_format": "date"}, "anthropic", False),
    ("http-500-choice", {"kind": "http", "status": [500, 502, 504]}, "gemini", False),
    ("context_length", {"kind": "context_length"}, "openai", False),
    ("content_filter", {"kind": "content_filter"}, "anthropic", False),
    ("outage", {"kind": "outage"}, "anthropic", False),
    ("brownout", {"kind": "brownout", "p": 1.0, "status": 503}, "gemini", True),
    ("flapping", {"kind": "flapping", "down_s": 100, "up_s": 1}, "openai", True),
    # latency
    ("latency", {"kind": "latency", "ttft": 0.1, "inter_token": 0.03}, "openai", True),
    ("latency-plain", {"kind": "latency", "ttft": {"kind": "uniform", "low": 0.05, "high": 0.1}}, "gemini", False),
    ("queueing", {"kind": "queueing", "base": 0.08, "capacity": 2}, "anthropic", False),
    # transport
    ("reset", {"kind": "reset"}, "openai", False),
    ("silence", {"kind": "silence", "silence_s": 0.2}, "anthropic", True),
    ("slow_headers", {"kind": "slow_headers", "seconds": 0.25}, "gemini", False),
    # shape
    ("drop-plain", {"kind": "drop", "headers": ["request-id"], "fields": ["usage.output_tokens"]}, "anthropic", False),
    ("drop-stream", {"kind": "drop", "headers": ["x-request-id"], "fields": ["choices.delta.content"]}, "openai", True),
    # structured answers that break their contract
    ("invalid_json-openai", {"kind": "invalid_json"}, "openai", True),
    ("invalid_json-gemini", {"kind": "invalid_json"}, "gemini", False),
    ("schema_violation-anthropic", {"kind": "schema_violation"}, "anthropic", True),
    ("schema_violation-gemini", {"kind": "schema_violation"}, "gemini", True),
    # streams, on every provider
    *[
        (f"{name}-{provider}", spec, provider, True)
        for provider in ("openai", "anthropic", "gemini")
        for name, spec in [
            ("stream_cut", {"kind": "stream_cut", "after": 2}),
            ("stream_stall", {"kind": "stream_stall", "after": 2, "stall_s": 0.3}),
            ("stream_stall_close", {"kind": "stream_stall", "after": 1, "stall_s": 0.3, "then": "close"}),
            ("malformed_chunk", {"kind": "malformed_chunk", "at": 2}),
            ("no_done", {"kind": "no_done"}),
            ("stream_error", {"kind": "stream_error", "after": 3}),
        ]
    ],
]


def test_every_kind_has_a_parity_case() -> None:
    from fake_provider.fault_spec import KINDS

    assert {spec["kind"] for _, spec, _, _ in CASES} == set(KINDS)


@pytest.fixture
async def pair() -> AsyncIterator[tuple[RunningServer, ProviderCore]]:
    config = ProviderConfig(seed=11).with_models(*MODELS)
    async with running(config, wall_clock=lambda: WALL) as server:
        yield server, ProviderCore(config, wall_clock=lambda: WALL)


@pytest.mark.parametrize(("name", "spec", "provider", "stream"), CASES, ids=[c[0] for c in CASES])
async def test_socket_and_memory_perform_the_same_plan(
    pair: tuple[RunningServer, ProviderCore], name: str, spec: dict[str, Any], provider: str, stream: bool
) -> None:
    server, memory_core = pair
    schedule = FaultSchedule.parse([{**spec, "always": True}])
    for core in (server.core, memory_core):  # the same schedule and a new run: the same arrivals from here
        core.set_faults(schedule)
        core.reset()
    path, query, body = request(provider, stream, spec["kind"] in ("invalid_json", "schema_violation"))
    async with aiohttp.ClientSession() as session:
        socket = await over_the_socket(session, server.url + path, query, body)
    memory = await asyncio.to_thread(in_memory, memory_core, path, query, body)  # its own, virtual-time loop
    plan = memory_core.log.record(1)
    (served,) = server.core.log
    assert served.fault == plan.fault == f"{spec['kind']}#0"

    # the same outcome, the same bytes
    assert (socket.status, socket.broken) == (memory.status, memory.broken)
    assert socket.body == memory.body
    # a rate-limit reset counts down from the tier window's start on the provider's monotonic clock, which
    # the socket server and the in-memory core start apart: present on both, values not comparable
    def stable(headers: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in headers.items() if k not in IGNORED and not ("ratelimit" in k and "reset" in k)}

    assert stable(socket.headers) == stable(memory.headers)
    assert {k for k in socket.headers if k not in IGNORED} == set(memory.headers)
    assert (served.status, served.output_tokens, served.finish, served.cost_usd) == (
        plan.status,
        plan.output_tokens,
        plan.finish,
        plan.cost_usd,
    )

    # the same timeline: exact in virtual time, within the tolerance on the socket
    exchange_plan = _plan_of(memory_core, path, query, body)
    expected = expected_times(exchange_plan)
    if exchange_plan.transport is not None:
        assert memory.broken_at == exchange_plan.silence_s
        assert socket.broken_at is not None
        assert exchange_plan.silence_s - EARLY_S <= socket.broken_at <= exchange_plan.silence_s + LATE_S
        return
    assert memory.headers_at == exchange_plan.headers_delay_s
    assert socket.headers_at is not None
    assert exchange_plan.headers_delay_s - EARLY_S <= socket.headers_at <= exchange_plan.headers_delay_s + LATE_S
    assert [(size, round(t, 9)) for size, t in memory.arrivals] == [(size, round(t, 9)) for size, t in expected]
    for size, t in expected:
        if size <= len(socket.body):
            assert t - EARLY_S <= socket.time_of(size) <= t + LATE_S, (name, size, t, socket.arrivals)


def _plan_of(core: ProviderCore, path: str, query: str, body: bytes) -> Plan:
    """The plan the memory core decided for the case's request (recomputed: same run, same arrival)."""
    core.reset()
    exchange = core.handle(ProviderRequest("POST", path, query, KEYS, body))
    return exchange.plan
