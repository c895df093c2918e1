"""Third-party HTTP clients handed to the fake provider's core, in process: ``httpx2`` and ``httpx``.

The official SDKs served today (openai 3.x, anthropic 2.x, google-genai 3.x) are built on ``httpx2``
and accept ``http_client=httpx2.AsyncClient(transport=...)``: :class:`CoreTransport` is that
transport. Clients built on ``httpx`` (LiteLLM with its aiohttp transport switched off) take no
transport from us; :func:`core_router` routes them with respx, which patches httpx (and only httpx:
it does not see httpx2). Either way the request never touches a socket: it becomes a
:class:`~fake_provider.core.ProviderRequest`, the core decides a plan, and the in-memory performer
plays it on the running loop's clock. Under the virtual-time loop the client's retry sleeps and read
timeouts run in virtual time too, so a third-party client is judged in the same storm as the
reference client, in milliseconds.

Failures look exactly like the socket ones would to the HTTP library: a reset or silence before
headers is a ``RemoteProtocolError`` ("Server disconnected without sending a response."), a cut
stream is a ``RemoteProtocolError`` ("peer closed connection …"), a read deadline is a
``ReadTimeout``. ``httpx`` and ``httpx2`` share that API, so one implementation serves both.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

import httpx
import httpx2
import respx

from fake_provider.core import ProviderCore, ProviderRequest
from fake_provider.memory import MemoryResponse, perform

__all__ = ["CoreTransport", "core_router"]


def _read_timeout(request: Any) -> float | None:
    timeout = request.extensions.get("timeout")
    if isinstance(timeout, dict):
        value = timeout.get("read")
        return float(value) if isinstance(value, int | float) else None
    return None


class _PlanBody:
    """The body of a performed plan, chunk by chunk, with the client's read timeout per chunk."""

    _http: ModuleType  # httpx or httpx2: the exceptions to raise

    def __init__(self, response: MemoryResponse, request: Any, read_timeout: float | None) -> None:
        self._response = response
        self._request = request
        self._read_timeout = read_timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        iterator = self._response.__aiter__()
        while True:
            try:
                async with asyncio.timeout(self._read_timeout):
                    data = await iterator.__anext__()
            except StopAsyncIteration:
                return
            except TimeoutError:
                await self._response.aclose()
                raise self._http.ReadTimeout("timed out reading the response body", request=self._request) from None
            except ConnectionResetError:
                raise self._http.RemoteProtocolError(
                    "peer closed connection without sending complete message body (incomplete chunked read)",
                    request=self._request,
                ) from None
            yield data

    async def aclose(self) -> None:
        await self._response.aclose()


class _Httpx2Body(_PlanBody, httpx2.AsyncByteStream):
    _http = httpx2


class _HttpxBody(_PlanBody, httpx.AsyncByteStream):
    _http = httpx


async def _answer(core: ProviderCore, request: Any, http: ModuleType, body_class: type[_PlanBody]) -> Any:
    """``request`` (an httpx or httpx2 request) answered by ``core``, as that library's response."""
    body = await request.aread()
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.headers.raw}
    url = request.url
    query = url.query.decode("ascii", "replace") if isinstance(url.query, bytes) else str(url.query)
    response = perform(core.handle(ProviderRequest(request.method, url.path, query, headers, body)))
    read_timeout = _read_timeout(request)
    try:
        async with asyncio.timeout(read_timeout):
            await response.headers_sent()
    except ConnectionResetError:
        raise http.RemoteProtocolError("Server disconnected without sending a response.", request=request) from None
    except TimeoutError:
        await response.aclose()
        raise http.ReadTimeout("timed out waiting for the response headers", request=request) from None
    return http.Response(
        response.status,
        headers=list(response.exchange.plan.headers),
        stream=body_class(response, request, read_timeout),
        request=request,
    )


class CoreTransport(httpx2.AsyncBaseTransport):
    """Route every request of an httpx2 client to ``core`` (the host part of the URL is ignored)."""

    def __init__(self, core: ProviderCore) -> None:
        self.core = core  # the provider core that answers

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response: httpx2.Response = await _answer(self.core, request, httpx2, _Httpx2Body)
        return response


def core_router(core: ProviderCore, base_url: str) -> respx.MockRouter:
    """A respx router sending every httpx request for ``base_url`` to ``core``; start it, then stop it.

    Requests to any other URL fail (respx's "not mocked" error) rather than leave the process: a run in
    virtual time never reaches the network.
    """

    async def side_effect(request: httpx.Request) -> httpx.Response:
        response: httpx.Response = await _answer(core, request, httpx, _HttpxBody)
        return response

    router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
    router.route(url__startswith=base_url.rstrip("/")).mock(side_effect=side_effect)
    return router
