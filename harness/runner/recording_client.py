"""The base of every third-party client under test: one outcome per logical request, priced as an app would.

An SDK (:mod:`harness.runner.sdk_clients`) or the user's own app (:mod:`harness.runner.app_client`)
keeps no outcome log the judge can read, so its adapter records one
:class:`~harness.records.OutcomeRecord` per logical request: ok or the exception that ended it, and
the usage the client got back, priced with the provider's prices. Subclasses implement ``_call``.
No SDK is imported here: an app under test needs none.
"""

from __future__ import annotations

import asyncio
from typing import Any

from harness.client.types import ChatRequest
from harness.clock import Clock
from harness.pricing import PriceTable, Usage
from harness.records import OutcomeRecord
from harness.report.result import ClientEvent

__all__ = ["RecordingClient"]


class RecordingClient:
    """What the adapters share: the outcome log and its bookkeeping, OpenAI-shaped calls."""

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
        return self.name  # an SDK exposes no breaker or limiter state: the progress line names it

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
        provider: str | None = None,
        cost_usd: str | None = None,
    ) -> bool:
        """Record the outcome; its cost is ``cost_usd`` when the client said what it spent, else ``usage`` priced."""
        cost = "0"
        if cost_usd is not None and ok:
            cost = cost_usd
        elif usage is not None and ok:
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
                provider=provider or self.provider,
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

    def _chat_params(self, request: ChatRequest) -> dict[str, Any]:
        """Chat-completions parameters for ``request`` (OpenAI's names, which LiteLLM takes too)."""
        params: dict[str, Any] = {
            "model": request.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "extra_headers": self._headers(request),
        }
        if request.max_tokens is not None:
            params["max_tokens"] = request.max_tokens
        if request.temperature is not None:
            params["temperature"] = request.temperature
        return params

    async def _chat(
        self, create: Any, request: ChatRequest, t_start: float, params: dict[str, Any], provider: str | None = None
    ) -> bool:
        """Call an OpenAI-shaped ``create`` (plain, or streamed with usage) and record its outcome."""
        if not request.stream:
            return self._record_completion(request, t_start, await create(**params), provider)
        stream = await create(stream=True, stream_options={"include_usage": True}, **params)
        return await self._record_chunks(request, t_start, stream, provider)

    def _record_completion(
        self, request: ChatRequest, t_start: float, response: Any, provider: str | None = None
    ) -> bool:
        """A plain OpenAI-shaped chat completion (the openai SDK's, or LiteLLM's ``ModelResponse``)."""
        usage = getattr(response, "usage", None)
        choices = response.choices
        return self._record(
            request,
            t_start,
            ok=True,
            status="ok",
            usage=None if usage is None else Usage(usage.prompt_tokens, usage.completion_tokens),
            model=_unprefixed(response.model) or request.model,
            finish=choices[0].finish_reason if choices else None,
            ttft=None,
            provider=provider,
        )

    async def _record_chunks(
        self, request: ChatRequest, t_start: float, stream: Any, provider: str | None = None
    ) -> bool:
        """An OpenAI-shaped chunk stream read to its end: first-text time, finish reason, final usage."""
        ttft: float | None = None
        finish: str | None = None
        final_usage: Usage | None = None
        model: str | None = None
        async for chunk in stream:
            model = _unprefixed(chunk.model) or model
            for choice in chunk.choices:
                if choice.delta.content and ttft is None:
                    ttft = self._clock() - t_start
                finish = choice.finish_reason or finish
            usage = getattr(chunk, "usage", None)
            if usage is not None:
                final_usage = Usage(usage.prompt_tokens, usage.completion_tokens)
        ok = finish is not None  # an app must not take a stream without a finish reason as an answer
        status = "ok" if ok else "StreamEndedWithoutFinish"
        return self._record(
            request,
            t_start,
            ok=ok,
            status=status,
            usage=final_usage,
            model=model or request.model,
            finish=finish,
            ttft=ttft,
            provider=provider,
        )

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



def _unprefixed(model: str | None) -> str | None:
    """LiteLLM may name the model with its provider prefix ("openai/gpt-4o-mini")."""
    return model.split("/", 1)[-1] if model else model
