"""OpenAI's wire format, both sides: chat completions (plain and SSE), embeddings, models, errors.

Server side (the fake provider): :func:`parse_chat`, :func:`parse_embeddings`, :func:`chat_body`,
:class:`ChatStreamEncoder`, :func:`embeddings_body`, :func:`models_body`, :func:`error_body`,
:func:`invalid_body`. Client side (the reference client): :func:`auth_headers`,
:func:`build_chat_body`, :func:`parse_chat_body`, :class:`ChatStreamReader`, :func:`parse_error`,
:func:`parse_rate_limits`, :func:`error_from_response`. Facts in ``docs/wire.md``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from array import array
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from orjson import loads as _orjson_loads

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
from harness.tokenizer import count_tokens
from harness.wire import checks, codec, openai_tools
from harness.wire.formats import format_go_duration, json_string, parse_go_duration, parse_retry_after
from harness.wire.neutral import (
    ChatCall,
    ChatResult,
    EmbeddingCall,
    ErrorInfo,
    Message,
    RateLimits,
    RequestInvalid,
    RoleContent,
    StreamEvent,
    ToolDelta,
)
from harness.wire.sse import DataEventReader, SSEMessage

__all__ = [
    "ATTEMPT_HEADER",
    "CHAT_PATH",
    "DONE",
    "EMBEDDINGS_PATH",
    "FINISH_REASONS",
    "INSUFFICIENT_QUOTA_MESSAGE",
    "MODELS_PATH",
    "REQUEST_ID_HEADER",
    "ChatStreamEncoder",
    "ChatStreamReader",
    "auth_headers",
    "build_chat_body",
    "chat_body",
    "default_error",
    "embeddings_body",
    "error_body",
    "error_event",
    "error_from_info",
    "error_from_response",
    "invalid_body",
    "models_body",
    "parse_chat",
    "parse_chat_body",
    "parse_embeddings",
    "parse_error",
    "parse_rate_limits",
    "rate_limit_error",
    "rate_limit_headers",
    "system_fingerprint",
]

CHAT_PATH = "/v1/chat/completions"
EMBEDDINGS_PATH = "/v1/embeddings"
MODELS_PATH = "/v1/models"
REQUEST_ID_HEADER = "x-request-id"
ATTEMPT_HEADER = "x-stainless-retry-count"  # the SDK's retry counter: 0, 1, 2 …
DONE = b"data: [DONE]\n\n"
#: finish_reason → the neutral finish reason the reference client reports ("content_filter": refused)
FINISH_REASONS = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}

#: OpenAI roles → the neutral ones the tokenizer counts (developer is the new name for system)
_ROLES = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
    "tool": "tool",
    "function": "tool",
}
_dumps = json.JSONEncoder(separators=(",", ":")).encode  # ASCII-safe: lone surrogates cannot break it


# ---------------------------------------------------------------------------------------- server side
def _content_text(content: object, param: str) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    if not isinstance(content, list):
        raise RequestInvalid(
            param,
            f"expected a string or an array of content parts, but got {checks.kind_of(content)}",
            checks.TYPE_CODE,
        )
    texts = []
    for i, part in enumerate(content):
        where = f"{param}[{i}]"
        part = checks.require_object(part, where)
        kind = checks.get_str(part, "type", where, required=True)
        if kind in ("text", "refusal"):
            texts.append(checks.get_str(part, kind, where, required=True))
    return "\n".join(texts)


def _n(obj: dict[str, Any], key: str) -> None:
    if checks.get_int(obj, key, min=1, max=128) not in (None, 1):
        raise RequestInvalid(key, "the fake provider generates one choice; expected n = 1", checks.VALUE_CODE)


#: optional fields that only need validating, checked only when present (the hot path skips the rest)
_OPTIONAL: dict[str, Callable[[dict[str, Any], str], object]] = {
    "top_p": lambda o, k: checks.get_number(o, k, min=0, max=1),
    "presence_penalty": lambda o, k: checks.get_number(o, k, min=-2, max=2),
    "frequency_penalty": lambda o, k: checks.get_number(o, k, min=-2, max=2),
    "seed": lambda o, k: checks.get_int(o, k),
    "user": lambda o, k: checks.get_str(o, k),
    "n": _n,
}


def _message(item: object, i: int) -> Message:
    where = f"messages[{i}]"
    msg = checks.require_object(item, where)
    role = checks.get_str(msg, "role", where, required=True)
    if role not in _ROLES:
        allowed = "'system', 'developer', 'user', 'assistant', 'tool', 'function'"
        raise RequestInvalid(f"{where}.role", f"expected one of {allowed}, but got {role!r}", checks.VALUE_CODE)
    content = _content_text(msg.get("content"), f"{where}.content")
    if role == "assistant" and "tool_calls" in msg:
        content = openai_tools.message_text(msg, where, content)
    return _ROLES[role], content


def parse_chat(body: object) -> ChatCall:
    """Validate a chat completions body; raises :class:`RequestInvalid` naming the field.

    Common valid shapes take a fast path; anything else goes through :mod:`harness.wire.checks`,
    which names the field in its error.
    """
    obj = body if type(body) is dict else checks.require_object(body, "")
    model = obj.get("model")
    if type(model) is not str or not model:
        model = checks.get_str(obj, "model", required=True, nonempty=True)
    raw = obj.get("messages")
    if type(raw) is not list or not raw:
        raw = checks.get_list(obj, "messages", required=True, nonempty=True)
    messages: list[Message] = []
    tool_messages = False
    for i, item in enumerate(raw):
        if type(item) is dict:
            role, content = item.get("role"), item.get("content")
            if role == "tool" or (role == "assistant" and "tool_calls" in item):
                tool_messages = True
            elif type(role) is str and type(content) is str and role in _ROLES:
                messages.append((_ROLES[role], content))
                continue
        messages.append(_message(item, i))
    max_tokens = checks.get_int(obj, "max_completion_tokens", min=1) if "max_completion_tokens" in obj else None
    if max_tokens is None and "max_tokens" in obj:
        max_tokens = obj["max_tokens"]
        if type(max_tokens) is not int or max_tokens < 1:
            max_tokens = checks.get_int(obj, "max_tokens", min=1)
    stream = bool(checks.get_bool(obj, "stream")) if "stream" in obj else False
    include_usage = False
    if "stream_options" in obj:
        options = checks.get_object(obj, "stream_options")
        if options is not None:
            if not stream:
                raise RequestInvalid("stream_options", "only allowed when 'stream' is enabled", checks.VALUE_CODE)
            include_usage = bool(checks.get_bool(options, "include_usage", "stream_options"))
    temperature = checks.get_number(obj, "temperature", min=0, max=2) if "temperature" in obj else None
    stop = checks.get_str_or_list(obj, "stop") if "stop" in obj else ()
    for key in obj:
        check = _OPTIONAL.get(key)
        if check is not None:
            check(obj, key)
    if tool_messages:
        openai_tools.check_tool_sequence(raw)
    extras = openai_tools.parse_extras(obj, messages, tool_messages)
    prefill = messages[-1][0] == "assistant"
    return ChatCall(model, tuple(messages), max_tokens, stream, include_usage, stop, temperature, prefill, extras)


def parse_embeddings(body: object) -> EmbeddingCall:
    """Validate an embeddings body; inputs are a string, strings, a token array or token arrays."""
    obj = checks.require_object(body, "")
    model = checks.get_str(obj, "model", required=True, nonempty=True)
    if "input" not in obj:
        raise RequestInvalid("input", "required field is missing", checks.MISSING_CODE)
    raw = obj["input"]
    items = [raw] if isinstance(raw, str) or (isinstance(raw, list) and raw and isinstance(raw[0], int)) else raw
    if not isinstance(items, list) or not items:
        raise RequestInvalid(
            "input", "expected a non-empty string, array of strings or of token arrays", "invalid_type"
        )
    counts: list[int] = []
    texts: list[str | None] = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            counts.append(count_tokens(item))
            texts.append(item)
        elif isinstance(item, list) and item and all(isinstance(t, int) and not isinstance(t, bool) for t in item):
            counts.append(len(item))
            texts.append(None)
        elif isinstance(item, int) and not isinstance(item, bool) and isinstance(raw, list):
            raise RequestInvalid(f"input[{i}]", "mixes token ids with other inputs", checks.TYPE_CODE)
        else:
            raise RequestInvalid(f"input[{i}]", "expected a string or a non-empty array of integers", "invalid_type")
    fmt = checks.get_str(obj, "encoding_format")
    if fmt not in (None, "float", "base64"):
        raise RequestInvalid("encoding_format", f"expected 'float' or 'base64', got {fmt!r}", checks.VALUE_CODE)
    dimensions = checks.get_int(obj, "dimensions", min=1, max=8192)
    checks.get_str(obj, "user")
    return EmbeddingCall(model, tuple(counts), fmt == "base64", dimensions, tuple(texts))


def _usage_json(prompt: int, output: int) -> str:
    return (
        f'{{"prompt_tokens":{prompt},"completion_tokens":{output},"total_tokens":{prompt + output},'
        '"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},'
        '"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,'
        '"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}'
    )


@functools.lru_cache(maxsize=4096)
def system_fingerprint(model: str) -> str:
    """The backend configuration id a completion reports (``fp_`` + 10 hex digits), stable per model."""
    return "fp_" + hashlib.blake2b(model.encode("utf-8", "surrogatepass"), digest_size=5).hexdigest()


def chat_body(
    completion_id: str, model: str, created: int, text: str, finish: str, prompt_tokens: int, output_tokens: int
) -> bytes:
    """A ``chat.completion`` object (built from a template: this is the server's hot path)."""
    return (
        f'{{"id":"{completion_id}","object":"chat.completion","created":{created},"model":{_dumps(model)},'
        f'"choices":[{{"index":0,"message":{{"role":"assistant","content":{json_string(text)},"refusal":null,'
        f'"annotations":[]}},"logprobs":null,"finish_reason":"{finish}"}}],'
        f'"usage":{_usage_json(prompt_tokens, output_tokens)},"service_tier":"default",'
        f'"system_fingerprint":"{system_fingerprint(model)}"}}'
    ).encode()


class ChatStreamEncoder:
    """Builds the ``chat.completion.chunk`` events of one stream (prefixes computed once)."""

    __slots__ = ("_head", "_tail", "include_usage")

    def __init__(self, completion_id: str, model: str, created: int, include_usage: bool) -> None:
        self.include_usage = include_usage
        self._head = (
            f'data: {{"id":"{completion_id}","object":"chat.completion.chunk","created":{created},'
            f'"model":{_dumps(model)},"service_tier":"default","system_fingerprint":"{system_fingerprint(model)}",'
            '"choices":['
        )
        self._tail = '],"usage":null}\n\n' if include_usage else "]}\n\n"

    def role(self) -> bytes:
        return (
            self._head + '{"index":0,"delta":{"role":"assistant","content":"","refusal":null},'
            '"logprobs":null,"finish_reason":null}' + self._tail
        ).encode()

    def text(self, text: str) -> bytes:
        return (
            f'{self._head}{{"index":0,"delta":{{"content":{json_string(text)}}},"logprobs":null,"finish_reason":null}}'
            f"{self._tail}"
        ).encode()

    def texts(self, pieces: Sequence[str]) -> list[bytes]:
        """``[text(p) for p in pieces]``, the same bytes, with the constant parts joined once."""
        before = self._head + '{"index":0,"delta":{"content":'
        after = '},"logprobs":null,"finish_reason":null}' + self._tail
        quote = json_string
        return [(before + quote(piece) + after).encode() for piece in pieces]

    def finish(self, reason: str) -> bytes:
        return f'{self._head}{{"index":0,"delta":{{}},"logprobs":null,"finish_reason":"{reason}"}}{self._tail}'.encode()

    def usage(self, prompt_tokens: int, output_tokens: int) -> bytes:
        return f'{self._head}],"usage":{_usage_json(prompt_tokens, output_tokens)}}}\n\n'.encode()


def embeddings_body(model: str, vectors: Sequence[bytes], as_base64: bool, prompt_tokens: int) -> bytes:
    """``vectors`` are little-endian float32 bytes; base64 or JSON floats as the request asked."""
    data = []
    for i, raw in enumerate(vectors):
        value: Any = base64.b64encode(raw).decode() if as_base64 else array("f", raw).tolist()
        data.append({"object": "embedding", "index": i, "embedding": value})
    usage = {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}
    return _dumps({"object": "list", "data": data, "model": model, "usage": usage}).encode()


def models_body(models: Sequence[tuple[str, int, str]]) -> bytes:
    """``(id, created, owned_by)`` triples as a ``list`` object."""
    data = [{"id": m, "object": "model", "created": c, "owned_by": o} for m, c, o in models]
    return _dumps({"object": "list", "data": data}).encode()


def error_body(message: str, type: str, param: str | None = None, code: str | None = None) -> bytes:
    return _dumps({"error": {"message": message, "type": type, "param": param, "code": code}}).encode()


def invalid_body(exc: RequestInvalid) -> bytes:
    """The 400 body for a validation failure, phrased as OpenAI phrases it."""
    if exc.param is None:
        message = (
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
            f"HTTP library correctly. The OpenAI API expects a JSON payload: {exc.message}.)"
        )
    elif exc.message.endswith("."):  # a complete sentence, already in OpenAI's words
        message = exc.message
    elif exc.code == checks.MISSING_CODE:
        message = f"Missing required parameter: '{exc.param}'."
    elif exc.code == checks.TYPE_CODE:
        message = f"Invalid type for '{exc.param}': {exc.message}."
    else:
        message = f"Invalid value for '{exc.param}': {exc.message}."
    return error_body(message, "invalid_request_error", exc.param, exc.code)


#: status → (type, code, message) of OpenAI's own errors
_DEFAULT_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Bad request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: (
        "invalid_request_error",
        "unsupported_country_region_territory",
        "Country, region, or territory not supported.",
    ),
    404: ("invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it."),
    408: ("invalid_request_error", "timeout", "Request timed out."),
    409: ("invalid_request_error", "conflict", "The request conflicts with another request."),
    413: ("invalid_request_error", "request_too_large", "Request too large."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests per min (RPM). Please try again later."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The server is overloaded or not ready yet."),
    504: ("server_error", None, "Gateway timeout."),
}


