"""The user's own app as the client under test (``[client] kind = "app"``): built once per run, called per request.

``app = "module:function"`` names either

* a **factory** ``make_app(env: AppEnv) -> handler``, called once per run (per world, when exploring),
  returning the async function the load calls for each request, ``await handler(request)``; or
* an **async function** ``async def app(request, env)``, called for each request.

``request`` is the load's :class:`~harness.client.types.ChatRequest` (model, messages, max_tokens,
stream …). :class:`AppEnv` tells the app where the provider is and builds clients pointed at it that
work in virtual time as well as over sockets: :meth:`AppEnv.http_client` for the official SDKs
(``http_client=``), :meth:`AppEnv.reference_client` for this project's client. Requests sent through
them carry the logical request's id, so the provider's log links every attempt to the request the app
was answering and the judge sees retries, truncated answers and costs as it does for any client.

What the handler returns is the app's answer. Its cost, for the invariant that every answer costs what
the provider billed, is read from it: a ``cost_usd`` it carries (the reference client's
``ChatResponse``), else its ``usage`` (an SDK's completion or message, or a
:class:`~harness.pricing.Usage`) priced with the provider's prices. An answer that carries neither costs
nothing in the app's eyes. Raising is a failed request (the exception's class is its status).
"""

from __future__ import annotations

import inspect
import random
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any

from fake_provider.core import ProviderCore
from harness.client import ClientConfig, ResilientClient
from harness.client.transport import HttpRequest, HttpResponse, Transport
from harness.client.types import ChatRequest
from harness.clock import Clock, Sleep
from harness.errors import ConfigError
from harness.pricing import PriceTable, Usage
from harness.runner.memory_transport import MemoryTransport
from harness.runner.recording_client import RecordingClient
from harness.scenario.app_spec import AppClientSpec

__all__ = ["AppClient", "AppEnv", "make_app_client"]

#: the logical request the app is answering (set around each call; copied into the tasks it starts)
_ANSWERING: ContextVar[ChatRequest | None] = ContextVar("harness_app_request", default=None)


def _tags() -> dict[str, str]:
    request = _ANSWERING.get()
    if request is None:
        return {}
    tags = {"x-harness-request-id": request.request_id or ""}
    if request.client_id:
        tags["x-client-id"] = request.client_id
    return tags


class _TaggedTransport:
    """A reference-client transport that stamps each request with the logical request it belongs to."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner

    async def send(self, request: HttpRequest) -> HttpResponse:
        tags = _tags()
        if tags:
            request = replace(request, headers={**request.headers, **tags})
        return await self.inner.send(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _tagged_httpx2(inner: Any) -> Any:
    """An ``httpx2`` transport around ``inner`` that stamps each request like :class:`_TaggedTransport`."""
    import httpx2

    class Tagged(httpx2.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
            request.headers.update(_tags())
            response: httpx2.Response = await inner.handle_async_request(request)
            return response

        async def aclose(self) -> None:
            await inner.aclose()

    return Tagged()


@dataclass
class AppEnv:
    """What an app is given for one run: where the provider is, and clients pointed at it.

    ``base_url`` is the provider's root (the openai SDK takes ``f"{env.base_url}/v1"``, the anthropic SDK
    the root). In virtual time there is no socket behind it: only clients built by this object reach
    the provider there. Clients built here are closed when the run ends.
    """

    base_url: str
    api_key: str  # the key to present (the provider's log keeps only a hash of it)
    api: str  # the API the app speaks: "openai", "anthropic" or "gemini"
    seed: int  # the run's seed, for anything the app draws at random
    clock: Clock  # the run's clock (virtual in virtual time)
    sleep: Sleep
    core: ProviderCore | None = field(default=None, repr=False)  # set in virtual time
    _closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list, repr=False)

    def http_client(self, **options: Any) -> Any:
        """An ``httpx2.AsyncClient`` to the provider, for an official SDK's ``http_client=`` (the ``sdks`` extra)."""
        import httpx2

        if self.core is not None:
            from harness.runner.sdk_transport import CoreTransport

            inner: Any = CoreTransport(self.core)
        else:
            inner = httpx2.AsyncHTTPTransport()
        client = httpx2.AsyncClient(transport=_tagged_httpx2(inner), **options)
        self._closers.append(client.aclose)
        return client

    def reference_client(self, config: ClientConfig) -> ResilientClient:
        """The reference client (:class:`~harness.client.ResilientClient`) with ``config``, pointed at the provider."""
        config = config.with_base_url(self.base_url, override=True)
        models = tuple(replace(m, api_keys=m.api_keys or (self.api_key,), api_key_env=()) for m in config.models)
        config = replace(config, models=models)
        inner: Transport
        if self.core is not None:
            inner = MemoryTransport(self.core)
        else:
            from harness.client import AiohttpTransport

            inner = AiohttpTransport(config.transport, connect_timeout_s=config.timeouts.connect_s)
        client = ResilientClient(
            config, transport=_TaggedTransport(inner), clock=self.clock, sleep=self.sleep,
            rng=random.Random(self.seed ^ config.seed),
        )  # fmt: skip
        self._closers.append(client.aclose)
        return client

    async def aclose(self) -> None:
        while self._closers:
            await self._closers.pop()()


