"""Anthropic's wire format, both sides: messages (plain and the full SSE event sequence), errors.

Server side: :func:`parse_messages`, :func:`message_body`, :class:`MessageStreamEncoder`,
:func:`error_body`, :func:`invalid_body`, :func:`default_error`. Client side: :func:`auth_headers`,
:func:`build_messages_body`, :func:`parse_message_body`, :class:`MessageStreamReader`,
:func:`parse_error`, :func:`parse_rate_limits`, :func:`error_from_response`.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from harness.errors import (
    AuthenticationError,
    BadRequest,
    ContentFiltered,
    ContextLengthExceeded,
    NotFound,
    Overloaded,
    PrefillRejected,
    ProviderError,
    QuotaExhausted,
    RateLimited,
    RequestTimeoutStatus,
    ServerError,
    StreamBroken,
)
from harness.pricing import Usage
from harness.wire import anthropic_tools, checks, codec
from harness.wire.formats import (
    SHORT_STRING,
    format_rfc3339,
    json_string,
    json_string_bytes,
    parse_retry_after,
    parse_rfc3339,
)
from harness.wire.neutral import (
    ChatCall,
    ChatResult,
    ErrorInfo,
    Message,
    RateLimits,
    RequestInvalid,
    RoleContent,
    StreamEvent,
    ToolDelta,
    message_pairs,
)
from harness.wire.sse import SSEParser, encode_event

__all__ = [
    "API_VERSION",
    "CREDIT_BALANCE_MESSAGE",
    "FINISH_REASONS",
    "MESSAGES_PATH",
    "MESSAGE_STOP_EVENT",
    "PREFILL_MESSAGE",
    "REQUEST_ID_HEADER",
    "MessageStreamEncoder",
    "MessageStreamReader",
    "auth_headers",
    "build_messages_body",
    "default_error",
    "error_body",
    "error_event",
    "error_from_info",
    "error_from_response",
    "invalid_body",
    "message_body",
    "parse_error",
    "parse_message_body",
    "parse_messages",
    "parse_rate_limits",
    "rate_limit_headers",
    "rate_limit_message",
]

MESSAGES_PATH = "/v1/messages"
REQUEST_ID_HEADER = "request-id"
API_VERSION = "2023-06-01"  # what 0.x and LiteLLM send; 2.x sends a newer one, any is accepted
#: stop_reason → the neutral finish reason the reference client reports ("content_filter": refused)
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
PREFILL_MESSAGE = (
    "This model does not support assistant message prefill. The conversation must end with a user message."
)

_dumps = json.JSONEncoder(separators=(",", ":")).encode


# ---------------------------------------------------------------------------------------- server side
def parse_messages(body: object, *, count_only: bool = False) -> ChatCall:
    """Validate a messages body; raises :class:`RequestInvalid` naming the field.

    ``count_only``: a ``/v1/messages/count_tokens`` body, which has no ``max_tokens``."""
    obj = checks.require_object(body, "")
    model = checks.get_str(obj, "model", required=True, nonempty=True)
    max_tokens = None if count_only else checks.get_int(obj, "max_tokens", required=True, min=1)
    raw = checks.get_list(obj, "messages", required=True, nonempty=True)
    cache = anthropic_tools.CacheState(anthropic_tools.has_breakpoints(obj))
    tools, tool_tokens = anthropic_tools.parse_tools(obj, cache)
    messages: list[Message] = []
    system = obj.get("system")
    if system is not None:
        cache.message("system")
        messages.append(("system", anthropic_tools.parse_content(system, "system", "system", cache)[0]))
    results = False
    for i, item in enumerate(raw):
        where = f"messages.{i}"
        msg = checks.require_object(item, where)
        role = checks.get_str(msg, "role", where, required=True)
        if role not in ("user", "assistant"):
            raise RequestInvalid(f"{where}.role", f"Input should be 'user' or 'assistant', got {role!r}")
        if "content" not in msg:
            raise RequestInvalid(f"{where}.content", "Field required", checks.MISSING_CODE)
        cache.message(role)
        text, results = anthropic_tools.parse_content(msg["content"], f"{where}.content", role, cache)
        messages.append((role, text))
    stream = bool(checks.get_bool(obj, "stream"))
    temperature = checks.get_number(obj, "temperature", min=0, max=1)
    checks.get_number(obj, "top_p", min=0, max=1)
    checks.get_int(obj, "top_k", min=0)
    checks.get_object(obj, "metadata")
    stop = checks.get_str_or_list(obj, "stop_sequences", max_items=8191)
    prefill = messages[-1][0] == "assistant"
    after_result = results and not prefill
    budget_cap = max_tokens if max_tokens is not None else 1 << 62  # count_tokens: no max_tokens to exceed
    extras = anthropic_tools.parse_extras(obj, tools, tool_tokens, cache, after_result, budget_cap)
    return ChatCall(model, tuple(messages), max_tokens, stream, False, stop, temperature, prefill, extras)


def _usage_json(input_tokens: int, output_tokens: int) -> str:
    return (
        f'{{"input_tokens":{input_tokens},"cache_creation_input_tokens":0,"cache_read_input_tokens":0,'
        f'"output_tokens":{output_tokens},"service_tier":"standard"}}'
    )


def message_body(
    message_id: str,
    model: str,
    text: str,
    stop_reason: str,
    stop_sequence: str | None,
    input_tokens: int,
    output_tokens: int,
) -> bytes:
    return (
        f'{{"id":"{message_id}","type":"message","role":"assistant","model":{_dumps(model)},'
        f'"content":[{{"type":"text","text":{json_string(text)}}}],"stop_reason":"{stop_reason}",'
        f'"stop_sequence":{_dumps(stop_sequence)},"usage":{_usage_json(input_tokens, output_tokens)}}}'
    ).encode()


_TEXT_BEFORE = (
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":'
)
_TEXT_AFTER = b"}}\n\n"


@functools.lru_cache(maxsize=4096)
def _text_event(text: str) -> bytes:
    return _TEXT_BEFORE + json_string_bytes(text) + _TEXT_AFTER


class MessageStreamEncoder:
    """The event sequence of one streamed message: start, block start, ping, deltas, stop events."""

    __slots__ = ("_id", "_model")

    def __init__(self, message_id: str, model: str) -> None:
        self._id = message_id
        self._model = _dumps(model)

    def start(self, input_tokens: int) -> bytes:
        """message_start + content_block_start + ping, written together."""
        return (
            f'event: message_start\ndata: {{"type":"message_start","message":{{"id":"{self._id}","type":"message",'
            f'"role":"assistant","model":{self._model},"content":[],"stop_reason":null,"stop_sequence":null,'
            f'"usage":{_usage_json(input_tokens, 0)}}}}}\n\n'
            'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
            '"content_block":{"type":"text","text":""}}\n\n'
            'event: ping\ndata: {"type": "ping"}\n\n'
        ).encode()

    @staticmethod
    def text(text: str) -> bytes:
        """A text delta event: nothing in it but the text, so a short piece's event is built once."""
        if len(text) <= SHORT_STRING:
            return _text_event(text)
        return _TEXT_BEFORE + json_string_bytes(text) + _TEXT_AFTER

    @staticmethod
    def stop(stop_reason: str, stop_sequence: str | None, input_tokens: int, output_tokens: int) -> bytes:
        """content_block_stop + message_delta (cumulative usage) + message_stop."""
        return (
            'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
            f'event: message_delta\ndata: {{"type":"message_delta","delta":{{"stop_reason":"{stop_reason}",'
            f'"stop_sequence":{_dumps(stop_sequence)}}},"usage":{{"input_tokens":{input_tokens},'
            f'"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":{output_tokens}}}}}\n\n'
            'event: message_stop\ndata: {"type":"message_stop"}\n\n'
        ).encode()


