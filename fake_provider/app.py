"""The aiohttp app: one catch-all handler that asks the core for a plan and performs it on the socket.

No provider logic lives here. The handler reads the body (up to the size limit), builds a
:class:`~fake_provider.core.ProviderRequest`, and performs the returned plan: wait, send status and
headers, write the body or the timed chunks, then end normally, cut (close without the chunked
terminator), reset (RST before any byte) or go silent — and reports a
:class:`~fake_provider.plan.Delivery` to ``exchange.settle`` exactly once. The control API
(``/_fake/*``: health, requests, ledger, faults, reset) and ``/metrics`` are thin wrappers over core
methods.

Run in-process (tests)::

    runner, port = await start(ProviderCore(ProviderConfig()), "127.0.0.1", 0)  # low-level server
    ...
    await runner.cleanup()
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import HttpVersion11, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler

from fake_provider.control_auth import is_control_path, token_matches
from fake_provider.core import Exchange, ProviderCore, ProviderRequest
from fake_provider.exchange import load_json
from fake_provider.plan import Delivery, StreamEnd, TransportFault
from fake_provider.redaction import RedactingLogger, describe_exception, parser_message, redact
from fake_provider.response_bytes import MAX_DIRECT_BODY, plain_response_bytes, stream_response_bytes
from fake_provider.schedule import FaultSchedule
from harness.errors import ConfigError

__all__ = ["CORE", "LOGGER_NAME", "ProviderHandler", "create_app", "perform", "serve", "start"]

CORE = web.AppKey("core", ProviderCore)
#: the server's own log (aiohttp's request handler logs through it too, redacted: ``fake_provider.redaction``)
LOGGER_NAME = "fake_provider.server"
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


class _Written(web.StreamResponse):
    """Stands for a plain response the performer already wrote to the transport.

    aiohttp's protocol only calls ``prepare`` and ``write_eof`` on a handler's response and reads
    ``keep_alive`` (and ``status``, for an access log); here there is nothing left to do, and the
    connection stays open.
    """

    async def prepare(self, request: web.BaseRequest) -> None:
        return None

    async def write_eof(self, data: bytes = b"") -> None:
        return None

    @property
    def keep_alive(self) -> bool:
        return True


class _HeadersWithFirstWrite(web.StreamResponse):
    """A stream response whose status line and headers leave in the same send as its first write.

    aiohttp buffers the headers until the first write when ``_send_headers_immediately`` is false (as
    its own ``web.Response`` does); a ``StreamResponse`` sends them at ``prepare`` by default, which
    costs a stream a second system call. Only used when the first events are due with the headers.
    (An aiohttp without the attribute sends the headers at ``prepare``: the same bytes, one more send.)
    """

    _send_headers_immediately = False


def _direct_ok(request: web.BaseRequest, body: bytes) -> bool:
    """Whether a response can go out as raw bytes: a keep-alive HTTP/1.1 request, a small body, no HEAD."""
    return (
        request.version == HttpVersion11
        and request.keep_alive
        and request.method != "HEAD"
        and len(body) <= MAX_DIRECT_BODY
    )


def _write_direct(request: web.BaseRequest, data: bytes) -> None:
    """Status line, headers and body in one send (``response_bytes``)."""
    transport = request.transport
    if transport is None or transport.is_closing():
        raise ConnectionResetError("the client left before the response")
    transport.write(data)


async def perform(
    request: web.BaseRequest, exchange: Exchange, loop: asyncio.AbstractEventLoop | None = None
) -> web.StreamResponse:
    """Carry ``exchange.plan`` out on the request's connection; report the delivery once.

    ``loop`` is the running loop, when the caller has it at hand (looking it up costs a system call).
    """
    plan = exchange.plan
    if loop is None:
        loop = asyncio.get_running_loop()
    start = loop.time()
    delivery = Delivery()
    response: web.StreamResponse | None = None
    try:
        if plan.transport is not None:
            if plan.transport is TransportFault.SILENCE and plan.silence_s > 0:
                await asyncio.sleep(plan.silence_s)
            _abort(request, reset=True)
            return web.Response()  # never sent: the connection is gone
        if plan.headers_delay_s > 0:
            await asyncio.sleep(plan.headers_delay_s)
        chunks = plan.chunks
        if chunks is None:
            data = plain_response_bytes(plan) if _direct_ok(request, plan.body) else None
            if data is not None:
                _write_direct(request, data)
                response = _Written(status=plan.status)
            else:
                response = web.Response(status=plan.status, body=plan.body, headers=plan.headers)
                await response.prepare(request)
                await response.write_eof()
            delivery.status = plan.status
            delivery.ttfb_s = loop.time() - start
            delivery.tokens_sent = plan.body_tokens
            return response
        if plan.end is StreamEnd.CLOSE and all(chunk.delay_s <= 0 for chunk in chunks):
            # every event is due with the headers: the whole response in one send, as for a plain body
            body = b"".join([chunk.data for chunk in chunks])
            data = stream_response_bytes(plan, body) if _direct_ok(request, body) else None
            if data is not None:
                _write_direct(request, data)
                delivery.status = plan.status
                if body:
                    delivery.ttfb_s = loop.time() - start
                delivery.chunks_sent = len(chunks)
                delivery.tokens_sent = sum([chunk.tokens for chunk in chunks])
                return _Written(status=plan.status)
        # the status line and headers leave with the first events when those are due at once (a write
        # of their own otherwise: a stream that waits before its first byte shows its status first)
        with_first = bool(chunks) and chunks[0].delay_s <= 0 and bool(chunks[0].data)
        response = (_HeadersWithFirstWrite if with_first else web.StreamResponse)(
            status=plan.status, headers=plan.headers
        )
        await response.prepare(request)
        if not with_first:
            delivery.status = plan.status
        closes = plan.end is StreamEnd.CLOSE
        index, count = 0, len(chunks)
        while index < count:
            if chunks[index].delay_s > 0:
                await asyncio.sleep(chunks[index].delay_s)
            # this chunk and every following one due at the same instant leave in one write
            end = index + 1
            while end < count and chunks[end].delay_s <= 0:
                end += 1
            group = chunks[index:end]
            data = group[0].data if end == index + 1 else b"".join([chunk.data for chunk in group])
            if end == count and closes:
                await response.write_eof(data)  # the last events and the chunked terminator: one send
            elif data:
                await response.write(data)
            if data and delivery.ttfb_s is None:
                delivery.ttfb_s = loop.time() - start
                delivery.status = plan.status  # (sent now, if it waited for the first events)
            delivery.chunks_sent += end - index
            delivery.tokens_sent += sum([chunk.tokens for chunk in group])
            index = end
        if not closes:
            _abort(request, reset=False)
            return response
        await response.write_eof()  # (nothing left to send when the last group already ended it)
        return response
    except ConnectionError:
        delivery.client_gone = True
        return response if response is not None else web.Response()
    except asyncio.CancelledError:
        delivery.client_gone = True
        raise
    finally:
        delivery.duration_s = loop.time() - start
        exchange.settle(delivery)


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(status=status, body=json.dumps(data).encode(), content_type="application/json")


def _unauthorized() -> web.Response:
    response = _json({"error": "the control API requires the control token: Authorization: Bearer <token>"}, 401)
    response.headers["www-authenticate"] = 'Bearer realm="fake-provider-control"'
    return response


class _BadQuery(Exception):
    """A control-API query parameter is malformed; answered with a 400 naming it."""


def _query_int(request: web.BaseRequest, name: str, default: int | None) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise _BadQuery(f"{name}: expected an integer ≥ 0, got {raw[:40]!r}")
    return int(raw)


def _secrets(core: ProviderCore, control_token: str | None) -> tuple[str, ...]:
    """What the server's log must never show literally: the allowed keys and the control token."""
    keys = tuple(core.config.allowed_keys or ())
    return (*keys, control_token) if control_token else keys


