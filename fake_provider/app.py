"""The aiohttp app: one catch-all handler that asks the core for a plan and performs it on the socket.

No provider logic lives here. The handler reads the body (up to the size limit), builds a
:class:`~fake_provider.core.ProviderRequest`, and performs the returned plan: wait, send status and
headers, write the body or the timed chunks, then end normally, cut (close without the chunked
terminator), reset (RST before any byte) or go silent — and reports a
:class:`~fake_provider.plan.Delivery` to ``exchange.finish`` exactly once. The control API
(``/_fake/*``) and ``/metrics`` are thin wrappers over core methods.

Run in-process (tests)::

    runner, port = await start(ProviderCore(ProviderConfig()), "127.0.0.1", 0)  # low-level server
    ...
    await runner.cleanup()
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from fake_provider.core import Exchange, ProviderCore, ProviderRequest
from fake_provider.plan import Delivery, StreamEnd, TransportFault

__all__ = ["CORE", "ProviderHandler", "create_app", "perform", "serve", "start"]

CORE = web.AppKey("core", ProviderCore)
_LINGER_RST = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


async def _read_body(request: web.BaseRequest, limit: int) -> tuple[bytes, bool]:
    """The body, unless it exceeds ``limit`` (then ``(b"", True)``, with as little read as possible)."""
    length = request.content_length
    if length is not None:
        if length > limit:
            return b"", True
        if not length:
            return b"", False
        content = request.content
        if content.is_eof():  # the usual case: the whole (small) body arrived with the headers
            return content.read_nowait(-1), False
        return await request.read(), False
    if not request.body_exists:
        return b"", False
    parts: list[bytes] = []
    size = 0
    async for data in request.content.iter_any():
        size += len(data)
        if size > limit:
            return b"", True
        parts.append(data)
    return b"".join(parts), False


def _abort(request: web.BaseRequest, reset: bool) -> None:
    """Drop the connection: with RST (``reset``) or after flushing what was written (a cut)."""
    transport = request.transport
    if transport is None:
        return
    if reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
        transport.abort()
    else:
        transport.close()


async def perform(request: web.BaseRequest, exchange: Exchange) -> web.StreamResponse:
    """Carry ``exchange.plan`` out on the request's connection; report the delivery once."""
    plan = exchange.plan
    loop = asyncio.get_running_loop()
    start = loop.time()
    delivery = Delivery()
    response: web.StreamResponse = web.Response()  # returned untouched when the connection is gone
    try:
        if plan.transport is not None:
            if plan.transport is TransportFault.SILENCE and plan.silence_s > 0:
                await asyncio.sleep(plan.silence_s)
            _abort(request, reset=True)
            return response
        if plan.headers_delay_s > 0:
            await asyncio.sleep(plan.headers_delay_s)
        chunks = plan.chunks
        if chunks is None:
            response = web.Response(status=plan.status, body=plan.body, headers=plan.headers)
            await response.prepare(request)
            await response.write_eof()
            delivery.status = plan.status
            delivery.ttfb_s = loop.time() - start
            delivery.tokens_sent = plan.body_tokens
            return response
        response = web.StreamResponse(status=plan.status, headers=plan.headers)
        await response.prepare(request)
        delivery.status = plan.status
        for chunk in chunks:
            if chunk.delay_s > 0:
                await asyncio.sleep(chunk.delay_s)
            if chunk.data:
                await response.write(chunk.data)
                if delivery.ttfb_s is None:
                    delivery.ttfb_s = loop.time() - start
            delivery.chunks_sent += 1
            delivery.tokens_sent += chunk.tokens
        if plan.end is StreamEnd.CUT:
            _abort(request, reset=False)
            return response
        await response.write_eof()
        return response
    except ConnectionError:
        delivery.client_gone = True
        return response
    except asyncio.CancelledError:
        delivery.client_gone = True
        raise
    finally:
        delivery.duration_s = loop.time() - start
        exchange.finish(delivery)


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(status=status, body=json.dumps(data).encode(), content_type="application/json")