def error_body(error_type: str, message: str, request_id: str | None = None) -> bytes:
    return _dumps(
        {"type": "error", "error": {"type": error_type, "message": message}, "request_id": request_id}
    ).encode()


#: the stream's last event (a stream without it still ends when the connection closes)
MESSAGE_STOP_EVENT = b'event: message_stop\ndata: {"type":"message_stop"}\n\n'


def error_event(error_type: str, message: str) -> bytes:
    """A mid-stream ``event: error``; the SDK raises it as the status error of that type."""
    return encode_event(_dumps({"type": "error", "error": {"type": error_type, "message": message}}), "error")


def invalid_body(exc: RequestInvalid, request_id: str | None = None) -> bytes:
    message = exc.message if exc.param is None else f"{exc.param}: {exc.message}"
    return error_body("invalid_request_error", message, request_id)


_DEFAULT_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "Not found."),
    408: ("timeout_error", "Request timed out."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "This request would exceed your organization's rate limit. Please try again later."),
    500: ("api_error", "Internal server error"),
    502: ("api_error", "Bad gateway"),
    503: ("api_error", "Service unavailable"),
    504: ("timeout_error", "Request timed out"),
    529: ("overloaded_error", "Overloaded"),
}


def default_error(status: int) -> tuple[str, str]:
    """``(type, message)`` Anthropic sends for ``status``."""
    found = _DEFAULT_ERRORS.get(status)
    if found is not None:
        return found
    return ("api_error", "Internal server error") if status >= 500 else ("invalid_request_error", "Invalid request.")