class ProviderHandler:
    """The one request handler: control routes by exact (method, path), everything else to the core.

    With ``control_token``, ``/_fake/*`` and ``/metrics`` answer 401 unless the request carries
    ``Authorization: Bearer <control_token>`` (``fake_provider.control_auth``).
    """

    def __init__(
        self,
        core: ProviderCore,
        control_token: str | None = None,
        log: logging.LoggerAdapter | None = None,  # type: ignore[type-arg]
    ) -> None:
        self.core = core
        self.control_token = control_token or None
        self.log = (
            log if log is not None else RedactingLogger(logging.getLogger(LOGGER_NAME), _secrets(core, control_token))
        )
        self._loop: asyncio.AbstractEventLoop | None = None  # the serving loop, looked up once
        self._control: dict[tuple[str, str], Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]] = {
            ("GET", "/_fake/health"): self._health,
            ("GET", "/_fake/requests"): self._requests,
            ("GET", "/_fake/ledger"): self._ledger,
            ("POST", "/_fake/reset"): self._reset,
            ("GET", "/_fake/faults"): self._faults,
            ("POST", "/_fake/faults"): self._set_faults,
            ("GET", "/metrics"): self._metrics,
        }

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        token = self.control_token
        if token is not None and is_control_path(request.path) and not token_matches(request.headers, token):
            return _unauthorized()
        control = self._control.get((request.method, request.path))
        if control is not None:
            return await control(request)
        core = self.core
        try:
            body, truncated = await _read_body(request, core.config.max_body_bytes)
        except asyncio.CancelledError:
            # handler_cancellation: aiohttp cancels the handler when its client hangs up mid-body
            self.log.warning("client disconnected mid-body: %s %s", request.method, request.path[:200])
            raise
        except (ConnectionError, HttpProcessingError) as exc:
            transport = request.transport
            if isinstance(exc, ConnectionError) or transport is None or transport.is_closing():
                self.log.warning("client disconnected mid-body: %s %s", request.method, request.path[:200])
                return web.Response(status=400)  # never sent: the connection is gone
            # a broken body framing (a bad chunk size, say): the core answers it as a body that is not
            # JSON, in the provider's own error shape
            self.log.warning("unreadable body: %s %s: %s", request.method, request.path[:200], describe_exception(exc))
            body, truncated = b"", False
        preq = ProviderRequest(request.method, request.path, request.query_string, request.headers, body, truncated)
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        return await perform(request, core.handle(preq), loop)

    async def _health(self, request: web.BaseRequest) -> web.StreamResponse:
        return _json(self.core.health())

    async def _requests(self, request: web.BaseRequest) -> web.StreamResponse:
        try:
            since = _query_int(request, "since", 0) or 0
            limit = _query_int(request, "limit", None)
        except _BadQuery as exc:
            return _json({"error": str(exc)}, 400)
        count = len(self.core.log)
        cursor = max(since, count if limit is None else min(count, since + limit))  # the last seq returned
        text = self.core.requests_jsonl(since, limit)
        headers = {"x-next-since": str(cursor)}
        return web.Response(body=text.encode(), content_type="application/x-ndjson", headers=headers)

    async def _ledger(self, request: web.BaseRequest) -> web.StreamResponse:
        entries = request.query.get("entries", "") in ("1", "true", "yes")
        return _json(self.core.ledger_dict(entries))

    async def _reset(self, request: web.BaseRequest) -> web.StreamResponse:
        self.core.reset()
        return _json({"status": "reset"})

    async def _faults(self, request: web.BaseRequest) -> web.StreamResponse:
        return _json(self.core.faults_dict())

    async def _set_faults(self, request: web.BaseRequest) -> web.StreamResponse:
        """Replace the fault schedule: ``{"faults": [...]}``, the shape of a scenario's ``[[faults]]``."""
        body, truncated = await _read_body(request, self.core.config.max_body_bytes)
        if truncated:
            return _json({"error": "the schedule exceeds the body size limit"}, 413)
        try:
            schedule = FaultSchedule.from_json(load_json(body))
        except (ValueError, RecursionError) as exc:  # ConfigError is a ValueError: it names the field
            message = str(exc) if isinstance(exc, ConfigError) else f"the body is not valid JSON ({type(exc).__name__})"
            return _json({"error": message}, 400)
        self.core.set_faults(schedule)
        return _json(self.core.faults_dict())

    async def _metrics(self, request: web.BaseRequest) -> web.StreamResponse:
        body = self.core.metrics_text().encode()
        return web.Response(body=body, headers={"content-type": "text/plain; version=0.0.4; charset=utf-8"})


