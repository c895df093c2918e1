"""The official SDKs and LiteLLM, in process and in virtual time, through the core transport / respx."""

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
from harness.vtime import run

MODELS = {"openai-sdk": "gpt-4o-mini", "anthropic-sdk": "claude-haiku-4-5", "litellm": "gpt-4o-mini"}
APIS = {name: m.api for m in ProviderConfig().models for name in m.names}


def first_attempt_429(ctx: CallContext) -> Fault | None:
    return Fault("test:429", status=429, retry_after_s=0.3) if ctx.attempt == 0 else None


def cut_streams(ctx: CallContext) -> Fault | None:
    return Fault("test:cut", cut_after_tokens=3) if ctx.stream else None


class FirstCall429:
    """429 with a 0.3 s hint on each logical request's first call, whatever attempt number it sends."""

    def __init__(self) -> None:
        self.seen: set[str | None] = set()

    def __call__(self, ctx: CallContext) -> Fault | None:
        if ctx.logical_id in self.seen:
            return None
        self.seen.add(ctx.logical_id)
        return Fault("test:429", status=429, retry_after_s=0.3)


def drive(kind: str, requests: list[ChatRequest], *fault_sources: object) -> tuple[ProviderCore, list[object], float]:
    async def main() -> tuple[ProviderCore, list[object], float]:
        loop = asyncio.get_running_loop()
        core = ProviderCore(ProviderConfig(), clock=loop.time)
        core.fault_sources.extend(fault_sources)  # type: ignore[arg-type]
        spec = SDKClientSpec(kind=kind, max_retries=2, timeout_s=5.0)
        client = make_sdk_client(spec, "http://fake", core, PriceTable.default(), loop.time, APIS)
        results = [await client.call(r) for r in requests]
        await client.aclose()
        return core, [*results, *client.outcomes()], loop.time()

    return run(main())


def req(kind: str, i: int, stream: bool = False, model: str | None = None) -> ChatRequest:
    return ChatRequest(
        model=model or MODELS[kind],
        messages=(Message("user", "hello there"),),
        max_tokens=20,
        stream=stream,
        request_id=f"r{i}",
        client_id="app-1",
    )


@pytest.mark.parametrize("kind", ["openai-sdk", "anthropic-sdk", "litellm"])
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


@pytest.mark.parametrize(
    ("kind", "model"),
    [("openai-sdk", None), ("anthropic-sdk", None), ("litellm", "gpt-4o-mini"), ("litellm", "claude-haiku-4-5")],
)
def test_a_cut_stream_is_an_error_outcome_not_a_truncated_answer(kind: str, model: str | None) -> None:
    _, results, _ = drive(kind, [req(kind, 2, stream=True, model=model)], cut_streams)
    ok, outcome = results
    assert ok is False
    assert not outcome.ok  # type: ignore[attr-defined]
    assert outcome.status != "ok"  # type: ignore[attr-defined]


@pytest.mark.parametrize("model", ["gpt-4o-mini", "claude-haiku-4-5", "gemini-2.5-flash"])
@pytest.mark.parametrize("stream", [False, True])
def test_litellm_speaks_each_api_in_process_and_its_cost_is_the_bill(model: str, stream: bool) -> None:
    core, results, _ = drive("litellm", [req("litellm", 3, stream=stream, model=model)])
    ok, outcome = results
    assert ok is True, outcome
    (record,) = core.log
    assert (record.status, record.model, record.logical_id, record.stream) == (200, model, "r3", stream)
    assert record.api.split(".")[0] == APIS[model]  # LiteLLM chose the model's own API
    assert outcome.model == model  # type: ignore[attr-defined]
    assert outcome.provider == APIS[model]  # type: ignore[attr-defined]
    assert (outcome.input_tokens, outcome.output_tokens) == (record.prompt_tokens, record.output_tokens)  # type: ignore[attr-defined]
    assert Decimal(outcome.cost_usd) == Decimal(record.cost_usd) > 0  # type: ignore[attr-defined]


@pytest.mark.parametrize("model", ["gpt-4o-mini", "claude-haiku-4-5"])
def test_litellm_retries_are_visible_to_the_provider_log(model: str) -> None:
    # whoever retries inside LiteLLM (the openai SDK for OpenAI models, LiteLLM itself otherwise),
    # every attempt reaches the provider with the logical id, so the judge sees the retry pattern
    core, results, _ = drive("litellm", [req("litellm", 4, model=model)], FirstCall429())
    ok, outcome = results
    assert ok is True, outcome
    records = list(core.log)
    assert [(r.status, r.logical_id) for r in records] == [(429, "r4"), (200, "r4")]
    assert Decimal(outcome.cost_usd) == Decimal(records[1].cost_usd)  # type: ignore[attr-defined]


def test_litellm_routing_is_undone_when_the_client_closes() -> None:
    import httpx
    import litellm

    before = litellm.disable_aiohttp_transport

    async def main() -> None:
        loop = asyncio.get_running_loop()
        core = ProviderCore(ProviderConfig(), clock=loop.time)
        spec = SDKClientSpec(kind="litellm", max_retries=0, timeout_s=5.0)
        client = make_sdk_client(spec, "http://fake.invalid", core, PriceTable.default(), loop.time, APIS)
        assert litellm.disable_aiohttp_transport is True  # LiteLLM speaks httpx, which respx routes
        async with httpx.AsyncClient() as http:  # any other URL is refused, never sent to the network
            with pytest.raises(Exception, match="not mocked"):
                await http.get("http://elsewhere.invalid/")
        await client.aclose()
        async with httpx.AsyncClient() as http:  # unpatched again: a real (failing) lookup, not respx
            with pytest.raises(httpx.TransportError):  # a connect error or (virtual clock) timeout
                await http.get("http://elsewhere.invalid/")

    run(main())
    assert litellm.disable_aiohttp_transport == before