#: Anthropic's answer to an organisation without credit left (400 invalid_request_error)
CREDIT_BALANCE_MESSAGE = (
    "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or "
    "purchase credits."
)
_LIMIT_NAMES = {
    "rpm": "requests per minute",
    "tpm": "tokens per minute",
    "itpm": "input tokens per minute",
    "otpm": "output tokens per minute",
}


_RESETS: dict[int, str] = {}  # RFC 3339 texts by whole second: these headers go out with every answer


def _reset_time(wall: float) -> str:
    second = math.ceil(wall)
    text = _RESETS.get(second)
    if text is None:
        if len(_RESETS) > 10_000:
            _RESETS.clear()
        text = _RESETS[second] = format_rfc3339(second)
    return text


def rate_limit_headers(limits: Sequence[tuple[str, int, int, float]]) -> list[tuple[str, str]]:
    """``anthropic-ratelimit-{name}-{limit,remaining,reset}`` from (name, limit, remaining, reset as Unix seconds).

    ``name`` is ``requests``, ``tokens``, ``input-tokens`` or ``output-tokens``; resets are RFC 3339
    timestamps in whole seconds, rounded up (as Anthropic sends them: pair them with ``retry-after``).
    """
    out: list[tuple[str, str]] = []
    for name, limit, remaining, reset_wall in limits:
        out += [
            (f"anthropic-ratelimit-{name}-limit", str(limit)),
            (f"anthropic-ratelimit-{name}-remaining", str(remaining)),
            (f"anthropic-ratelimit-{name}-reset", _reset_time(reset_wall)),
        ]
    return out


def rate_limit_message(kind: str, limit: int) -> str:
    """The message of Anthropic's 429 ``rate_limit_error`` for the limit ``kind`` ("rpm", "itpm" …)."""
    return (
        f"This request would exceed the rate limit for your organization of {limit:,} {_LIMIT_NAMES.get(kind, kind)}. "
        "For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for "
        "current usage. Please reduce the prompt length or the maximum tokens requested, or try again later."
    )


# ---------------------------------------------------------------------------------------- client side
def auth_headers(api_key: str) -> dict[str, str]:
    return {"x-api-key": api_key, "anthropic-version": API_VERSION, "content-type": "application/json"}


def build_messages_body(
    model: str,
    messages: Sequence[Message | RoleContent],
    *,
    max_tokens: int,
    temperature: float | None = None,
    stream: bool = False,
    stop: Sequence[str] = (),
    extra: Mapping[str, Any] | None = None,
) -> bytes:
    """A messages body from neutral inputs; system messages move to the ``system`` field, tool results to
    ``tool_result`` blocks; ``extra``: more fields (tools, thinking …)."""
    pairs = message_pairs(messages)
    system: str | list[dict[str, Any]] = "\n".join(t for r, t in pairs if r == "system")
    rich = any(
        getattr(m, "tool_calls", ()) or getattr(m, "tool_call_id", None) or getattr(m, "cache_ttl", None)
        for m in messages
    )
    if rich:
        wire = anthropic_tools.wire_messages([m for m in messages if not isinstance(m, tuple) and m.role != "system"])
        system = anthropic_tools.wire_system([m for m in messages if not isinstance(m, tuple) and m.role == "system"])
    else:
        wire = [{"role": r, "content": t} for r, t in pairs if r != "system"]
    body: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "messages": wire}
    if extra:
        body.update(extra)
    if system:
        body["system"] = system
    if temperature is not None:
        body["temperature"] = temperature
    if stop:
        body["stop_sequences"] = list(stop)
    if stream:
        body["stream"] = True
    return codec.dumps(body)