def create_app(core: ProviderCore, control_token: str | None = None) -> web.Application:
    """The fake provider as an aiohttp application, to mount or extend (``start`` skips the router)."""
    app = web.Application(client_max_size=core.config.max_body_bytes + 1)
    app[CORE] = core
    app.router.add_route("*", "/{tail:.*}", ProviderHandler(core, control_token).__call__)
    return app


class _RedactingRequestHandler(RequestHandler):
    """aiohttp's connection handler, whose error answers never echo a credential.

    A request the HTTP parser refuses (a header over the line limit, a control byte in a value, a bad
    byte in the URL) is answered by aiohttp itself with a plain 400 whose text is the parser's message,
    which quotes the offending bytes; here that text is redacted. The log line is redacted by the
    handler's logger (:class:`~fake_provider.redaction.RedactingLogger`).
    """

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        secrets = getattr(self.logger, "secrets", ())
        return super().handle_error(
            request, status, exc, redact(parser_message(message), secrets) if message else message
        )


class _Server(web.Server):
    """aiohttp's low-level server with :class:`_RedactingRequestHandler` connections."""

    def __call__(self) -> RequestHandler:
        return _RedactingRequestHandler(self, loop=self._loop, **self._kwargs)


async def start(
    core: ProviderCore, host: str = "127.0.0.1", port: int = 0, control_token: str | None = None
) -> tuple[web.BaseRunner, int]:
    """Serve in the running loop on aiohttp's low-level server (no router: one handler does it all).

    ``control_token``: require it on ``/_fake/*`` and ``/metrics`` (see ``fake_provider.control_auth``).
    Returns the runner (``await runner.cleanup()`` stops it) and the bound port.
    """
    loop = asyncio.get_running_loop()
    max_size = core.config.max_body_bytes + 1

    def make_request(message: Any, payload: Any, protocol: Any, writer: Any, task: Any) -> web.BaseRequest:
        return web.BaseRequest(message, payload, protocol, writer, task, loop, client_max_size=max_size)

    handler = ProviderHandler(core, control_token)
    # handler_cancellation: a client that hangs up ends its plan at once (a silence, a stall, a slow
    # stream), and the attempt is logged then, as the in-memory transport logs it, not when the plan
    # would have ended (a 60 s silence would otherwise be logged after a 10 s run, or never)
    server = _Server(handler, request_factory=make_request, logger=handler.log, handler_cancellation=True)
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
    control_token: str | None = None,
) -> None:
    """Serve until ``stop`` is set; ``ready(host, port)`` is called once the socket listens."""
    runner, bound = await start(core, host, port, control_token)
    try:
        if ready is not None:
            ready(host, bound)
        await stop.wait()
    finally:
        await runner.cleanup()
