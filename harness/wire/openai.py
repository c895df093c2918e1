"""OpenAI's chat completions wire, the shared facts: paths, headers, finish reasons and errors, both sides.

The rest of the format is in modules of its own, each used by one side or both:
:mod:`harness.wire.openai_requests` (the server reads a chat or embeddings request),
:mod:`harness.wire.openai_answers` (the server writes the answer: plain, SSE chunks, embeddings, models),
:mod:`harness.wire.openai_limits` (``x-ratelimit-*`` headers and 429 messages, written and read),
:mod:`harness.wire.openai_client` (the client builds the request and reads the answer and the stream),
:mod:`harness.wire.openai_tools` (tools, ``response_format``, logprobs) and
:mod:`harness.wire.openai_responses` (the Responses API). Here: the errors, written
(:func:`error_body`, :func:`invalid_body`, :func:`default_error`, :func:`error_event`) and read
(:func:`parse_error`, :func:`error_from_info`, :func:`error_from_response`), and :func:`auth_headers`.
Facts in ``docs/wire.md``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

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
from harness.wire import checks, codec
from harness.wire.formats import parse_retry_after
from harness.wire.neutral import ErrorInfo, RequestInvalid

__all__ = [
    "ATTEMPT_HEADER",
    "CHAT_PATH",
    "DONE",
    "EMBEDDINGS_PATH",
    "FINISH_REASONS",
    "INSUFFICIENT_QUOTA_MESSAGE",
    "MODELS_PATH",
    "REQUEST_ID_HEADER",
    "auth_headers",
    "default_error",
    "error_body",
    "error_event",
    "error_from_info",
    "error_from_response",
    "invalid_body",
    "parse_error",
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
_dumps = json.JSONEncoder(separators=(",", ":")).encode  # ASCII-safe: lone surrogates cannot break it


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


def error_event(message: str, type: str, code: str | None = None) -> bytes:
    """A mid-stream ``data: {"error": …}`` event; the SDK raises ``APIError`` (not retried)."""
    return b"data: " + error_body(message, type, None, code) + b"\n\n"


def auth_headers(api_key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {api_key}", "content-type": "application/json"}


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
