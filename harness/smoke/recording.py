"""A transport that keeps each response's bytes, so a smoke run can take its shape afterwards.

It wraps the client's transport (the one seam every request goes through) and copies what comes
back — status, headers, the body or each stream chunk — into an :class:`Exchange`, tagged with the
kind of call the battery is making (a context variable the battery sets: ``chat``, ``chat_stream``,
``error_unknown_model``). Requests are never kept: their headers carry the API key.

The bytes stay in memory for the length of the run; only their shapes (:mod:`harness.smoke.shapes`)
are ever written.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

from harness.client.transport import HttpRequest, HttpResponse, Transport

__all__ = ["CALL_KIND", "Exchange", "RecordingTransport"]

#: the kind of call being made (the battery sets it around each call; tasks inherit it)
CALL_KIND: contextvars.ContextVar[str] = contextvars.ContextVar("smoke_call_kind", default="other")


@dataclass(slots=True)
class Exchange:
    """One response as it came: status, headers, and the body or the stream's chunks."""

    kind: str
    path: str  # the URL's path, without the query
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    chunks: list[bytes] | None = None  # a body read chunk by chunk (a stream)
    complete: bool = False  # the body was read to its end

    @property
    def streamed(self) -> bool:
        return self.chunks is not None


class _RecordedResponse:
    """The inner response, with its body copied as it is read."""

    def __init__(self, inner: HttpResponse, exchange: Exchange) -> None:
        self._inner = inner
        self._exchange = exchange

    @property
    def status(self) -> int:
        return self._inner.status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._inner.headers

    async def read(self) -> bytes:
        body = await self._inner.read()
        self._exchange.body = body
        self._exchange.complete = True
        return body

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        chunks = self._exchange.chunks = []
        async for chunk in self._inner.iter_chunks():
            chunks.append(chunk)
            yield chunk
        self._exchange.complete = True

    async def aclose(self) -> None:
        await self._inner.aclose()


@dataclass
class RecordingTransport:
    """Wraps ``inner``; ``exchanges`` holds every response in arrival order."""

    inner: Transport
    exchanges: list[Exchange] = field(default_factory=list)

    async def send(self, request: HttpRequest) -> HttpResponse:
        response = await self.inner.send(request)
        path = request.url.split("?", 1)[0]
        path = "/" + path.split("://", 1)[-1].split("/", 1)[-1] if "://" in path else path
        headers = [(str(k).lower(), str(v)) for k, v in _items(response.headers)]
        exchange = Exchange(CALL_KIND.get(), path, response.status, headers)
        self.exchanges.append(exchange)
        return _RecordedResponse(response, exchange)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def of(self, kind: str) -> list[Exchange]:
        return [e for e in self.exchanges if e.kind == kind]


def _items(headers: Mapping[str, str]) -> list[tuple[str, str]]:
    items = getattr(headers, "items", None)
    return list(items()) if items is not None else [(k, headers[k]) for k in headers]
