"""Gemini's wire format (Google AI API), both sides: generateContent, streamGenerateContent?alt=sse, errors.

Server side: :func:`parse_route`, :func:`parse_generate`, :func:`response_body`,
:class:`GenerateStreamEncoder`, :func:`error_body`, :func:`invalid_body`, :func:`default_error`.
Client side: :func:`auth_headers`, :func:`generate_path`, :func:`build_generate_body`,
:func:`parse_response_body`, :class:`GenerateStreamReader`, :func:`parse_error`,
:func:`parse_rate_limits`, :func:`error_from_response`.

A stream has no terminator: it ends when the connection closes; the last chunk carries ``finishReason``.
"""

from __future__ import annotations

import json
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
    RateLimited,
    RequestTimeoutStatus,
    ServerError,
    StreamBroken,
)
from harness.pricing import Usage
from harness.wire import checks, codec, gemini_tools
from harness.wire.formats import format_google_duration, json_string, parse_google_duration, parse_retry_after
from harness.wire.neutral import (
    ChatCall,
    ChatResult,
    ErrorInfo,
    Message,
    RateLimits,
    RequestInvalid,
    RoleContent,
    StreamEvent,
    ToolCall,
    ToolDelta,
    message_pairs,
)
from harness.wire.sse import DataEventReader

__all__ = [
    "API_KEY_HEADER",
    "API_KEY_INVALID",
    "API_KEY_INVALID_DETAIL",
    "FINISH_REASONS",
    "QUOTA_MESSAGE",
    "GenerateStreamEncoder",
    "GenerateStreamReader",
    "auth_headers",
    "build_generate_body",
    "default_error",
    "error_body",
    "error_event",
    "error_from_info",
    "error_from_response",
    "generate_path",
    "invalid_body",
    "parse_error",
    "parse_generate",
    "parse_rate_limits",
    "parse_response_body",
    "parse_route",
    "quota_details",
    "response_body",
    "retry_details",
    "with_retry_info",
]

API_KEY_HEADER = "x-goog-api-key"
VERSIONS = ("v1", "v1beta")
#: finishReason → the neutral finish reason the reference client reports ("content_filter": refused)
FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "MALFORMED_FUNCTION_CALL": "error",
    "OTHER": "other",
}
_dumps = json.JSONEncoder(separators=(",", ":")).encode
_ROLES = {"user": "user", "model": "assistant", "function": "tool", "tool": "tool", "system": "system"}


# ---------------------------------------------------------------------------------------- server side
def parse_route(path: str) -> tuple[str, str] | None:
    """``/v1beta/models/M:generateContent`` → ``("M", "generateContent")``; None if not a model method."""
    parts = path.split("/", 3)  # "", version, "models", "name:method"
    if len(parts) != 4 or parts[1] not in VERSIONS or parts[2] != "models":
        return None
    model, sep, method = parts[3].rpartition(":")
    if not sep or not model or "/" in model:
        return None
    return model, method


def _get(obj: dict[str, Any], camel: str, snake: str) -> str:
    """Proto JSON accepts both spellings; answer whichever key is present (camel by default)."""
    return snake if snake in obj and camel not in obj else camel


def _parts_text(content: dict[str, Any], param: str) -> tuple[str, bool]:
    """``(text the prompt counts, holds a function response)`` of a content's parts."""
    parts = checks.get_list(content, "parts", param, required=True)
    texts = []
    responses = False
    for i, item in enumerate(parts):
        part = checks.require_object(item, f"{param}.parts[{i}]")
        if "text" in part:
            if not part.get("thought"):  # earlier turns' thoughts are not part of the prompt
                texts.append(checks.get_str(part, "text", f"{param}.parts[{i}]", required=True))
        elif len(part) and "inlineData" not in part and "inline_data" not in part:
            text, response = gemini_tools.part_text(part, f"{param}.parts[{i}]")
            responses = responses or response
            if text:
                texts.append(text)
    return "\n".join(texts), responses