def default_error(status: int) -> tuple[str, str | None, str]:
    """``(type, code, message)`` OpenAI sends for ``status`` when nothing more specific applies."""
    found = _DEFAULT_ERRORS.get(status)
    if found is not None:
        return found
    return ("server_error", None, "Overloaded.") if status >= 500 else ("invalid_request_error", None, "Bad request.")


#: OpenAI's answer to a key without credit left (429, type and code ``insufficient_quota``)
INSUFFICIENT_QUOTA_MESSAGE = (
    "You exceeded your current quota, please check your plan and billing details. For more information on this "
    "error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors."
)
#: limit kind → (error type, how OpenAI names it in a 429 message)
_LIMIT_NAMES = {
    "rpm": ("requests", "requests per min (RPM)"),
    "tpm": ("tokens", "tokens per min (TPM)"),
    "itpm": ("tokens", "input tokens per min (ITPM)"),
    "otpm": ("tokens", "output tokens per min (OTPM)"),
}


class _Pairs(dict[int, tuple[str, str]]):
    """``(name, value)`` header pairs by an integer (a limit, a reset in ms), built once each: the
    rate-limit headers go out with every answer to a limited key."""

    def __init__(self, name: str, text: Callable[[int], str], bound: int) -> None:
        super().__init__()
        self.name, self.text, self.bound = name, text, bound

    def __missing__(self, value: int) -> tuple[str, str]:
        if len(self) > self.bound:
            self.clear()
        pair = self[value] = (self.name, self.text(value))
        return pair


