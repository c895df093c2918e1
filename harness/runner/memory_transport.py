"""The in-memory transport: the fake provider's core, with no socket in between.

``send`` hands the request to a :class:`fake_provider.core.ProviderCore` and performs the plan with
the in-memory performer (:mod:`fake_provider.memory`) on the running loop's clock: headers after the
plan's delay, body chunks after theirs, a reset, a silence or a cut as a
:class:`~harness.errors.ConnectionReset`. Under :mod:`harness.vtime` a whole run — retries, backoff,
deadlines, outages — takes milliseconds and is exactly reproducible.

It lives with the runner, the one place that knows both the client and the provider core, so that
``harness.client`` (the production client) never imports the fake provider.

Example::

    core = ProviderCore(ProviderConfig(), clock=loop_clock())
    async with ResilientClient(config, transport=MemoryTransport(core)) as client:
        response = await client.chat(request)
    core.ledger.total.cost_usd == response.cost_usd
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from urllib.parse import urlsplit

from fake_provider.core import ProviderCore, ProviderRequest
from fake_provider.memory import MemoryResponse, perform
from harness.client.transport import HttpRequest
from harness.errors import ConnectionReset

__all__ = ["MemoryTransport"]


class _Chunks:
    __slots__ = ("_response",)

    def __init__(self, response: MemoryResponse) -> None:
        self._response = response

    def __aiter__(self) -> _Chunks:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self._response.__anext__()
        except ConnectionResetError as exc:
            raise ConnectionReset(str(exc), code="reset") from None


class _MemoryHttpResponse:
    """A :class:`~harness.client.transport.HttpResponse` over a plan being performed in memory."""

    __slots__ = ("_response", "headers", "status")

    def __init__(self, response: MemoryResponse) -> None:
        self._response = response
        self.status = response.status
        self.headers: Mapping[str, str] = response.headers  # lower-case keys

    async def read(self) -> bytes:
        try:
            return await self._response.read()
        except ConnectionResetError as exc:
            raise ConnectionReset(str(exc), code="reset") from None

    def iter_chunks(self) -> AsyncIterator[bytes]:
        return _Chunks(self._response)

    async def aclose(self) -> None:
        await self._response.aclose()


class MemoryTransport:
    """A :class:`~harness.client.transport.Transport` that performs the provider core's plans in memory."""

    def __init__(self, core: ProviderCore) -> None:
        self.core = core  # the fake provider (its log and ledger are the other source of truth)
        self.sent = 0  # requests handed to the core
        self._urls: dict[str, tuple[str, str]] = {}  # url → (path, query): a client sends to a few urls

    async def send(self, request: HttpRequest) -> _MemoryHttpResponse:
        url = request.url
        parts = self._urls.get(url)
        if parts is None:
            if len(self._urls) > 1024:
                self._urls.clear()
            split = urlsplit(url)
            parts = self._urls[url] = (split.path, split.query)
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.sent += 1
        exchange = self.core.handle(ProviderRequest(request.method, parts[0], parts[1], headers, request.body))
        response = perform(exchange)
        try:
            await response.headers_sent()
        except ConnectionResetError as exc:
            raise ConnectionReset(str(exc), code="reset") from None
        return _MemoryHttpResponse(response)

    async def aclose(self) -> None:
        """Nothing to release: there are no connections."""

    def __repr__(self) -> str:
        return f"MemoryTransport(sent={self.sent}, records={len(self.core.log)})"