def parse_generate(body: object, model: str, stream: bool) -> ChatCall:
    """Validate a generateContent body (the model comes from the URL)."""
    obj = checks.require_object(body, "")
    contents = checks.get_list(obj, "contents", required=True, nonempty=True)
    messages: list[Message] = []
    key = _get(obj, "systemInstruction", "system_instruction")
    system = checks.get_object(obj, key)
    if system is not None:
        messages.append(("system", _parts_text(system, key)[0]))
    responses = False
    for i, item in enumerate(contents):
        where = f"contents[{i}]"
        content = checks.require_object(item, where)
        role = checks.get_str(content, "role", where) or "user"
        if role not in _ROLES:
            raise RequestInvalid(f"{where}.role", f"expected 'user' or 'model', got {role!r}", checks.VALUE_CODE)
        text, responses = _parts_text(content, where)
        messages.append((_ROLES[role], text))
    key = _get(obj, "generationConfig", "generation_config")
    config = checks.get_object(obj, key) or {}
    max_tokens = checks.get_int(config, _get(config, "maxOutputTokens", "max_output_tokens"), key, min=1)
    temperature = checks.get_number(config, "temperature", key, min=0, max=2)
    checks.get_number(config, _get(config, "topP", "top_p"), key, min=0, max=1)
    checks.get_int(config, _get(config, "topK", "top_k"), key, min=1)
    count = checks.get_int(config, _get(config, "candidateCount", "candidate_count"), key, min=1, max=8)
    if count not in (None, 1):
        raise RequestInvalid(f"{key}.candidateCount", "the fake provider generates one candidate", checks.VALUE_CODE)
    stop = checks.get_str_or_list(config, _get(config, "stopSequences", "stop_sequences"), key, max_items=5)
    checks.get_list(obj, _get(obj, "safetySettings", "safety_settings"))
    extras = gemini_tools.parse_extras(obj, config, key, responses and messages[-1][0] != "assistant")
    prefill = messages[-1][0] == "assistant"
    return ChatCall(model, tuple(messages), max_tokens, stream, False, stop, temperature, prefill, extras)


def _usage_json(prompt: int, output: int) -> str:
    return (
        f'{{"promptTokenCount":{prompt},"candidatesTokenCount":{output},"totalTokenCount":{prompt + output},'
        f'"promptTokensDetails":[{{"modality":"TEXT","tokenCount":{prompt}}}]}}'
    )


def response_body(
    response_id: str, model: str, text: str, finish: str, prompt_tokens: int, output_tokens: int
) -> bytes:
    return (
        f'{{"candidates":[{{"content":{{"parts":[{{"text":{json_string(text)}}}],"role":"model"}},'
        f'"finishReason":"{finish}","index":0}}],"usageMetadata":{_usage_json(prompt_tokens, output_tokens)},'
        f'"modelVersion":{_dumps(model)},"responseId":"{response_id}"}}'
    ).encode()


class GenerateStreamEncoder:
    """Chunks of one stream: each a full response object carrying the text delta and usage so far."""

    __slots__ = ("_tail", "prompt_tokens")

    def __init__(self, response_id: str, model: str, prompt_tokens: int) -> None:
        self.prompt_tokens = prompt_tokens
        self._tail = f'"modelVersion":{_dumps(model)},"responseId":"{response_id}"}}\n\n'

    def text(self, text: str, tokens_so_far: int, finish: str | None = None) -> bytes:
        reason = f',"finishReason":"{finish}"' if finish else ""
        return (
            f'data: {{"candidates":[{{"content":{{"parts":[{{"text":{json_string(text)}}}],"role":"model"}}{reason},'
            f'"index":0}}],"usageMetadata":{_usage_json(self.prompt_tokens, tokens_so_far)},{self._tail}'
        ).encode()


_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "INVALID_ARGUMENT",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_DEFAULT_MESSAGES = {
    429: "Resource has been exhausted (e.g. check quota).",
    500: "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
    503: "The model is overloaded. Please try again later.",
    504: "Deadline expired before operation could complete.",
}


def default_error(status: int) -> tuple[str, str]:
    """``(status name, message)`` Google sends for an HTTP status."""
    name = _STATUS_NAMES.get(status) or ("UNAVAILABLE" if status >= 500 else "INVALID_ARGUMENT")
    return name, _DEFAULT_MESSAGES.get(status, "Request contains an invalid argument." if status < 500 else "Error.")


def error_body(
    status: int, message: str, status_name: str | None = None, details: Sequence[Mapping[str, Any]] = ()
) -> bytes:
    name = status_name or default_error(status)[0]
    error: dict[str, Any] = {"code": status, "message": message, "status": name}
    if details:
        error["details"] = list(details)
    return _dumps({"error": error}).encode()


#: the reason Gemini's ErrorInfo gives for a key it does not accept (a 400 INVALID_ARGUMENT)
API_KEY_INVALID = "API_KEY_INVALID"
API_KEY_INVALID_DETAIL: Mapping[str, Any] = {
    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
    "reason": API_KEY_INVALID,
    "domain": "googleapis.com",
    "metadata": {"service": "generativelanguage.googleapis.com"},
}


def retry_details(retry_after_s: float | None, quota_metric: str = "generate_content_requests") -> list[dict[str, Any]]:
    """429 details: ``google.rpc.QuotaFailure`` and, with a hint, ``google.rpc.RetryInfo``."""
    details: list[dict[str, Any]] = [
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [{"quotaMetric": f"generativelanguage.googleapis.com/{quota_metric}"}],
        }
    ]
    if retry_after_s is not None:
        details.append(
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": format_google_duration(retry_after_s)}
        )
    return details