def _usage(reply: Any) -> Usage | None:
    """The usage an answer carries: a :class:`Usage`, or an SDK's (OpenAI, Anthropic or Gemini names)."""
    usage = reply if isinstance(reply, Usage) else getattr(reply, "usage", None)
    usage = usage if usage is not None else getattr(reply, "usage_metadata", None)  # Gemini's name
    if usage is None or isinstance(usage, Usage):
        return usage

    def tokens(*names: str) -> int:
        for name in names:
            value = getattr(usage, name, None)
            if isinstance(value, int):
                return value
        return 0

    return Usage(tokens("prompt_tokens", "input_tokens", "prompt_token_count"),
                 tokens("completion_tokens", "output_tokens", "candidates_token_count"))  # fmt: skip


def _finish(reply: Any) -> str | None:
    for name in ("finish_reason", "stop_reason"):
        value = getattr(reply, name, None)
        if isinstance(value, str):
            return value
    choices = getattr(reply, "choices", None)
    if isinstance(choices, list | tuple) and choices:
        value = getattr(choices[0], "finish_reason", None)
        return value if isinstance(value, str) else None
    return None


class AppClient(RecordingClient):
    """The app behind the client-under-test seam: one outcome per request, from what the app returned."""

    name = "app"

    def __init__(self, spec: AppClientSpec, env: AppEnv, prices: PriceTable, clock: Clock) -> None:
        super().__init__(prices, clock)
        self.provider = spec.api
        self.env = env
        function = spec.function
        assert function is not None, "an AppClientSpec is resolved when the scenario is read"
        self._closing: Any = None
        if inspect.iscoroutinefunction(function):
            self._handle: Callable[[ChatRequest], Awaitable[Any]] = lambda request: function(request, env)
        else:
            handler = function(env)
            if not callable(handler):
                got = type(handler).__name__
                problem = f"{spec.target} must return the async function that answers a request, got {got}"
                raise ConfigError("client.app", problem)
            self._handle = handler
            self._closing = getattr(handler, "aclose", None)

    async def _call(self, request: ChatRequest, t_start: float) -> bool:
        token = _ANSWERING.set(request)
        try:
            reply = await self._handle(request)
        finally:
            _ANSWERING.reset(token)
        cost = getattr(reply, "cost_usd", None)
        model = getattr(reply, "model", None)
        return self._record(
            request, t_start, ok=True, status="ok", usage=_usage(reply),
            model=model if isinstance(model, str) else request.model, finish=_finish(reply), ttft=None,
            cost_usd=None if cost is None else str(cost),
        )  # fmt: skip

    async def aclose(self) -> None:
        try:
            if self._closing is not None:
                await self._closing()
        finally:
            await self.env.aclose()


def make_app_client(
    spec: AppClientSpec,
    base_url: str,
    core: ProviderCore | None,
    prices: PriceTable,
    clock: Clock,
    sleep: Sleep,
    seed: int,
) -> AppClient:
    """The app of ``spec`` for one run: in process to ``core`` when given, else over sockets to ``base_url``."""
    env = AppEnv(base_url.rstrip("/"), spec.api_key, spec.api, seed, clock, sleep, core)
    return AppClient(spec, env, prices, clock)