_PAIRS = {
    kind: (
        _Pairs(f"x-ratelimit-limit-{kind}", str, 10_000),
        _Pairs(f"x-ratelimit-reset-{kind}", lambda ms: format_go_duration(ms / 1000), 200_000),
    )
    for kind in ("requests", "tokens")
}


_REMAINING = {kind: f"x-ratelimit-remaining-{kind}" for kind in ("requests", "tokens")}


def rate_limit_headers(
    requests: tuple[int, int, float] | None, tokens: tuple[int, int, float] | None
) -> tuple[tuple[str, str], ...]:
    """``x-ratelimit-*`` from (limit, remaining, seconds until fully reset) of the request and token limits."""
    out: tuple[tuple[str, str], ...] = ()
    for kind, state in (("requests", requests), ("tokens", tokens)):
        if state is not None:
            limit, remaining, reset_s = state
            limits, resets = _PAIRS[kind]
            ms = round(reset_s * 1000)
            reset = resets[ms] if ms >= 1 else (resets.name, format_go_duration(reset_s))
            out += (limits[limit], (_REMAINING[kind], str(remaining)), reset)
    return out


def rate_limit_error(
    model: str, kind: str, limit: int, used: int, requested: int, wait_s: float | None
) -> tuple[str, str]:
    """``(type, message)`` of OpenAI's 429 for the limit ``kind`` ("rpm", "tpm" …); no wait: too large ever."""
    type_, name = _LIMIT_NAMES.get(kind, ("tokens", kind))
    if wait_s is None:
        return type_, (
            f"Request too large for {model} in organization org-fake on {name}: Limit {limit}, Requested "
            f"{requested}. The input or output tokens must be reduced in order to run successfully. "
            "Visit https://platform.openai.com/account/rate-limits to learn more."
        )
    return type_, (
        f"Rate limit reached for {model} in organization org-fake on {name}: Limit {limit}, Used {used}, "
        f"Requested {requested}. Please try again in {format_go_duration(wait_s)}. "
        "Visit https://platform.openai.com/account/rate-limits to learn more."
    )