def with_retry_info(body: bytes, retry_after_s: float) -> bytes:
    """An error body with a ``google.rpc.RetryInfo`` detail (unchanged when it has one already)."""
    data = json.loads(body)
    details = data["error"].setdefault("details", [])
    if any(str(d.get("@type", "")).endswith("google.rpc.RetryInfo") for d in details if isinstance(d, dict)):
        return body
    details.append(
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": format_google_duration(retry_after_s)}
    )
    return _dumps(data).encode()


def invalid_body(exc: RequestInvalid) -> bytes:
    if exc.param is None:
        message = f"Invalid JSON payload received. {exc.message}"
        details: list[dict[str, Any]] = []
    else:
        message = f"Invalid value at '{exc.param}': {exc.message}"
        details = [
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": exc.param, "description": exc.message}],
            }
        ]
    return error_body(400, message, "INVALID_ARGUMENT", details)


#: Google's message for a quota refusal (429 RESOURCE_EXHAUSTED)
QUOTA_MESSAGE = (
    "You exceeded your current quota, please check your plan and billing details. For more information on this "
    "error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
)
#: limit kind → (quota metric, quota id) as Google names them
_QUOTAS = {
    "rpm": ("generate_content_requests", "GenerateRequestsPerMinutePerProjectPerModel"),
    "tpm": ("generate_content_token_count", "GenerateContentTokensPerModelPerMinute"),
    "itpm": ("generate_content_input_token_count", "GenerateContentInputTokensPerModelPerMinute"),
    "otpm": ("generate_content_output_token_count", "GenerateContentOutputTokensPerModelPerMinute"),
    "spend": ("generate_content_paid_tier_spend", "GenerateContentSpendPerProject"),
}


def quota_details(model: str, kind: str, limit: int | str, retry_after_s: float | None) -> list[dict[str, Any]]:
    """429 details for a quota: ``QuotaFailure`` naming it, a ``Help`` link, and ``RetryInfo`` with a hint."""
    metric, quota_id = _QUOTAS.get(kind, (kind, kind))
    details: list[dict[str, Any]] = [
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [
                {
                    "quotaMetric": f"generativelanguage.googleapis.com/{metric}",
                    "quotaId": quota_id,
                    "quotaDimensions": {"location": "global", "model": model},
                    "quotaValue": str(limit),
                }
            ],
        },
        {
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [
                {
                    "description": "Learn more about Gemini API quotas",
                    "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                }
            ],
        },
    ]
    if retry_after_s is not None:
        details.append(
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": format_google_duration(retry_after_s)}
        )
    return details


def error_event(status: int, message: str, status_name: str | None = None) -> bytes:
    """A mid-stream chunk ``data: {"error": …}``; the SDK raises it as ``ClientError`` / ``ServerError``."""
    return b"data: " + error_body(status, message, status_name) + b"\n\n"


# ---------------------------------------------------------------------------------------- client side
def auth_headers(api_key: str) -> dict[str, str]:
    return {API_KEY_HEADER: api_key, "content-type": "application/json"}


def generate_path(model: str, stream: bool, version: str = "v1beta") -> str:
    if stream:
        return f"/{version}/models/{model}:streamGenerateContent?alt=sse"
    return f"/{version}/models/{model}:generateContent"


def build_generate_body(
    messages: Sequence[Message | RoleContent],
    *,
    max_tokens: int | None = None,
    temperature: float | None = None,
    stop: Sequence[str] = (),
    extra: Mapping[str, Any] | None = None,
    extra_config: Mapping[str, Any] | None = None,
) -> bytes:
    """A generateContent body from neutral inputs (system → systemInstruction, assistant → model, tool results
    → functionResponse parts); ``extra`` / ``extra_config``: more top-level / generationConfig fields."""
    pairs = message_pairs(messages)
    system = "\n".join(t for r, t in pairs if r == "system")
    if any(getattr(m, "tool_calls", ()) or getattr(m, "tool_call_id", None) for m in messages):
        contents = gemini_tools.wire_contents([m for m in messages if not isinstance(m, tuple) and m.role != "system"])
    else:
        contents = [
            {"role": "model" if r == "assistant" else "user", "parts": [{"text": t}]} for r, t in pairs if r != "system"
        ]
    body: dict[str, Any] = {"contents": contents}
    if extra:
        body.update(extra)
    if system:
        body["systemInstruction"] = {"parts": [{"text": system}]}
    config: dict[str, Any] = {}
    if max_tokens is not None:
        config["maxOutputTokens"] = max_tokens
    if temperature is not None:
        config["temperature"] = temperature
    if stop:
        config["stopSequences"] = list(stop)
    if extra_config:
        config.update(extra_config)
    if config:
        body["generationConfig"] = config
    return codec.dumps(body)


