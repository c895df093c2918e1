"""Test helpers: transports that wrap another one to inject faults into chosen attempts.

:class:`InjectHeaders` adds headers to the requests a rule picks — the fake provider's test headers
(``x-fake-status``, ``x-fake-fault``; the server must run with ``allow_fault_headers``), so a fault
hits exactly the attempts a test wants (the first only, one model only, a time window …) through the
provider's own fault step. :class:`RewriteBody` rewrites response body chunks of chosen attempts
(a malformed event, a stripped end marker) for cases a provider cannot be asked for by header.

Rules look at the outgoing :class:`~harness.client.transport.HttpRequest`; :func:`attempt_of` and
:func:`model_of` read the attempt number and the model from it.

Example::

    faults = InjectHeaders(MemoryTransport(core), by_attempt({0: {"x-fake-status": "500"}}))
    client = ResilientClient(config, transport=faults)     # the first attempt fails, the retry succeeds
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace

from harness.client.keys import RedactedHeaders
from harness.client.transport import HttpRequest, HttpResponse, Transport
from harness.clock import Clock

__all__ = [
    "HeaderRule",
    "InjectHeaders",
    "RewriteBody",
    "attempt_of",
    "by_attempt",
    "by_model",
    "model_of",
    "until",
]

#: picks the headers to add to one request (None or {}: none)
HeaderRule = Callable[[HttpRequest], Mapping[str, str] | None]


def attempt_of(request: HttpRequest) -> int:
    """The ``x-harness-attempt`` the client put on the request (0 for the first attempt)."""
    return int(request.headers.get("x-harness-attempt", "0"))


def model_of(request: HttpRequest) -> str | None:
    """The model a request asks for: the body's ``model`` (OpenAI, Anthropic) or the URL's (Gemini)."""
    if "/models/" in request.url:
        return request.url.split("/models/", 1)[1].split(":", 1)[0]
    try:
        model = json.loads(request.body).get("model")
    except (ValueError, AttributeError):
        return None
    return model if isinstance(model, str) else None


def by_attempt(headers: Mapping[int, Mapping[str, str]]) -> HeaderRule:
    """Headers per attempt number; attempts not listed get none."""
    return lambda request: headers.get(attempt_of(request))


def by_model(headers: Mapping[str, Mapping[str, str]]) -> HeaderRule:
    """Headers per model asked for."""
    return lambda request: headers.get(model_of(request) or "")


def until(clock: Clock, end: float, headers: Mapping[str, str], model: str | None = None) -> HeaderRule:
    """``headers`` on every request sent before clock time ``end`` (to ``model`` only, if given)."""

    def rule(request: HttpRequest) -> Mapping[str, str] | None:
        if clock() >= end or (model is not None and model_of(request) != model):
            return None
        return headers

    return rule


class InjectHeaders:
    """A transport that adds the headers ``rule`` picks, then sends through ``inner``."""

    def __init__(self, inner: Transport, rule: HeaderRule) -> None:
        self.inner = inner
        self.rule = rule
        self.injected = 0  # requests that got extra headers

    async def send(self, request: HttpRequest) -> HttpResponse:
        extra = self.rule(request)
        if extra:
            self.injected += 1
            request = replace(request, headers=RedactedHeaders({**request.headers, **extra}))
        return await self.inner.send(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class _Rewritten:
    """A response whose body chunks pass through ``rewrite(index, data)``."""

    def __init__(self, inner: HttpResponse, rewrite: Callable[[int, bytes], bytes]) -> None:
        self._inner = inner
        self._rewrite = rewrite
        self.status = inner.status
        self.headers = inner.headers

    async def read(self) -> bytes:
        return self._rewrite(0, await self._inner.read())

    async def _chunks(self) -> AsyncIterator[bytes]:
        index = 0
        async for data in self._inner.iter_chunks():
            out = self._rewrite(index, data)
            index += 1
            if out:
                yield out

    def iter_chunks(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def aclose(self) -> None:
        await self._inner.aclose()


class RewriteBody:
    """A transport that rewrites the response body of the requests ``which`` picks."""

    def __init__(
        self, inner: Transport, rewrite: Callable[[int, bytes], bytes], which: Callable[[HttpRequest], bool]
    ) -> None:
        self.inner = inner
        self.rewrite = rewrite  # (chunk index, bytes) → bytes; b"" drops the chunk
        self.which = which

    async def send(self, request: HttpRequest) -> HttpResponse:
        response = await self.inner.send(request)
        return _Rewritten(response, self.rewrite) if self.which(request) else response

    async def aclose(self) -> None:
        await self.inner.aclose()
