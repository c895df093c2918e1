"""The official SDKs, in process and in virtual time, through the core transport."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from fake_provider.config import ProviderConfig
from fake_provider.context import CallContext
from fake_provider.core import ProviderCore
from fake_provider.fault import Fault
from harness.client.types import ChatRequest, Message
from harness.pricing import PriceTable
from harness.runner.sdk_clients import SDKClientSpec, make_sdk_client
from harness.runner.sdk_transport import CoreTransport
from harness.vtime import run

MODELS = {"openai-sdk": "gpt-4o-mini", "anthropic-sdk": "claude-haiku-4-5"}


def first_attempt_429(ctx: CallContext) -> Fault | None:
    return Fault("test:429", status=429, retry_after_s=0.3) if ctx.attempt == 0 else None


def cut_streams(ctx: CallContext) -> Fault | None:
    return Fault("test:cut", cut_after_tokens=3) if ctx.stream else None


def drive(kind: str, requests: list[ChatRequest], *fault_sources: object) -> tuple[ProviderCore, list[object], float]:
    async def main() -> tuple[ProviderCore, list[object], float]:
        loop = asyncio.get_running_loop()
        core = ProviderCore(ProviderConfig(), clock=loop.time)
        core.fault_sources.extend(fault_sources)  # type: ignore[arg-type]
        spec = SDKClientSpec(kind=kind, max_retries=2, timeout_s=5.0)
        client = make_sdk_client(spec, "http://fake", lambda: CoreTransport(core), PriceTable.default(), loop.time)
        results = [await client.call(r) for r in requests]
        await client.aclose()
        return core, [*results, *client.outcomes()], loop.time()

    return run(main())


def req(kind: str, i: int, stream: bool = False) -> ChatRequest:
    return ChatRequest(
        model=MODELS[kind],
        messages=(Message("user", "hello there"),),
        max_tokens=20,
        stream=stream,
        request_id=f"r{i}",
        client_id="app-1",
    )


@pytest.mark.parametrize("kind", ["openai-sdk", "anthropic-sdk"])
@pytest.mark.parametrize("stream", [False, True])
def test_sdk_retries_a_hinted_429_in_virtual_time(kind: str, stream: bool) -> None:
    core, results, elapsed = drive(kind, [req(kind, 1, stream)], first_attempt_429)
    ok, outcome = results
    assert ok is True
    records = list(core.log)
    assert [(r.status, r.attempt, r.logical_id, r.client_id) for r in records] == [
        (429, 0, "r1", "app-1"),
        (200, 1, "r1", "app-1"),
    ]
    assert records[1].t - records[0].t >= 0.3  # the SDK waited for the hint, on the virtual clock
    assert elapsed < 5.0
    assert outcome.ok  # type: ignore[attr-defined]
    assert outcome.model == MODELS[kind]  # type: ignore[attr-defined]
    # the app's cost (usage × prices) equals the provider's bill for the answer
    assert Decimal(outcome.cost_usd) == sum(Decimal(r.cost_usd) for r in records)  # type: ignore[attr-defined]
    assert Decimal(outcome.cost_usd) > 0  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["openai-sdk", "anthropic-sdk"])
def test_a_cut_stream_is_an_error_outcome_not_a_truncated_answer(kind: str) -> None:
    _, results, _ = drive(kind, [req(kind, 2, stream=True)], cut_streams)
    ok, outcome = results
    assert ok is False
    assert not outcome.ok  # type: ignore[attr-defined]
    assert outcome.status != "ok"  # type: ignore[attr-defined]