def _usage(data: object) -> Usage | None:
    if not isinstance(data, dict):
        return None
    thoughts = int(data.get("thoughtsTokenCount") or 0)
    return Usage(
        input_tokens=int(data.get("promptTokenCount") or 0),
        output_tokens=int(data.get("candidatesTokenCount") or 0) + thoughts,
        cached_input_tokens=int(data.get("cachedContentTokenCount") or 0),
        reasoning_tokens=thoughts,
    )


def _candidate(obj: dict[str, Any]) -> tuple[str, str | None, tuple[ToolCall, ...], str]:
    """``(text, finish reason, function calls, thoughts)`` of the first candidate."""
    candidates = obj.get("candidates") or []
    if not candidates:
        return "", None, (), ""
    first = candidates[0]
    parts = (first.get("content") or {}).get("parts") or []
    text, calls, thoughts = gemini_tools.parse_parts(parts, str(obj.get("responseId") or "call"))
    return text, first.get("finishReason"), calls, thoughts


def parse_response_body(body: bytes, headers: Mapping[str, str] | None = None) -> ChatResult:
    try:
        data = codec.loads(body)
        text, finish, calls, thoughts = _candidate(data)
        usage = _usage(data.get("usageMetadata")) or Usage()
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StreamBroken(f"malformed generateContent body: {exc!r}"[:200]) from None
    return ChatResult(text, finish, usage, data.get("modelVersion"), data.get("responseId"), calls, thoughts)


class GenerateStreamReader(DataEventReader[StreamEvent]):
    """Incremental reader of ``streamGenerateContent?alt=sse``."""

    __slots__ = ()

    @staticmethod
    def _event(data: str) -> StreamEvent:
        try:
            obj = codec.loads(data)
            if "error" in obj:
                return StreamEvent(error=_error_info(int(obj["error"].get("code") or 0), obj, None))
            text, finish, calls, thoughts = _candidate(obj)
            usage = _usage(obj.get("usageMetadata"))
            tools = tuple(ToolDelta(-1, c.id, c.name, c.arguments) for c in calls)  # -1: a whole new call
            return StreamEvent(
                text, finish, usage, None, False, obj.get("responseId"), obj.get("modelVersion"), tools, thoughts
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StreamBroken(f"malformed stream chunk: {exc!r}"[:200]) from None


def _error_info(status: int, data: Any, retry_after_s: float | None) -> ErrorInfo:
    err = data["error"]
    hint = retry_after_s
    for detail in err.get("details") or ():
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            found = parse_google_duration(detail.get("retryDelay"))
            hint = found if found is not None else hint
    return ErrorInfo(status, err.get("status"), None, str(err.get("message") or f"HTTP {status}"), hint)


def parse_error(status: int, headers: Mapping[str, str], body: bytes, now_wall: float = 0.0) -> ErrorInfo:
    """Read an error response: the retry hint comes from RetryInfo (or a retry-after header)."""
    header_hint = parse_retry_after(headers, now_wall)
    try:
        return _error_info(status, codec.loads(body), header_hint)
    except (ValueError, KeyError, TypeError, AttributeError):
        return ErrorInfo(status, None, None, f"HTTP {status}", header_hint)


def parse_rate_limits(headers: Mapping[str, str], now_wall: float = 0.0) -> RateLimits:
    """Gemini sends no rate-limit headers; only a retry-after, if a proxy added one."""
    return RateLimits(retry_after_s=parse_retry_after(headers, now_wall))


def error_from_info(info: ErrorInfo, request_id: str | None = None, model: str | None = None) -> ProviderError:
    status, message = info.status, info.message
    lowered = message.lower()
    cls: type[ProviderError]
    if status == 0:
        cls = StreamBroken
    elif status == 400 and "api key" in lowered:
        cls = AuthenticationError
    elif status == 400 and ("token count" in lowered or "maximum number of tokens" in lowered):
        cls = ContextLengthExceeded
    elif status == 400 and "safety" in lowered:
        cls = ContentFiltered
    elif status == 400 and "prefill" in lowered:
        cls = PrefillRejected
    elif status in (401, 403):
        cls = AuthenticationError
    elif status == 404:
        cls = NotFound
    elif status in (408, 409):
        cls = RequestTimeoutStatus
    elif status == 429:
        cls = RateLimited
    elif (status == 503 and "overloaded" in lowered) or status == 529:
        cls = Overloaded
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
        provider="gemini",
        model=model,
    )


def error_from_response(
    status: int, headers: Mapping[str, str], body: bytes, now_wall: float = 0.0, model: str | None = None
) -> ProviderError:
    return error_from_info(parse_error(status, headers, body, now_wall), None, model)