def _usage(data: object) -> Usage | None:
    if not isinstance(data, dict) or "output_tokens" not in data:
        return None
    cached = int(data.get("cache_read_input_tokens") or 0)
    written = int(data.get("cache_creation_input_tokens") or 0)
    creation = data.get("cache_creation")
    hour = int(creation.get("ephemeral_1h_input_tokens") or 0) if isinstance(creation, dict) else 0
    return Usage(
        input_tokens=int(data.get("input_tokens") or 0) + cached + written,
        output_tokens=int(data.get("output_tokens") or 0),
        cached_input_tokens=cached,
        cache_write_tokens=written,
        cache_write_1h_tokens=hour,
    )


def parse_message_body(body: bytes, headers: Mapping[str, str] | None = None) -> ChatResult:
    try:
        data = codec.loads(body)
        text, calls, thinking = anthropic_tools.parse_blocks(data["content"])
        usage = _usage(data.get("usage")) or Usage()
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StreamBroken(f"malformed message body: {exc!r}"[:200]) from None
    request_id = headers.get(REQUEST_ID_HEADER) if headers is not None else None
    return ChatResult(
        text, data.get("stop_reason"), usage, data.get("model"), request_id or data.get("id"), calls, thinking
    )


#: a text delta whose text is a plain JSON string (printable ASCII, no quote, no backslash: no escapes), in
#: the one shape Anthropic and the fake provider write it: by the JSON grammar its text is the captured
#: group, so it is read without parsing (most of a stream's events; tests/unit/test_sse_event_fast_paths.py)
_PLAIN_TEXT_DELTA = re.compile(
    r'\{"type":"content_block_delta","index":(?:0|[1-9][0-9]{0,17}),'
    r'"delta":\{"type":"text_delta","text":"([ !#-\[\]-~]*)"\}\}'
).fullmatch


class MessageStreamReader:
    """Incremental reader of a messages stream; events without an ``event:`` line are skipped (as 2.x)."""

    __slots__ = ("_input_tokens", "_sse")

    def __init__(self) -> None:
        self._sse = SSEParser()
        self._input_tokens = 0  # from message_start, so later usage events carry the whole prompt

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        return [e for m in self._sse.feed(chunk) if (e := self._event(m.event, m.data)) is not None]

    def finish(self) -> list[StreamEvent]:
        return [e for m in self._sse.finish() if (e := self._event(m.event, m.data)) is not None]

    def _event(self, name: str | None, data: str) -> StreamEvent | None:
        if name is None or name == "ping" or not data:
            return None
        if name == "content_block_delta":
            plain = _PLAIN_TEXT_DELTA(data)
            if plain is not None:
                return StreamEvent(text=plain.group(1))
        try:
            obj = codec.loads(data)
            if name == "content_block_delta":
                delta = obj["delta"]
                kind = delta.get("type")
                if kind == "input_json_delta":
                    return StreamEvent(tools=(ToolDelta(int(obj["index"]), arguments=delta["partial_json"]),))
                if kind == "thinking_delta":
                    return StreamEvent(thinking=delta["thinking"])
                return StreamEvent(text=delta.get("text") or "")
            if name == "content_block_start":
                block = obj["content_block"]
                if block.get("type") == "tool_use":
                    return StreamEvent(tools=(ToolDelta(int(obj["index"]), block["id"], block["name"]),))
                return None
            if name == "message_start":
                message = obj["message"]
                usage = _usage(message.get("usage"))
                self._input_tokens = usage.input_tokens if usage else 0
                return StreamEvent(usage=usage, request_id=message.get("id"), model=message.get("model"))
            if name == "message_delta":
                usage = _usage(obj.get("usage"))
                if usage is not None and not obj["usage"].get("input_tokens"):
                    usage = Usage(self._input_tokens, usage.output_tokens)
                return StreamEvent(finish_reason=obj["delta"].get("stop_reason"), usage=usage)
            if name == "message_stop":
                return StreamEvent(done=True)
            if name == "error":
                err = obj["error"]
                status = 529 if err.get("type") == "overloaded_error" else 0
                return StreamEvent(error=ErrorInfo(status, err.get("type"), None, str(err.get("message"))))
            return None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StreamBroken(f"malformed stream event {name!r}: {exc!r}"[:200]) from None


