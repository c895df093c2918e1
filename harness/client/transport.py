"""The client's one transport seam.

The reference client talks to providers only through :class:`Transport`: one method, ``send``, that
takes an :class:`HttpRequest` and returns an :class:`HttpResponse` once the status line and headers
have arrived. The body is read afterwards (whole, or chunk by chunk for streams), so the client can
apply its first-token and stall deadlines itself with the running loop's clock; that is what lets
the same client run over sockets (aiohttp) and in virtual time (the in-memory transport, which
performs the fake provider's plans directly).

Transports raise only :class:`harness.errors.TransportError` subclasses (``ConnectError``,
``ConnectionReset``) for connection failures; HTTP error statuses are responses, not exceptions —
turning them into the exception tree is the provider adapter's job.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = ["HttpRequest", "HttpResponse", "Transport"]


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """A request as the wire sees it; ``url`` is absolute (``http://127.0.0.1:8080/v1/messages``)."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


@runtime_checkable
class HttpResponse(Protocol):
    """Status and headers have arrived; the body has not necessarily."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]:
        """Case-insensitive header lookup (keys compared lower-case)."""
        ...

    async def read(self) -> bytes:
        """The whole body; raises ``ConnectionReset`` if the connection breaks first."""
        ...

    def iter_chunks(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive; raises ``ConnectionReset`` if the connection breaks."""
        ...

    async def aclose(self) -> None:
        """Release the connection (abandoning any unread body)."""
        ...


@runtime_checkable
class Transport(Protocol):
    """Send one request and return once headers arrive."""

    async def send(self, request: HttpRequest) -> HttpResponse: ...

    async def aclose(self) -> None: ...