def error_event(message: str, type: str, code: str | None = None) -> bytes:
    """A mid-stream ``data: {"error": …}`` event; the SDK raises ``APIError`` (not retried)."""
    return b"data: " + error_body(message, type, None, code) + b"\n\n"


# ---------------------------------------------------------------------------------------- client side
def auth_headers(api_key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {api_key}", "content-type": "application/json"}


def build_chat_body(
    model: str,
    messages: Sequence[Message | RoleContent],
    *,
    max_tokens: int | None = None,
    temperature: float | None = None,
    stream: bool = False,
    stop: Sequence[str] = (),
    include_usage: bool = True,
    extra: Mapping[str, Any] | None = None,
) -> bytes:
    """A chat completions body from neutral inputs (roles: system, user, assistant, tool); ``extra``: more
    fields (tools, response_format …, see :func:`harness.wire.openai_tools.request_fields`)."""
    if any(getattr(m, "tool_calls", ()) or getattr(m, "tool_call_id", None) for m in messages):
        wire = openai_tools.wire_messages(messages)
    else:
        wire = [
            {"role": m[0], "content": m[1]} if isinstance(m, tuple) else {"role": m.role, "content": m.content}
            for m in messages
        ]
    body: dict[str, Any] = {"model": model, "messages": wire}
    if extra:
        body.update(extra)
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if temperature is not None:
        body["temperature"] = temperature
    if stop:
        body["stop"] = list(stop)
    if stream:
        body["stream"] = True
        if include_usage:
            body["stream_options"] = {"include_usage": True}
    return codec.dumps(body)


def _usage(data: object) -> Usage | None:
    if not isinstance(data, dict):
        return None
    details = data.get("prompt_tokens_details")
    out_details = data.get("completion_tokens_details")
    return Usage(
        int(data.get("prompt_tokens") or 0),
        int(data.get("completion_tokens") or 0),
        int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0,
        0,
        int(out_details.get("reasoning_tokens") or 0) if isinstance(out_details, dict) else 0,
    )


def parse_chat_body(body: bytes, headers: Mapping[str, str] | None = None) -> ChatResult:
    """Read a plain chat completion; raises ``StreamBroken`` on a body that is not one."""
    try:
        data = codec.loads(body)
        choice = data["choices"][0]
        text = choice["message"].get("content") or ""
        usage = _usage(data.get("usage")) or Usage()
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise StreamBroken(f"malformed chat completion body: {exc!r}"[:200]) from None
    request_id = headers.get(REQUEST_ID_HEADER) if headers is not None else None
    calls = openai_tools.parse_tool_calls(choice["message"]) if choice["message"].get("tool_calls") else ()
    return ChatResult(text, choice.get("finish_reason"), usage, data.get("model"), request_id or data.get("id"), calls)


_DONE_EVENT = StreamEvent(done=True)


class ChatStreamReader(DataEventReader[StreamEvent]):
    """Incremental reader of a chat completion stream: ``feed(bytes)`` → events.

    A read that completes many events (a whole stream delivered at one instant, in virtual time) is
    read in one pass: each payload goes to orjson as bytes, the common chunk (a text delta, nothing
    else) is read with a few lookups, and anything else — an error, a finish, usage, a payload that
    is not UTF-8 or not JSON — goes through :meth:`_event`, the reader of record.
    """

    __slots__ = ()

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        payloads = self._sse.feed_payloads(chunk)
        out: list[StreamEvent] = []
        append = out.append
        slow = self._event
        loads = _orjson_loads
        for payload in payloads:
            if isinstance(payload, SSEMessage):
                append(slow(payload.data))
                continue
            try:
                obj = loads(payload)
                if type(obj) is dict and "error" not in obj and obj.get("usage") is None:
                    choices = obj["choices"]
                    if type(choices) is list and len(choices) == 1:
                        choice = choices[0]
                        delta = choice["delta"]
                        if choice["finish_reason"] is None and type(delta) is dict and "tool_calls" not in delta:
                            text = delta.get("content") or ""
                            append(StreamEvent(text, None, None, None, False, obj.get("id"), obj.get("model")))
                            continue
            except (ValueError, KeyError, IndexError, TypeError, AttributeError):
                pass
            append(slow(payload.decode("utf-8", "replace")))  # anything else: the reader of record
        return out

    @staticmethod
    def _event(data: str) -> StreamEvent:
        if data.startswith("[DONE]"):
            return _DONE_EVENT
        try:
            obj = codec.loads(data)
            if obj.get("error"):
                err = obj["error"]
                return StreamEvent(error=ErrorInfo(0, err.get("type"), err.get("code"), str(err.get("message"))))
            choices = obj["choices"]
            text = ""
            finish = None
            tools: tuple[ToolDelta, ...] = ()
            if choices:
                choice = choices[0]
                delta = choice.get("delta") or {}
                text = delta.get("content") or ""
                finish = choice.get("finish_reason")
                if "tool_calls" in delta:
                    tools = openai_tools.stream_tool_deltas(delta)
            return StreamEvent(
                text, finish, _usage(obj.get("usage")), None, False, obj.get("id"), obj.get("model"), tools
            )
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise StreamBroken(f"malformed stream event: {exc!r}"[:200]) from None


def parse_error(status: int, headers: Mapping[str, str], body: bytes, now_wall: float = 0.0) -> ErrorInfo:
    """Read an error response; never raises (an unreadable body keeps the status alone)."""
    type_ = code = None
    message = f"HTTP {status}"
    try:
        err = codec.loads(body)["error"]
        type_, code = err.get("type"), err.get("code")
        message = str(err.get("message") or message)
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    return ErrorInfo(status, type_, code, message, parse_retry_after(headers, now_wall))


def _int(value: str | None) -> int | None:
    try:
        return None if value is None else int(value)
    except ValueError:
        return None


def parse_rate_limits(headers: Mapping[str, str], now_wall: float = 0.0) -> RateLimits:
    """``x-ratelimit-*`` (resets as Go durations) and the retry hint."""
    get = headers.get
    return RateLimits(
        requests_limit=_int(get("x-ratelimit-limit-requests")),
        requests_remaining=_int(get("x-ratelimit-remaining-requests")),
        requests_reset_s=parse_go_duration(get("x-ratelimit-reset-requests")),
        tokens_limit=_int(get("x-ratelimit-limit-tokens")),
        tokens_remaining=_int(get("x-ratelimit-remaining-tokens")),
        tokens_reset_s=parse_go_duration(get("x-ratelimit-reset-tokens")),
        retry_after_s=parse_retry_after(headers, now_wall),
    )


def error_from_info(info: ErrorInfo, request_id: str | None = None, model: str | None = None) -> ProviderError:
    """The harness exception for an OpenAI error (response or mid-stream event)."""
    status, code, type_ = info.status, info.code or "", info.type or ""
    cls: type[ProviderError]
    if status == 0:
        cls = StreamBroken
    elif status == 400 and code == "context_length_exceeded":
        cls = ContextLengthExceeded
    elif status == 400 and (code in ("content_policy_violation", "content_filter") or type_ == "content_filter"):
        cls = ContentFiltered
    elif status == 400 and "prefill" in info.message.lower():
        cls = PrefillRejected  # OpenAI-compatible servers say it in words (no stable code)
    elif status in (401, 403):
        cls = AuthenticationError
    elif status == 404:
        cls = NotFound
    elif status in (408, 409):
        cls = RequestTimeoutStatus
    elif status == 429:
        cls = QuotaExhausted if "insufficient_quota" in (code, type_) else RateLimited
    elif status == 529 or (status == 503 and "overloaded" in info.message.lower()):
        cls = Overloaded
    elif status >= 500:
        cls = ServerError
    else:
        cls = BadRequest
    return cls(
        info.message,
        status=status,
        retry_after_s=info.retry_after_s,
        request_id=request_id,
        code=info.code or info.type,
        provider="openai",
        model=model,
    )


def error_from_response(
    status: int, headers: Mapping[str, str], body: bytes, now_wall: float = 0.0, model: str | None = None
) -> ProviderError:
    info = parse_error(status, headers, body, now_wall)
    return error_from_info(info, headers.get(REQUEST_ID_HEADER), model)
