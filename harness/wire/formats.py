"""Value formats the providers put in headers and bodies: durations, timestamps, retry hints.

* Go-style durations (OpenAI ``x-ratelimit-reset-*``): ``20ms``, ``1s``, ``6m0s``, ``9.816s``, ``1h2m3s``.
* Google protobuf durations (Gemini ``RetryInfo.retryDelay``): ``47s``, ``0.300s``.
* RFC 3339 timestamps (Anthropic ``anthropic-ratelimit-*-reset``): ``2026-11-27T04:00:00Z``.
* HTTP dates (``retry-after`` may be one): ``Fri, 27 Nov 2026 04:00:00 GMT``.

Parsers return ``None`` for anything they cannot read: a bad header never raises.
"""

from __future__ import annotations

import email.utils
import functools
import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime

__all__ = [
    "format_go_duration",
    "format_google_duration",
    "format_http_date",
    "format_rfc3339",
    "json_string",
    "json_string_bytes",
    "parse_go_duration",
    "parse_google_duration",
    "parse_http_date",
    "parse_retry_after",
    "parse_rfc3339",
]

_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _trim(value: float, digits: int) -> str:
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String()`` at millisecond precision: ``20ms``, ``6m0s``, ``9.816s``."""
    if seconds <= 0 or not math.isfinite(seconds):
        return "0s"
    ms = round(seconds * 1000)
    if ms < 1000:
        return f"{ms}ms" if ms else f"{_trim(seconds * 1000, 3)}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs = _trim(rest / 1000, 3)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def parse_go_duration(text: str | None) -> float | None:
    """Seconds in a Go duration (``1m30.5s`` → 90.5); ``None`` if it is not one.

    Remembered per text (rate-limit resets repeat: they come with every answer).
    """
    if not text:
        return None
    seconds = _GO_PARSED.get(text, _UNSEEN)
    if seconds is _UNSEEN:
        if len(_GO_PARSED) >= _MAX_GO_PARSED:
            _GO_PARSED.clear()
        seconds = _GO_PARSED[text] = _parse_go_duration(text)
    return seconds  # type: ignore[return-value]


_UNSEEN = object()
_GO_PARSED: dict[str, float | None] = {}
_MAX_GO_PARSED = 100_000


def _parse_go_duration(text: str) -> float | None:
    text = text.strip()
    if text == "0":
        return 0.0
    total = 0.0
    pos = 0
    for match in _GO_PART.finditer(text):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _GO_UNITS[match.group(2)]
        pos = match.end()
    return total if pos == len(text) and pos else None


def format_google_duration(seconds: float) -> str:
    """A protobuf Duration in JSON: ``47s``, ``0.300s``."""
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{seconds:.3f}s"


def parse_google_duration(text: object) -> float | None:
    if not isinstance(text, str) or not text.endswith("s"):
        return None
    try:
        value = float(text[:-1])
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def format_rfc3339(wall: float) -> str:
    """Unix seconds → ``2026-11-27T04:00:00Z`` (whole seconds, UTC, as Anthropic sends)."""
    return datetime.fromtimestamp(math.ceil(wall), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str | None) -> float | None:
    """Unix seconds of an RFC 3339 timestamp; ``None`` if unreadable."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def format_http_date(wall: float) -> str:
    return email.utils.formatdate(wall, usegmt=True)


def parse_http_date(text: str | None) -> float | None:
    if not text:
        return None
    try:
        parsed = email.utils.parsedate_tz(text)
        return None if parsed is None else float(email.utils.mktime_tz(parsed))
    except (TypeError, ValueError, OverflowError):
        return None


def parse_retry_after(headers: Mapping[str, str], now_wall: float) -> float | None:
    """The retry hint in seconds: ``retry-after-ms``, else ``retry-after`` (seconds or HTTP date).

    ``headers`` must answer lower-case names (a case-insensitive mapping, or lower-cased keys).
    Negative or unreadable values give ``None``, as the SDKs treat them.
    """
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            ms = float(value)
        except ValueError:
            ms = -1.0
        if math.isfinite(ms) and ms >= 0:
            return ms / 1000
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        secs = float(value)
    except ValueError:
        when = parse_http_date(value)
        return None if when is None else max(0.0, when - now_wall)
    return secs if math.isfinite(secs) and secs >= 0 else None


_json_str = json.JSONEncoder(separators=(",", ":")).encode


def json_string(text: str) -> str:
    """``text`` as a JSON string literal, exactly as ``json.dumps`` writes it (ASCII-safe).

    Generated answers are plain printable ASCII most of the time: those are only quoted, which saves
    the encoder call on every stream chunk.
    """
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return _json_str(text)


#: strings up to this length (a stream's token pieces) have their quoted bytes cached
SHORT_STRING = 32


@functools.lru_cache(maxsize=4096)
def _short_json_string_bytes(text: str) -> bytes:
    return json_string(text).encode()


def json_string_bytes(text: str) -> bytes:
    """``json_string(text).encode()``; short strings are quoted once and then taken from a cache.

    A generated answer is a slice of a small corpus of pieces (``fake_provider.textgen``), so a
    server streaming thousands of answers quotes the same few thousand pieces over and over.
    """
    return _short_json_string_bytes(text) if len(text) <= SHORT_STRING else json_string(text).encode()
