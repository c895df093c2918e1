"""Plan builders for errors and transport faults, in each provider's own shape.

:func:`error_plan` is the one way the core answers with an error status (validation failures,
auth, unknown models, injected faults, quota refusals and outages): it picks the
provider's body, the request-id header and the retry headers (``retry-after`` seconds,
``retry-after-ms``, Gemini's ``RetryInfo``; Anthropic's ``x-should-retry`` on 529).
"""

from __future__ import annotations

import math
from typing import Any

from fake_provider.fault import Fault
from fake_provider.plan import Plan
from harness.wire import anthropic, gemini, openai
from harness.wire.neutral import RequestInvalid

__all__ = [
    "JSON",
    "SSE",
    "error_plan",
    "invalid_plan",
    "quota_retry_headers",
    "request_id_headers",
    "retry_headers",
    "transport_plan",
]

JSON = ("content-type", "application/json")
SSE = ("content-type", "text/event-stream; charset=utf-8")
_JSON_GOOGLE = ("content-type", "application/json; charset=UTF-8")


def request_id_headers(provider: str, request_id: str) -> tuple[tuple[str, str], ...]:
    if provider == "openai":
        return ((openai.REQUEST_ID_HEADER, request_id), ("openai-version", "2020-10-01"))
    if provider == "anthropic":
        return ((anthropic.REQUEST_ID_HEADER, request_id),)
    return ()


def retry_headers(retry_after_s: float | None, unit: str = "s") -> tuple[tuple[str, str], ...]:
    """``retry-after`` in whole seconds (at least 1, rounded up, as OpenAI specifies it) with ``retry-after-ms``
    when the hint has a fraction; ``unit`` "ms": ``retry-after-ms`` alone; "both": both headers."""
    if retry_after_s is None:
        return ()
    ms = ("retry-after-ms", str(round(retry_after_s * 1000)))
    if unit == "ms":
        return (ms,)
    seconds = ("retry-after", str(max(1, math.ceil(round(retry_after_s, 6)))))
    if unit == "both" or retry_after_s != int(retry_after_s):
        return (seconds, ms)
    return (seconds,)


def error_plan(
    provider: str,
    status: int,
    request_id: str,
    *,
    message: str | None = None,
    code: str | None = None,
    param: str | None = None,
    retry_after_s: float | None = None,
    retry_unit: str = "s",
    delay_s: float = 0.0,
    error_type: str | None = None,
    details: list[dict[str, Any]] | None = None,
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> tuple[Plan, str]:
    """The error answer and the error type/code it carries (for the log).

    ``error_type`` overrides OpenAI's error type ("tokens" for a token-limit 429), ``details`` Gemini's
    error details; ``extra_headers`` (rate-limit state, a dated retry-after) are appended.
    """
    headers = [*request_id_headers(provider, request_id)]
    if provider == "openai":
        type_, default_code, default_message = openai.default_error(status)
        if code == "insufficient_quota":
            type_ = code
            default_message = openai.INSUFFICIENT_QUOTA_MESSAGE
        type_ = error_type or type_
        code = code or default_code
        body = openai.error_body(message or default_message, type_, param, code)
        headers += [
            JSON,
            ("openai-processing-ms", str(round(delay_s * 1000))),
            *retry_headers(retry_after_s, retry_unit),
        ]
        kind = code or type_
    elif provider == "anthropic":
        type_, default_message = anthropic.default_error(status)
        type_ = code or type_
        body = anthropic.error_body(type_, message or default_message, request_id)
        headers += [JSON, *retry_headers(retry_after_s, retry_unit)]
        if status == 529:
            headers.append(("x-should-retry", "true"))
        kind = type_
    else:
        name, default_message = gemini.default_error(status)
        name = code or name
        if details is None:
            details = gemini.retry_details(retry_after_s) if status == 429 else []
            if retry_after_s is not None and status != 429:
                details = gemini.retry_details(retry_after_s)[1:]
        body = gemini.error_body(status, message or default_message, name, details)
        headers.append(_JSON_GOOGLE)
        kind = name
    headers += extra_headers
    return Plan(status, tuple(headers), body, headers_delay_s=delay_s), kind


def quota_retry_headers(wait_s: float) -> tuple[tuple[tuple[str, str], ...], float]:
    """A quota's retry hint: ``retry-after`` in whole seconds (rounded up) and ``retry-after-ms``; returns the
    headers and the hint they carry. ``wait_s`` is already whole milliseconds (:meth:`SlidingWindow.hint_ms`)."""
    ms = math.ceil(round(wait_s * 1000, 6))
    return (("retry-after", str(math.ceil(ms / 1000))), ("retry-after-ms", str(ms))), ms / 1000


def invalid_plan(provider: str, exc: RequestInvalid, request_id: str, status: int = 400) -> tuple[Plan, str]:
    """A validation failure (400, or 413 …) phrased as the provider phrases it."""
    headers = [*request_id_headers(provider, request_id)]
    if provider == "openai":
        body = openai.invalid_body(exc)
        kind = exc.code or "invalid_request_error"
        headers += [JSON, ("openai-processing-ms", "0")]
    elif provider == "anthropic":
        body = anthropic.invalid_body(exc, request_id)
        kind = "invalid_request_error"
        headers.append(JSON)
    else:
        body = gemini.invalid_body(exc)
        kind = "INVALID_ARGUMENT"
        headers.append(_JSON_GOOGLE)
    if status != 400:
        return error_plan(provider, status, request_id, message=_phrase(exc), param=exc.param)
    return Plan(status, tuple(headers), body), kind


def _phrase(exc: RequestInvalid) -> str:
    return exc.message if exc.param is None else f"{exc.param}: {exc.message}"


def transport_plan(fault: Fault) -> Plan:
    """Reset or silence: no status line ever goes out."""
    return Plan(0, transport=fault.transport, silence_s=fault.silence_s)
