"""Third-party clients under test: the official openai and anthropic SDKs and LiteLLM, driven like an app.

Each adapter is a :class:`~harness.runner.driver.ClientUnderTest`: it calls the SDK the way a typical
application does (``chat.completions.create`` / ``messages.create``, streaming when the request asks,
the SDK's own retries and timeouts), and records one :class:`~harness.records.OutcomeRecord` per logical
request, because an SDK keeps no outcome log of its own. Cost is what such an app would compute: the
usage the SDK returned, priced with the harness price table (a stream that broke before its usage
chunk costs nothing in the app's eyes, which is exactly the drift the judge reports).

The logical request id travels as ``x-harness-request-id`` (``extra_headers``, which the SDKs repeat
on their retries), so the provider's log links every retry to its request; the SDKs number their
attempts with ``x-stainless-retry-count``.

LiteLLM (``kind = "litellm"``) is called through ``litellm.acompletion`` with the model's provider as
prefix (``openai/…``, ``anthropic/…``, ``gemini/…``), its ``num_retries`` and ``timeout``. In virtual
time its aiohttp transport is switched off for the run so that it speaks httpx, which respx routes to
the provider core (:func:`~harness.runner.sdk_transport.core_router`); over sockets it runs as shipped.
"""

from __future__ import annotations

import importlib
import os
import warnings
from collections.abc import Mapping
from typing import Any, ClassVar, cast

import anthropic
import httpx2
import openai
import respx

from fake_provider.core import ProviderCore
from harness.client.types import ChatRequest
from harness.clock import Clock
from harness.pricing import PriceTable, Usage
from harness.runner.recording_client import RecordingClient
from harness.runner.sdk_transport import CoreTransport, core_router
from harness.scenario.sdk_spec import SDKClientSpec

__all__ = ["AnthropicSDKClient", "LiteLLMClient", "OpenAISDKClient", "SDKClientSpec", "make_sdk_client"]


class OpenAISDKClient(RecordingClient):
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
        self.sdk = openai.AsyncOpenAI(base_url=f"{base_url.rstrip('/')}/v1", **_sdk_options(spec, transport))

    async def _call(self, request: ChatRequest, t_start: float) -> bool:
        return await self._chat(self.sdk.chat.completions.create, request, t_start, self._chat_params(request))

    async def aclose(self) -> None:
        await self.sdk.close()


class AnthropicSDKClient(RecordingClient):
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
        self.sdk = anthropic.AsyncAnthropic(base_url=base_url.rstrip("/"), **_sdk_options(spec, transport))

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


class LiteLLMClient(RecordingClient):
    """``litellm.acompletion`` as an app uses it: the provider prefix, ``num_retries``, ``timeout``.

    ``apis`` maps each model the provider serves to the API it speaks, which picks LiteLLM's prefix and
    the base URL LiteLLM expects for it. ``router`` (virtual time) is a respx router to the provider
    core; while this client is open LiteLLM's aiohttp transport is off, so its requests go through
    httpx and the router, and LiteLLM's client cache is emptied on close (its clients belong to the run's
    event loop).
    """

    name = "litellm"
    provider = "litellm"

    _BASE_PATHS: ClassVar[dict[str, str]] = {"openai": "/v1", "anthropic": "", "gemini": "/v1beta"}

    def __init__(
        self,
        spec: SDKClientSpec,
        base_url: str,
        router: respx.MockRouter | None,
        prices: PriceTable,
        clock: Clock,
        apis: Mapping[str, str],
    ) -> None:
        super().__init__(prices, clock)
        # the prices are ours; LiteLLM must not fetch its cost map from the network at import
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        # LiteLLM's TypedDicts make pydantic warn when it first builds their schemas, mid-call; under
        # ``-W error`` (pytest's filterwarnings) that warning would become the outcome of the call
        warnings.filterwarnings("ignore", message=r".*Pydantic will not protect", category=UserWarning)
        self._litellm: Any = cast(Any, importlib.import_module("litellm"))
        self._spec = spec
        self._base_url = base_url.rstrip("/")
        self._apis = dict(apis)
        self._router = router
        self._aiohttp_was_off: bool | None = None
        self._litellm.suppress_debug_info = True  # else every error prints "Give Feedback / Get Help"
        if router is not None:
            self._aiohttp_was_off = bool(getattr(self._litellm, "disable_aiohttp_transport", False))
            self._litellm.disable_aiohttp_transport = True
            self._flush_cache()
            router.start()

    def _flush_cache(self) -> None:
        cache = getattr(self._litellm, "in_memory_llm_clients_cache", None)
        if cache is not None:
            cache.flush_cache()

    async def _call(self, request: ChatRequest, t_start: float) -> bool:
        api = self._apis.get(request.model, "openai")
        params = self._chat_params(request)
        params.update(
            model=f"{api}/{request.model}",
            api_base=self._base_url + self._BASE_PATHS.get(api, ""),
            api_key=self._spec.api_key,
            num_retries=self._spec.max_retries,
            timeout=self._spec.timeout_s,
        )
        return await self._chat(self._litellm.acompletion, request, t_start, params, api)

    async def aclose(self) -> None:
        if self._router is not None:
            self._router.stop()
            self._flush_cache()
            self._litellm.disable_aiohttp_transport = self._aiohttp_was_off
            self._router = None


def _sdk_options(spec: SDKClientSpec, transport: httpx2.AsyncBaseTransport | None) -> dict[str, Any]:
    """What both official SDKs take alike: the key, their retries and timeout, the HTTP client."""
    return {
        "api_key": spec.api_key,
        "max_retries": spec.max_retries,
        "timeout": spec.timeout_s,
        "http_client": httpx2.AsyncClient(transport=transport) if transport is not None else None,
    }


def make_sdk_client(
    spec: SDKClientSpec,
    base_url: str,
    core: ProviderCore | None,
    prices: PriceTable,
    clock: Clock,
    apis: Mapping[str, str] | None = None,
) -> OpenAISDKClient | AnthropicSDKClient | LiteLLMClient:
    """The adapter for ``spec.kind``: in process to ``core`` when given, else over sockets to ``base_url``.

    ``apis`` (model name → the API it speaks) tells LiteLLM which provider prefix each model takes.
    """
    if spec.kind == "litellm":
        router = core_router(core, base_url) if core is not None else None
        return LiteLLMClient(spec, base_url, router, prices, clock, apis or {})
    transport = CoreTransport(core) if core is not None else None
    cls = OpenAISDKClient if spec.kind == "openai-sdk" else AnthropicSDKClient
    return cls(spec, base_url, transport, prices, clock)
