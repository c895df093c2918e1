"""An ``httpx2`` transport that hands SDK requests to the fake provider's core, in process.

The official SDKs served today (openai 3.x, anthropic 2.x, google-genai 3.x) are built on ``httpx2``
and accept ``http_client=httpx2.AsyncClient(transport=...)``. With :class:`CoreTransport` the SDK's
requests never touch a socket: each one becomes a :class:`~fake_provider.core.ProviderRequest`, the
core decides a plan, and the in-memory performer plays it on the running loop's clock. Under the
virtual-time loop the SDK's own retry sleeps (``anyio.sleep``) and read timeouts run in virtual time
too, so an SDK can be judged in the same storm as the reference client, in milliseconds.

Failures look exactly like the socket ones would to httpx2: a reset or silence before headers is a
``RemoteProtocolError`` ("Server disconnected without sending a response."), a cut stream is a
``RemoteProtocolError`` ("peer closed connection …"), a read deadline is a ``ReadTimeout``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx2

from fake_provider.core import ProviderCore, ProviderRequest
from fake_provider.memory import MemoryResponse, perform

__all__ = ["CoreTransport"]


def _read_timeout(request: httpx2.Request) -> float | None:
    timeout = request.extensions.get("timeout")
    if isinstance(timeout, dict):
        value = timeout.get("read")
        return float(value) if isinstance(value, int | float) else None
    return None


class _PlanStream(httpx2.AsyncByteStream):
    """The body of a performed plan, chunk by chunk, with the SDK's read timeout per chunk."""

    def __init__(self, response: MemoryResponse, request: httpx2.Request, read_timeout: float | None) -> None:
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
                raise httpx2.ReadTimeout("timed out reading the response body", request=self._request) from None
            except ConnectionResetError:
                raise httpx2.RemoteProtocolError(
                    "peer closed connection without sending complete message body (incomplete chunked read)",
                    request=self._request,
                ) from None
            yield data

    async def aclose(self) -> None:
        await self._response.aclose()


class CoreTransport(httpx2.AsyncBaseTransport):
    """Route every request of an httpx2 client to ``core`` (the host part of the URL is ignored)."""

    def __init__(self, core: ProviderCore) -> None:
        self.core = core  # the provider core that answers

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = await request.aread()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.headers.raw}
        url = request.url
        provider_request = ProviderRequest(
            request.method, url.path, url.query.decode("ascii", "replace"), headers, body
        )
        response = perform(self.core.handle(provider_request))
        read_timeout = _read_timeout(request)
        try:
            async with asyncio.timeout(read_timeout):
                await response.headers_sent()
        except ConnectionResetError:
            raise httpx2.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from None
        except TimeoutError:
            await response.aclose()
            raise httpx2.ReadTimeout("timed out waiting for the response headers", request=request) from None
        return httpx2.Response(
            response.status,
            headers=list(response.exchange.plan.headers),
            stream=_PlanStream(response, request, read_timeout),
            request=request,
        )
