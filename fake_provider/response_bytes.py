"""A plain plan as the bytes of one HTTP/1.1 response: status line, headers, body — one ``send``.

The socket performer writes most answers (every plain body: completions, errors, quota 429s) with
this instead of aiohttp's response machinery, which builds a header multidict, runs the prepare
hooks and writes headers and body separately: at ten thousand answers a second that machinery is a
large share of the server's time. The bytes are what aiohttp would send for the same plan — the
plan's headers in order, then ``Content-Length``, ``Date`` and ``Server`` — so a client cannot tell
the two paths apart (``tests/integration/test_fake_parity.py`` compares them). Requests this path
does not cover (HTTP/1.0, ``Connection: close``, ``HEAD``, large bodies) go through aiohttp.
"""

from __future__ import annotations

import time
from email.utils import formatdate
from http import HTTPStatus

from aiohttp.http import SERVER_SOFTWARE

from fake_provider.plan import Plan

__all__ = ["MAX_DIRECT_BODY", "plain_response_bytes"]

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


def plain_response_bytes(plan: Plan) -> bytes | None:
    """The whole response for a plain plan; ``None`` if a header is unfit for the wire (CR or LF in it)."""
    headers = plan.headers
    block = "".join([f"{name}: {value}\r\n" for name, value in headers])
    if block.count("\n") != len(headers) or block.count("\r") != len(headers):
        return None  # a CR or LF inside a name or value: let aiohttp refuse it as it refuses any bad header
    head = f"HTTP/1.1 {plan.status} {_REASONS.get(plan.status, '')}\r\n{block}"
    return f"{head}Content-Length: {len(plan.body)}\r\nDate: {_date()}\r\n{_SERVER}".encode() + plan.body