class _BadQuery(Exception):
    """A control-API query parameter is malformed; answered with a 400 naming it."""


def _query_int(request: web.BaseRequest, name: str, default: int | None) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise _BadQuery(f"{name}: expected an integer ≥ 0, got {raw[:40]!r}")
    return int(raw)


class ProviderHandler:
    """The one request handler: control routes by exact (method, path), everything else to the core."""

    def __init__(self, core: ProviderCore) -> None:
        self.core = core
        self._control: dict[tuple[str, str], Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]] = {
            ("GET", "/_fake/health"): self._health,
            ("GET", "/_fake/requests"): self._requests,
            ("GET", "/_fake/ledger"): self._ledger,
            ("POST", "/_fake/reset"): self._reset,
            ("GET", "/metrics"): self._metrics,
        }

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        control = self._control.get((request.method, request.path))
        if control is not None:
            return await control(request)
        core = self.core
        body, truncated = await _read_body(request, core.config.max_body_bytes)
        preq = ProviderRequest(request.method, request.path, request.query_string, request.headers, body, truncated)
        return await perform(request, core.handle(preq))

    async def _health(self, request: web.BaseRequest) -> web.StreamResponse:
        return _json(self.core.health())

    async def _requests(self, request: web.BaseRequest) -> web.StreamResponse:
        try:
            since = _query_int(request, "since", 0) or 0
            limit = _query_int(request, "limit", None)
        except _BadQuery as exc:
            return _json({"error": str(exc)}, 400)
        records = self.core.log.since(since, limit)
        cursor = records[-1].seq if records else since
        text = self.core.requests_jsonl(since, limit)
        headers = {"x-next-since": str(cursor)}
        return web.Response(body=text.encode(), content_type="application/x-ndjson", headers=headers)

    async def _ledger(self, request: web.BaseRequest) -> web.StreamResponse:
        entries = request.query.get("entries", "") in ("1", "true", "yes")
        return _json(self.core.ledger_dict(entries))

    async def _reset(self, request: web.BaseRequest) -> web.StreamResponse:
        self.core.reset()
        return _json({"status": "reset"})

    async def _metrics(self, request: web.BaseRequest) -> web.StreamResponse:
        body = self.core.metrics_text().encode()
        return web.Response(body=body, headers={"content-type": "text/plain; version=0.0.4; charset=utf-8"})


def create_app(core: ProviderCore) -> web.Application:
    """The fake provider as an aiohttp application, to mount or extend (``start`` skips the router)."""
    app = web.Application(client_max_size=core.config.max_body_bytes + 1)
    app[CORE] = core
    app.router.add_route("*", "/{tail:.*}", ProviderHandler(core).__call__)
    return app


async def start(core: ProviderCore, host: str = "127.0.0.1", port: int = 0) -> tuple[web.BaseRunner, int]:
    """Serve in the running loop on aiohttp's low-level server (no router: one handler does it all).

    Returns the runner (``await runner.cleanup()`` stops it) and the bound port.
    """
    loop = asyncio.get_running_loop()
    max_size = core.config.max_body_bytes + 1

    def make_request(message: Any, payload: Any, protocol: Any, writer: Any, task: Any) -> web.BaseRequest:
        return web.BaseRequest(message, payload, protocol, writer, task, loop, client_max_size=max_size)

    server = web.Server(ProviderHandler(core), request_factory=make_request)
    # on stop, in-flight plans (a long silence, a slow stream) get one second, then are cancelled
    runner = web.ServerRunner(server, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    return runner, int(runner.addresses[0][1])


async def serve(
    core: ProviderCore,
    host: str,
    port: int,
    stop: asyncio.Event,
    ready: Callable[[str, int], None] | None = None,
) -> None:
    """Serve until ``stop`` is set; ``ready(host, port)`` is called once the socket listens."""
    runner, bound = await start(core, host, port)
    try:
        if ready is not None:
            ready(host, bound)
        await stop.wait()
    finally:
        await runner.cleanup()
