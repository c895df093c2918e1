"""No secret in the fake provider's output: a seeded fuzz of malformed HTTP at the socket level.

``harness serve --api-key KEY`` runs in a subprocess; a seeded generator sends it malformed requests
that carry the key in the places where parsers quote what they refuse (an ``Authorization`` header
over the line limit, a key followed by a control byte, a Gemini ``?key=`` URL with a bad byte, a
broken chunked body) and clients that disconnect mid-body. Then the server's stdout and stderr are
searched for the key (and for a distinctive part of it): zero hits, zero tracebacks. The answers the
server sent back do not quote the key either.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from fake_provider.redaction import redact
from tests.integration.test_fake_server_cli import HARNESS, start

SEED = 20261207
KEY_CORE = "7f3a9c1e5b2d8f40"  # a distinctive run of the key: a partial leak shows it
KEY = f"sk-fuzz-{KEY_CORE}-secret"
CONTROL_TOKEN = "ctl-a1b2c3d4e5f6a7b8"
GEMINI = "/v1beta/models/gemini-1.5-flash:generateContent"
CHAT_BODY = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":2}'
BAD_BYTES = [b"\x00", b"\x01", b"\x07", b"\x7f", b"\x0b", b"\x1b", b"\xff", b"\xc3\x28", b" ", b"\t\x00"]


def _request(line: bytes, headers: list[bytes], body: bytes = b"") -> bytes:
    return line + b"\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body


def _auth(rng: random.Random) -> bytes:
    return rng.choice(
        [b"Authorization: Bearer " + KEY.encode(), b"x-api-key: " + KEY.encode(), b"x-goog-api-key: " + KEY.encode()]
    )


# Each shape returns (bytes to send, how many bytes to send before closing or None for all).
def long_auth_header(rng: random.Random) -> tuple[bytes, int | None]:
    pad = b"A" * rng.choice([8200, 9000, 16_500, 70_000])
    return _request(b"POST /v1/chat/completions HTTP/1.1", [b"Host: x", _auth(rng) + pad]), None


def key_then_control_byte(rng: random.Random) -> tuple[bytes, int | None]:
    bad = rng.choice(BAD_BYTES)
    header = _auth(rng) + bad + rng.choice([b"", b"tail", KEY.encode()])
    body = CHAT_BODY
    headers = [b"Host: x", header, b"Content-Type: application/json", b"Content-Length: %d" % len(body)]
    return _request(b"POST /v1/chat/completions HTTP/1.1", headers, body), None


def gemini_key_bad_byte(rng: random.Random) -> tuple[bytes, int | None]:
    bad = rng.choice(BAD_BYTES)
    where = rng.choice(["after", "inside", "before"])
    key = KEY.encode()
    query = {
        "after": b"key=" + key + bad,
        "inside": b"key=" + key[:12] + bad + key[12:],
        "before": b"alt=sse" + bad + b"&key=" + key,
    }[where]
    body = b'{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}'
    line = b"POST " + GEMINI.encode() + b"?" + query + b" HTTP/1.1"
    return _request(line, [b"Host: x", b"Content-Length: %d" % len(body)], body), None


def disconnect_mid_body(rng: random.Random) -> tuple[bytes, int | None]:
    length = rng.choice([200, 5000, 100_000])
    body = (CHAT_BODY * (length // len(CHAT_BODY) + 1))[:length]
    headers = [b"Host: x", _auth(rng), b"Content-Type: application/json", b"Content-Length: %d" % length]
    data = _request(b"POST /v1/chat/completions HTTP/1.1", headers, body)
    return data, len(data) - length + rng.randrange(1, min(length, 2000))


def broken_chunked_body(rng: random.Random) -> tuple[bytes, int | None]:
    chunk = rng.choice([b"zz\r\n" + CHAT_BODY, b"5\r\n" + CHAT_BODY, b"-1\r\n", b"ffffffffffffffffff\r\n"])
    headers = [b"Host: x", _auth(rng), b"Transfer-Encoding: chunked"]
    return _request(b"POST /v1/chat/completions HTTP/1.1", headers, chunk + b"\r\n0\r\n\r\n"), None


def key_in_bad_request_line(rng: random.Random) -> tuple[bytes, int | None]:
    line = rng.choice(
        [
            b"POST " + GEMINI.encode() + b"?key=" + KEY.encode() + b" HTTP/1.1 extra",
            b"GET /v1/models?key=" + KEY.encode() + b"\x00 HTTP/1.1",
            b"POST /v1/chat/completions?api_key=" + KEY.encode() + b" HTTP/9.9",
            b"P\x01ST " + GEMINI.encode() + b"?key=" + KEY.encode() + b" HTTP/1.1",
        ]
    )
    return _request(line, [b"Host: x"]), None


def bad_header_name(rng: random.Random) -> tuple[bytes, int | None]:
    name = rng.choice([b"Authorization ", b"x-api-key\x01", b"Author\x00ization", b"x goog-api-key"])
    return _request(b"POST /v1/messages HTTP/1.1", [b"Host: x", name + b": " + KEY.encode()]), None


def key_split_by_bare_lf(rng: random.Random) -> tuple[bytes, int | None]:
    """A bare LF inside the credential: the parser sees a line that starts in the middle of the key."""
    header = _auth(rng)
    at = rng.randrange(len(header) - len(KEY) + 2, len(header) - 4)
    line = header[:at] + b"\n" + header[at:] + rng.choice(BAD_BYTES)
    return _request(b"POST /v1/messages HTTP/1.1", [b"Host: x", line]), None


def bare_key_over_the_line_limit(rng: random.Random) -> tuple[bytes, int | None]:
    """The key alone on an over-long line (a folded header value): no header name to redact by."""
    line = b" " + KEY.encode() + b"B" * rng.choice([8200, 12_000])
    return _request(b"POST /v1/chat/completions HTTP/1.1", [b"Host: x", b"x-api-key: v", line]), None


def random_mutation(rng: random.Random) -> tuple[bytes, int | None]:
    """A valid request carrying the key, with a bad byte dropped somewhere and maybe cut short."""
    headers = [b"Host: x", _auth(rng), b"Content-Type: application/json", b"Content-Length: %d" % len(CHAT_BODY)]
    data = bytearray(_request(b"POST /v1/chat/completions HTTP/1.1", headers, CHAT_BODY))
    for _ in range(rng.randint(1, 3)):
        data[rng.randrange(len(data)) : rng.randrange(len(data)) + 0] = rng.choice(BAD_BYTES)
    cut = rng.randrange(len(data)) if rng.random() < 0.3 else None
    return bytes(data), cut


SHAPES: list[Callable[[random.Random], tuple[bytes, int | None]]] = [
    long_auth_header,
    key_then_control_byte,
    gemini_key_bad_byte,
    disconnect_mid_body,
    broken_chunked_body,
    key_in_bad_request_line,
    bad_header_name,
    key_split_by_bare_lf,
    bare_key_over_the_line_limit,
    random_mutation,
]
ROUNDS = 6  # every shape this many times, then as many random picks: ~100 connections


async def _send(port: int, data: bytes, cut: int | None) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data if cut is None else data[:cut])
        await writer.drain()
        if cut is not None:
            return b""  # close mid-request
        try:
            return await asyncio.wait_for(reader.read(65536), 5)
        except (TimeoutError, ConnectionError):
            return b""
    except ConnectionError:
        return b""  # the server closed first (a request it refused before reading it all)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def _fuzz(port: int, rng: random.Random) -> tuple[list[bytes], int]:
    cases = [shape for shape in SHAPES for _ in range(ROUNDS)] + [rng.choice(SHAPES) for _ in range(len(SHAPES) * 6)]
    answers = []
    mid_body = 0
    for shape in cases:
        data, cut = shape(rng)
        mid_body += cut is not None
        answers.append(await _send(port, data, cut))
    # the server survived it all: a valid request with the key still gets its 200
    headers = [b"Host: x", b"Authorization: Bearer " + KEY.encode(), b"Content-Length: %d" % len(CHAT_BODY)]
    ok = await _send(port, _request(b"POST /v1/chat/completions HTTP/1.1", headers, CHAT_BODY), None)
    assert ok.startswith(b"HTTP/1.1 200"), ok[:200]
    return answers, mid_body


@pytest.mark.slow
@pytest.mark.parametrize(
    ("seed", "known_key"),
    [(SEED, True), (SEED + 1, False)],
    ids=["api-key-given", "any-key-accepted"],  # without --api-key the server cannot search for the key itself
)
def test_fuzzed_requests_leave_no_key_and_no_traceback_in_the_output(
    seed: int, known_key: bool, tmp_path: Path
) -> None:
    stderr_path = tmp_path / "stderr.txt"
    keys = ["--api-key", KEY] if known_key else []
    with stderr_path.open("w") as stderr_file:
        proc, port = start(
            [*HARNESS, "serve", "--port", "0", *keys, "--control-token", CONTROL_TOKEN], stderr=stderr_file
        )
        try:
            answers, mid_body = asyncio.run(_fuzz(port, random.Random(seed)))
        finally:
            proc.send_signal(signal.SIGINT)
            stdout, _ = proc.communicate(timeout=20)
    output = stdout + stderr_path.read_text(encoding="utf-8", errors="replace")
    assert proc.returncode == 0, output[-2000:]
    for secret in (KEY, KEY_CORE, CONTROL_TOKEN):
        assert secret not in output, f"{secret!r} leaked into the server's output"
    assert "Traceback" not in output
    # every log line is one line, prefixed; the mid-body disconnects were logged, one line each
    lines = [line for line in output.splitlines()[1:] if line]
    assert all(line.startswith("harness serve: ") for line in lines), [x for x in lines if "harness serve" not in x][:5]
    disconnects = [line for line in lines if "client disconnected mid-body" in line]
    assert 1 <= len(disconnects) <= mid_body
    assert any("Error handling request" in line for line in lines)  # the parser's refusals were logged
    # and the answers the server sent back quote no secret either
    leaked = [a[:300] for a in answers if KEY.encode() in a or KEY_CORE.encode() in a]
    assert leaked == []


def test_redact_hides_credential_headers_bearer_tokens_and_query_keys() -> None:
    cases = [
        f"b'Authorization: Bearer {KEY}\\x01'",
        f"x-api-key: {KEY}\r\nHost: x",
        f"X-Goog-Api-Key:{KEY}",
        f"POST {GEMINI}?alt=sse&key={KEY}\\x7f HTTP/1.1",
        f"GET /v1/models?key={KEY[:12]}\\x00{KEY[12:]}",
        f"{{'authorization': 'Bearer {KEY}'}}",
        f"token Bearer {KEY}",
        f"api_key={KEY}",
    ]
    for text in cases:
        out = redact(text)
        assert KEY not in out, (text, out)
        assert KEY_CORE not in out, (text, out)
        assert "[redacted]" in out
    # a configured secret is hidden wherever it appears; the rest of the line stays readable
    assert redact(f"weird place {KEY} here", [KEY]) == "weird place [redacted] here"
    assert redact("POST /v1/chat/completions HTTP/1.1 Host: x") == "POST /v1/chat/completions HTTP/1.1 Host: x"
    assert redact("?key=abc&alt=sse") == "?key=[redacted]&alt=sse"


def test_a_disconnect_mid_body_is_one_line_in_process(caplog: pytest.LogCaptureFixture) -> None:
    """In-process (the pytest plugin's and the real-time runner's way), the same one line, no traceback."""
    from fake_provider.app import start as start_server
    from fake_provider.config import ProviderConfig
    from fake_provider.core import ProviderCore

    async def scenario() -> None:
        runner, port = await start_server(ProviderCore(ProviderConfig(allowed_keys=frozenset({KEY}))), "127.0.0.1", 0)
        try:
            data, cut = disconnect_mid_body(random.Random(1))
            await _send(port, data, cut)
            for _ in range(100):  # the server notices the close asynchronously
                if any("mid-body" in r.getMessage() for r in caplog.records):
                    break
                await asyncio.sleep(0.02)
        finally:
            await runner.cleanup()

    with caplog.at_level("WARNING"):
        asyncio.run(scenario())
    lines = [r for r in caplog.records if "mid-body" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].exc_info is None
    assert "\n" not in lines[0].getMessage()
    assert KEY not in caplog.text
