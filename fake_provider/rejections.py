"""How each provider phrases the refusals the core decides: keys, models, limits, faults, quotas.

Pure functions of the facts, returning ``(status, message, code)`` (and a ``param`` where OpenAI names
one); the core turns them into plans with :func:`fake_provider.plans.error_plan`, which adds each
provider's body shape, request id and retry headers. Messages follow the real services' wording, so
clients that classify errors by message (LiteLLM, the reference client's adapters) see what they
would see in production.
"""

from __future__ import annotations

import json

from harness.wire import anthropic, gemini, openai

__all__ = [
    "OVERLOADED_STATUS",
    "bad_key",
    "content_filter",
    "context_length",
    "in_flight_refusal",
    "limit_refusal",
    "missing_key",
    "spend_refusal",
    "unknown_model",
]

#: the status each provider answers when it is short of capacity (outages, brownouts, stream errors)
OVERLOADED_STATUS = {"openai": 503, "anthropic": 529, "gemini": 503}

Refusal = tuple[int, str, str | None]

_MISSING_KEY = {
    "openai": (
        "You didn't provide an API key. You need to provide your API key in an Authorization header using "
        "Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
    ),
    "anthropic": "x-api-key header is required",
    "gemini": (
        "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or "
        "other form of API consumer identity to call this API."
    ),
}
_MISSING_CODE: dict[str, str | None] = {
    "openai": None,
    "anthropic": "authentication_error",
    "gemini": "PERMISSION_DENIED",
}


def missing_key(provider: str) -> Refusal:
    """No key at all: OpenAI's and Anthropic's 401, Google's 403 ``PERMISSION_DENIED``."""
    return 403 if provider == "gemini" else 401, _MISSING_KEY[provider], _MISSING_CODE[provider]


def bad_key(provider: str) -> Refusal:
    """A key outside the allowed list."""
    if provider == "gemini":
        return 400, "API key not valid. Please pass a valid API key.", None
    return 401, "Incorrect API key provided." if provider == "openai" else "invalid x-api-key", None


def unknown_model(provider: str, api: str, name: str, wrong_kind: bool) -> Refusal:
    shown = json.dumps(name[:100])
    if provider == "openai":
        if wrong_kind:
            return 404, f"The model {shown} is not supported on {api.split('.')[1]} endpoint.", "model_not_found"
        return 404, f"The model {shown} does not exist or you do not have access to it.", "model_not_found"
    if provider == "anthropic":
        return 404, f"model: {name[:100]}", None
    return (
        404,
        f"models/{name[:100]} is not found for API version v1beta, or is not supported for generateContent.",
        None,
    )


def context_length(provider: str, prompt: int, max_tokens: int | None, window: int) -> tuple[str, str | None]:
    """``(message, code)`` of the context-length 400 (the ``context_length`` fault passes a prompt over the window)."""
    asked = prompt + (max_tokens or 0)
    if provider == "openai":
        message = (
            f"This model's maximum context length is {window} tokens. However, you requested {asked} "
            f"tokens ({prompt} in the messages, {max_tokens or 0} in the completion). "
            "Please reduce the length of the messages or completion."
        )
        return message, "context_length_exceeded"
    if provider == "anthropic":
        if prompt <= window:
            return f"input length and `max_tokens` exceed context limit: {prompt} + {max_tokens} > {window}", None
        return f"prompt is too long: {prompt} tokens > {window} maximum", None
    return f"The input token count ({prompt}) exceeds the maximum number of tokens allowed ({window}).", None


def content_filter(provider: str) -> tuple[str, str | None]:
    """``(message, code)`` of the provider's content-filter 400."""
    if provider == "openai":
        return (
            "Your request was rejected as a result of our safety system. Your prompt may contain text that is not "
            "allowed by our safety system.",
            "content_policy_violation",
        )
    if provider == "anthropic":
        return "Output blocked by content filtering policy", None
    return "The request was blocked because of safety settings (finishReason SAFETY).", None


def limit_refusal(
    provider: str, max_tokens: int | None, max_output: int, prompt: int, window: int
) -> tuple[int, str, str | None, str | None] | None:
    """The 400 for a ``max_tokens`` over the model's output limit, or a prompt over its window; else None."""
    if max_tokens is not None and max_tokens > max_output and provider != "gemini":
        if provider == "openai":
            message = (
                f"max_tokens is too large: {max_tokens}. This model supports at most {max_output} completion tokens, "
                f"whereas you provided {max_tokens}."
            )
            return 400, message, "invalid_value", "max_tokens"
        message = f"max_tokens: {max_tokens} > {max_output}, which is the maximum allowed number of output tokens"
        return 400, message, None, None
    if prompt > window or prompt + (max_tokens or 0) > window:
        message, code = context_length(provider, prompt, max_tokens, window)
        return 400, message, code, "messages" if provider == "openai" else None
    return None


def in_flight_refusal(provider: str, model: str, limit: int) -> Refusal:
    """Too many requests of one key at once. No provider documents a per-key concurrency limit; these are
    the answers each gives when it will not take one more request right now: OpenAI a 429, Anthropic its
    529 ``overloaded_error``, Gemini a 503 ``UNAVAILABLE``."""
    if provider == "openai":
        message = f"Too many concurrent requests for {model} in organization org-fake (limit {limit}). Try again later."
        return 429, message, "rate_limit_exceeded"
    if provider == "anthropic":
        return 529, anthropic.default_error(529)[1], None
    return 503, gemini.default_error(503)[1], None


def spend_refusal(provider: str) -> Refusal:
    """The key's billed spend reached its cap: OpenAI's 429 ``insufficient_quota``, Anthropic's 400 about the
    credit balance, Gemini's 429 ``RESOURCE_EXHAUSTED``."""
    if provider == "openai":
        return 429, openai.INSUFFICIENT_QUOTA_MESSAGE, "insufficient_quota"
    if provider == "anthropic":
        return 400, anthropic.CREDIT_BALANCE_MESSAGE, None
    return 429, gemini.QUOTA_MESSAGE, None
