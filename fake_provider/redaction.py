"""Keeping credentials out of the fake provider's own output.

Every line the server logs goes through :func:`redact` first: the values of credential headers
(``Authorization``, ``Proxy-Authorization``, ``x-api-key``, ``x-goog-api-key``, ``api-key``), bearer
tokens, ``key=`` query values, and any secret the server was configured with (its allowed keys, its
control token) are replaced by ``[redacted]``. Exceptions are logged as one line (their type and
redacted message), never as a traceback: aiohttp's HTTP parser puts the offending request line or
header into its error messages, which is how a key used to reach stderr.

Example::

    redact("b'Authorization: Bearer sk-live-123\\x01'")   # "b'Authorization: [redacted]'"
    redact("GET /v1beta/models/m:generateContent?key=AIza-9&alt=sse")  # "...?key=[redacted]&alt=sse"
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError

__all__ = ["REDACTED", "OneLineFormatter", "RedactingLogger", "describe_exception", "parser_message", "redact"]

REDACTED = "[redacted]"

# A credential header and everything after it up to the end of its line (or of the quoted bytes
# a parser error shows it in). Over-redacting the rest of a line is fine; a partial key is not.
_HEADER = re.compile(
    r"(?i)\b((?:proxy-)?authorization|x-api-key|x-goog-api-key|api-key)(\s*[:=]\s*|['\"]\s*[:,]\s*['\"])"
    r"(?:(?!\\[rn])[^\r\n'\"])*"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)(\s+)[^\s'\",;]+")
_QUERY_KEY = re.compile(r"(?i)([?&;]|\b)((?:api[_-]?)?key=)[^&\s'\"#]*")
_SHORTEST_SECRET = 4  # shorter configured "secrets" are not searched for literally (too many false hits)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every credential it shows replaced by ``[redacted]``."""
    for secret in sorted((s for s in secrets if len(s) >= _SHORTEST_SECRET), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return _QUERY_KEY.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _exception_of(exc_info: object) -> BaseException | None:
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple) and len(exc_info) == 3 and isinstance(exc_info[1], BaseException):
        return exc_info[1]
    if exc_info is True:
        return sys.exc_info()[1]
    return None


_QUOTED = re.compile(r"b'(?:[^'\\\n]|\\.)*(?:'|$)" + r'|b"(?:[^"\\\n]|\\.)*(?:"|$)', re.MULTILINE)
_CARET = re.compile(r"\s+\^(?=\s|$)")
_REQUEST_LINE = re.compile(r"b['\"]([A-Z]{1,16} /[^?\s'\"\\]{0,200})")
_HEADER_NAME = re.compile(r"b['\"]([A-Za-z0-9!#$%&*+.^_`|~-]{1,64})\s*:")


def _summarize_quoted(match: re.Match[str]) -> str:
    quoted = match.group(0)
    line = _REQUEST_LINE.match(quoted)
    if line is not None:
        return f"b'{line.group(1)} …'"
    header = _HEADER_NAME.match(quoted)
    if header is not None:
        return f"b'{header.group(1)}: …'"
    return "b'…'"


def parser_message(text: str) -> str:
    """An HTTP parser's error message without the bytes it quotes (only a request path or header name).

    aiohttp's parser quotes the line it refused (``Invalid header value char: b'x-api-key: sk-…'``),
    and that line may be a fragment with no header name in front of the key (a value cut by a bare
    LF, an over-long line shown from its middle); pattern-based redaction cannot see those, so the
    quoted bytes go, except the method and path of a request line or the name of a header.
    """
    text = _CARET.sub("", _QUOTED.sub(_summarize_quoted, text))
    return " ".join(part.strip() for part in text.splitlines() if part.strip() and part.strip() != "^")


def describe_exception(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """``Type: message`` on one line, redacted (no traceback); an HTTP parser's quoted bytes dropped."""
    message = str(exc)
    message = parser_message(message) if isinstance(exc, HttpProcessingError) else _one_line(message)
    return redact(f"{type(exc).__name__}: {message}" if message else type(exc).__name__, secrets)


class RedactingLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A logger for aiohttp's request handler (its ``logger=``): one redacted line per event.

    aiohttp logs a malformed request with ``logger.exception(..., exc_info=exc)``; here the exception
    becomes a ``: Type: message`` suffix, the traceback is dropped and the whole line is redacted.
    """

    def __init__(self, logger: logging.Logger, secrets: Iterable[str] = ()) -> None:
        super().__init__(logger, {})
        self.secrets = tuple(secrets)

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        return msg, kwargs

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if not self.logger.isEnabledFor(level):
            return
        try:
            text = str(msg) % args if args else str(msg)
        except (TypeError, ValueError):
            text = " ".join(str(part) for part in (msg, *args))
        exc = _exception_of(kwargs.get("exc_info"))
        if exc is not None:
            text = f"{text}: {describe_exception(exc)}"
        self.logger.log(level, "%s", redact(_one_line(text), self.secrets))

    def exception(self, msg: object, *args: object, exc_info: object = True, **kwargs: Any) -> None:
        self.log(logging.ERROR, msg, *args, exc_info=exc_info, **kwargs)


class OneLineFormatter(logging.Formatter):
    """A formatter for the ``harness serve`` process: every record on one redacted line, no traceback."""

    def __init__(self, fmt: str | None = None, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        self.secrets = tuple(secrets)

    def format(self, record: logging.LogRecord) -> str:
        exc = _exception_of(record.exc_info) if record.exc_info else None
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        line = super().format(record)
        if exc is not None:
            line = f"{line}: {describe_exception(exc)}"
        return redact(_one_line(line), self.secrets)
