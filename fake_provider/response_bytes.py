"""A plain plan as the bytes of one HTTP/1.1 response: status line, headers, body — one ``send``.

The socket performer writes most answers (every plain body: completions, errors, quota 429s) with
this instead of aiohttp's response machinery, which builds a header multidict, runs the prepare
hooks and writes headers and body separately: at ten thousand answers a second that machinery is a
large share of the server's time. The bytes are what aiohttp would send for the same plan — the
plan's headers in order, then ``Content-Length``, ``Date`` and ``Server`` — so a client cannot tell
the two paths apart (``tests/integration/test_fake_parity.py`` compares them). Requests this path
does not cover (HTTP/1.0, ``Connection: close``, ``HEAD``, large bodies) go through aiohttp.

A stream whose every event is due with its headers (no inter-chunk delay, no fault shaping it)
goes out the same way: :func:`stream_response_bytes` is what aiohttp's ``StreamResponse`` sends for
it — the plan's headers, ``Transfer-Encoding: chunked``, ``Date``, ``Server``, then the events as one
chunk and the terminating zero-length chunk (``tests/unit/fake_provider/test_stream_writes.py``
compares the two byte for byte).
"""

from __future__ import annotations

import time
from email.utils import formatdate
from http import HTTPStatus

from aiohttp.http import SERVER_SOFTWARE

from fake_provider.plan import Plan

__all__ = ["MAX_DIRECT_BODY", "plain_response_bytes", "stream_response_bytes"]

MAX_DIRECT_BODY = 256 * 1024  # larger bodies go through aiohttp's writer, which applies backpressure
_REASONS = {status.value: status.phrase for status in HTTPStatus}  # aiohttp's phrases; unknown → ""
_SERVER = f"Server: {SERVER_SOFTWARE}\r\n\r\n"
_date_cache: list[object] = [0, ""]  # [Unix second, its IMF-fixdate]: one format per second


def _date() -> str:
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[0] = now
        _date_cache[1] = formatdate(now, usegmt=True)
    return str(_date_cache[1])


def _head(plan: Plan) -> str | None:
    """The status line and the plan's headers; ``None`` if a header is unfit for the wire (CR or LF in it)."""
    headers = plan.headers
    block = "".join([f"{name}: {value}\r\n" for name, value in headers])
    if block.count("\n") != len(headers) or block.count("\r") != len(headers):
        return None  # a CR or LF inside a name or value: let aiohttp refuse it as it refuses any bad header
    return f"HTTP/1.1 {plan.status} {_REASONS.get(plan.status, '')}\r\n{block}"


def plain_response_bytes(plan: Plan) -> bytes | None:
    """The whole response for a plain plan; ``None`` if a header is unfit for the wire (CR or LF in it)."""
    head = _head(plan)
    if head is None:
        return None
    return f"{head}Content-Length: {len(plan.body)}\r\nDate: {_date()}\r\n{_SERVER}".encode() + plan.body


#: headers aiohttp would add or handle itself for a stream: a plan naming one goes through aiohttp
_STREAM_OWN = frozenset({"transfer-encoding", "content-length", "date", "server", "connection"})


def stream_response_bytes(plan: Plan, data: bytes) -> bytes | None:
    """A stream plan sent all at once: its headers, then ``data`` (every event) as one chunk, then the end.

    ``None`` when aiohttp would write other headers than these: a header unfit for the wire, no
    ``content-type`` (aiohttp would add its default), or one aiohttp sets itself.
    """
    names = [name.lower() for name, _ in plan.headers]
    if "content-type" not in names or not _STREAM_OWN.isdisjoint(names):
        return None
    head = _head(plan)
    if head is None:
        return None
    framed = b"%x\r\n%b\r\n0\r\n\r\n" % (len(data), data) if data else b"0\r\n\r\n"
    return f"{head}Transfer-Encoding: chunked\r\nDate: {_date()}\r\n{_SERVER}".encode() + framed