def parse_error(status: int, headers: Mapping[str, str], body: bytes, now_wall: float = 0.0) -> ErrorInfo:
    type_ = None
    message = f"HTTP {status}"
    try:
        err = codec.loads(body)["error"]
        type_ = err.get("type")
        message = str(err.get("message") or message)
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    return ErrorInfo(status, type_, None, message, parse_retry_after(headers, now_wall))


def _int(value: str | None) -> int | None:
    try:
        return None if value is None else int(value)
    except ValueError:
        return None


def _reset(value: str | None, now_wall: float) -> float | None:
    when = parse_rfc3339(value)
    return None if when is None else max(0.0, when - now_wall)


def parse_rate_limits(headers: Mapping[str, str], now_wall: float) -> RateLimits:
    """``anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}``."""
    get = headers.get
    p = "anthropic-ratelimit-"
    return RateLimits(
        requests_limit=_int(get(p + "requests-limit")),
        requests_remaining=_int(get(p + "requests-remaining")),
        requests_reset_s=_reset(get(p + "requests-reset"), now_wall),
        tokens_limit=_int(get(p + "tokens-limit")),
        tokens_remaining=_int(get(p + "tokens-remaining")),
        tokens_reset_s=_reset(get(p + "tokens-reset"), now_wall),
        input_tokens_limit=_int(get(p + "input-tokens-limit")),
        input_tokens_remaining=_int(get(p + "input-tokens-remaining")),
        input_tokens_reset_s=_reset(get(p + "input-tokens-reset"), now_wall),
        output_tokens_limit=_int(get(p + "output-tokens-limit")),
        output_tokens_remaining=_int(get(p + "output-tokens-remaining")),
        output_tokens_reset_s=_reset(get(p + "output-tokens-reset"), now_wall),
        retry_after_s=parse_retry_after(headers, now_wall),
    )


def error_from_info(info: ErrorInfo, request_id: str | None = None, model: str | None = None) -> ProviderError:
    """The harness exception for an Anthropic error (response or ``event: error``)."""
    status, type_, message = info.status, info.type or "", info.message
    lowered = message.lower()
    cls: type[ProviderError]
    if type_ == "overloaded_error" or status == 529:
        cls = Overloaded
    elif status == 0:
        cls = StreamBroken
    elif status == 400 and ("prompt is too long" in lowered or "context window" in lowered):
        cls = ContextLengthExceeded
    elif status == 400 and "prefill" in lowered:
        cls = PrefillRejected
    elif status == 400 and ("content filtering" in lowered or "output blocked" in lowered):
        cls = ContentFiltered
    elif status == 400 and "credit balance" in lowered:
        cls = QuotaExhausted  # out of credit: Anthropic says it with a 400, not OpenAI's 429
    elif status in (401, 403):
        cls = AuthenticationError
    elif status == 404:
        cls = NotFound
    elif status in (408, 409):
        cls = RequestTimeoutStatus
    elif status == 429:
        cls = QuotaExhausted if "credit balance" in lowered else RateLimited
    elif status >= 500:
        cls = ServerError
    else:
        cls = BadRequest
    return cls(
        message,
        status=status,
        retry_after_s=info.retry_after_s,
        request_id=request_id,
        code=info.type,
        provider="anthropic",
        model=model,
    )


def error_from_response(
    status: int, headers: Mapping[str, str], body: bytes, now_wall: float = 0.0, model: str | None = None
) -> ProviderError:
    info = parse_error(status, headers, body, now_wall)
    return error_from_info(info, headers.get(REQUEST_ID_HEADER), model)
