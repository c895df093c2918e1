"""Third-party clients under test: the official openai and anthropic SDKs, driven like an app would.

Each adapter is a :class:`~harness.runner.driver.ClientUnderTest`: it calls the SDK the way a typical
application does (``chat.completions.create`` / ``messages.create``, streaming when the request asks,
the SDK's own retries and timeouts), and records one :class:`~harness.records.OutcomeRecord` per logical
request, because an SDK keeps no outcome log of its own. Cost is what such an app would compute: the
usage the SDK returned, priced with the harness price table (a stream that broke before its usage
chunk costs nothing in the app's eyes, which is exactly the drift the judge reports).

The logical request id travels as ``x-harness-request-id`` (``extra_headers``, which the SDKs repeat
on their retries), so the provider's log links every retry to its request; the SDKs number their
attempts with ``x-stainless-retry-count``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx2
import openai

from harness.client.types import ChatRequest, Message
from harness.clock import Clock
from harness.pricing import PriceTable, Usage
from harness.records import OutcomeRecord
from harness.report.result import ClientEvent
from harness.validate import Table

__all__ = ["SDK_KINDS", "AnthropicSDKClient", "OpenAISDKClient", "SDKClientSpec", "make_sdk_client"]

SDK_KINDS = ("openai-sdk", "anthropic-sdk")
#: the SDKs' backoff cap (min(0.5·2^n, 8) s): the herd gate's W for these clients
SDK_BACKOFF_CAP_S = 8.0


@dataclass(frozen=True, slots=True)
class SDKClientSpec:
    """The ``[client]`` section for an SDK under test.

    Example::

        [client]
        kind = "openai-sdk"
        max_retries = 2        # the SDK default
        timeout_s = 600        # the SDK default (openai: 600 s; anthropic: 600 s)
    """

    kind: str
    max_retries: int = 2
    timeout_s: float = 600.0
    api_key: str = "sk-harness"

    @classmethod
    def parse(cls, t: Table) -> SDKClientSpec:
        spec = cls(
            kind=t.choice("kind", SDK_KINDS),
            max_retries=t.int("max_retries", 2, min=0, max=100),
            timeout_s=t.float("timeout_s", 600.0, min=0, exclusive_min=True),
            api_key=t.str("api_key", "sk-harness"),
        )
        t.done()
        return spec

    @property
    def backoff_cap_s(self) -> float:
        return SDK_BACKOFF_CAP_S

    @property
    def max_attempts(self) -> int:
        return self.max_retries + 1


class _SDKClient:
    """What both adapters share: the outcome log and its bookkeeping."""

    name = "sdk"

    def __init__(self, prices: PriceTable, clock: Clock) -> None:
        self._prices = prices
        self._clock = clock
        self._outcomes: list[OutcomeRecord] = []

    def outcomes(self) -> list[OutcomeRecord]:
        return self._outcomes

    def events(self) -> list[ClientEvent]:
        return []

    def state(self) -> str:
        return "sdk"

    @staticmethod
    def _headers(request: ChatRequest) -> dict[str, str]:
        headers = {"x-harness-request-id": request.request_id or ""}
        if request.client_id:
            headers["x-client-id"] = request.client_id
        return headers

    def _record(
        self,
        request: ChatRequest,
        t_start: float,
        *,
        ok: bool,
        status: str,
        usage: Usage | None,
        model: str | None,
        finish: str | None,
        ttft: float | None,
        error: str | None = None,
    ) -> bool:
        cost = "0"
        if usage is not None and ok:
            price = self._prices.find(request.model)
            if price is not None:
                cost = str(price.cost(usage))
        self._outcomes.append(
            OutcomeRecord(
                id=request.request_id or "",
                ok=ok,
                status=status,
                t_start=t_start,
                t_end=self._clock(),
                model_requested=request.model,
                model=model if ok else None,
                provider=self.provider,
                user=request.user,
                feature=request.feature,
                client_id=request.client_id,
                stream=request.stream,
                ttft_s=ttft,
                finish_reason=finish,
                input_tokens=usage.input_tokens if usage else 0,
                output_tokens=usage.output_tokens if usage else 0,
                cost_usd=cost,
                error=error,
            )
        )
        return ok

    provider = "sdk"

    async def call(self, request: ChatRequest) -> bool:
        t_start = self._clock()
        try:
            return await self._call(request, t_start)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the SDK's exception classes (and raw transport errors mid-stream)
            return self._record(
                request,
                t_start,
                ok=False,
                status=type(exc).__name__,
                usage=None,
                model=None,
                finish=None,
                ttft=None,
                error=str(exc)[:200],
            )

    async def _call(self, request: ChatRequest, t_start: float) -> bool:
        raise NotImplementedError

    async def warm_up(self, model: str) -> None:
        """One tiny call before the run, outside the logs (the runner resets the provider after it).

        The SDKs detect the platform in a worker thread on their first request; under virtual time a
        thread does not hold the clock, so that first request would start after an arbitrary number
        of timer jumps. Warming up first keeps virtual runs of SDKs deterministic.
        """
        request = ChatRequest(model, (Message("user", "warm up"),), max_tokens=1, request_id="warm-up")
        with contextlib.suppress(Exception):
            await self._call(request, self._clock())
        self._outcomes.clear()


class OpenAISDKClient(_SDKClient):
    """``openai.AsyncOpenAI`` as an app uses it."""

    name = "openai-sdk"
    provider = "openai"

    def __init__(
        self,
        spec: SDKClientSpec,
        base_url: str,
        transport: httpx2.AsyncBaseTransport | None,
        prices: PriceTable,
        clock: Clock,
    ) -> None:
        super().__init__(prices, clock)
        http_client = httpx2.AsyncClient(transport=transport) if transport is not None else None
        self.sdk = openai.AsyncOpenAI(
            base_url=f"{base_url.rstrip('/')}/v1",
            api_key=spec.api_key,
            max_retries=spec.max_retries,
            timeout=spec.timeout_s,
            http_client=http_client,
        )

    async def _call(self, request: ChatRequest, t_start: float) -> bool:
        messages: Any = [{"role": m.role, "content": m.content} for m in request.messages]
        common: dict[str, Any] = {"model": request.model, "messages": messages, "extra_headers": self._headers(request)}
        if request.max_tokens is not None:
            common["max_tokens"] = request.max_tokens
        if request.temperature is not None:
            common["temperature"] = request.temperature
        if not request.stream:
            response = await self.sdk.chat.completions.create(**common)
            usage = response.usage
            return self._record(
                request,
                t_start,
                ok=True,
                status="ok",
                usage=None if usage is None else Usage(usage.prompt_tokens, usage.completion_tokens),
                model=response.model,
                finish=response.choices[0].finish_reason if response.choices else None,
                ttft=None,
            )
        stream = await self.sdk.chat.completions.create(stream=True, stream_options={"include_usage": True}, **common)
        ttft: float | None = None
        finish: str | None = None
        final_usage: Usage | None = None
        model: str | None = None
        async for chunk in stream:
            model = chunk.model or model
            for choice in chunk.choices:
                if choice.delta.content and ttft is None:
                    ttft = self._clock() - t_start
                finish = choice.finish_reason or finish
            if chunk.usage is not None:
                final_usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
        ok = finish is not None  # an app must not take a stream without a finish reason as an answer
        status = "ok" if ok else "StreamEndedWithoutFinish"
        return self._record(
            request, t_start, ok=ok, status=status, usage=final_usage, model=model, finish=finish, ttft=ttft
        )

    async def aclose(self) -> None:
        await self.sdk.close()


class AnthropicSDKClient(_SDKClient):
    """``anthropic.AsyncAnthropic`` as an app uses it."""

    name = "anthropic-sdk"
    provider = "anthropic"

    def __init__(
        self,
        spec: SDKClientSpec,
        base_url: str,
        transport: httpx2.AsyncBaseTransport | None,
        prices: PriceTable,
        clock: Clock,
    ) -> None:
        super().__init__(prices, clock)
        http_client = httpx2.AsyncClient(transport=transport) if transport is not None else None
        self.sdk = anthropic.AsyncAnthropic(
            base_url=base_url.rstrip("/"),
            api_key=spec.api_key,
            max_retries=spec.max_retries,
            timeout=spec.timeout_s,
            http_client=http_client,
        )

    async def _call(self, request: ChatRequest, t_start: float) -> bool:
        system = "\n".join(m.content for m in request.messages if m.role == "system")
        messages: Any = [{"role": m.role, "content": m.content} for m in request.messages if m.role != "system"]
        common: dict[str, Any] = {
            "model": request.model,
            "messages": messages,
            "max_tokens": request.max_tokens or 1024,
            "extra_headers": self._headers(request),
        }
        if system:
            common["system"] = system
        if request.temperature is not None:
            common["temperature"] = request.temperature
        if not request.stream:
            message = await self.sdk.messages.create(**common)
            u = message.usage
            return self._record(
                request,
                t_start,
                ok=True,
                status="ok",
                usage=Usage(u.input_tokens, u.output_tokens),
                model=message.model,
                finish=message.stop_reason,
                ttft=None,
            )
        stream = await self.sdk.messages.create(stream=True, **common)
        ttft: float | None = None
        finish: str | None = None
        input_tokens = output_tokens = 0
        model: str | None = None
        stopped = False
        async for event in stream:
            if event.type == "message_start":
                model = event.message.model
                input_tokens = event.message.usage.input_tokens
            elif event.type == "content_block_delta":
                if ttft is None and event.delta.type == "text_delta" and event.delta.text:
                    ttft = self._clock() - t_start
            elif event.type == "message_delta":
                finish = event.delta.stop_reason or finish
                output_tokens = event.usage.output_tokens
            elif event.type == "message_stop":
                stopped = True
        ok = stopped and finish is not None
        status = "ok" if ok else "StreamEndedWithoutFinish"
        usage = Usage(input_tokens, output_tokens)
        return self._record(request, t_start, ok=ok, status=status, usage=usage, model=model, finish=finish, ttft=ttft)

    async def aclose(self) -> None:
        await self.sdk.close()


def make_sdk_client(
    spec: SDKClientSpec,
    base_url: str,
    transport_factory: Callable[[], httpx2.AsyncBaseTransport] | None,
    prices: PriceTable,
    clock: Clock,
) -> OpenAISDKClient | AnthropicSDKClient:
    """The adapter for ``spec.kind``; ``transport_factory`` None means real sockets to ``base_url``."""
    transport = transport_factory() if transport_factory is not None else None
    cls = OpenAISDKClient if spec.kind == "openai-sdk" else AnthropicSDKClient
    return cls(spec, base_url, transport, prices, clock)
