"""Provider adapters: the neutral request in, the provider's wire format out, and back.

One adapter per API (OpenAI chat completions, Anthropic messages, Gemini generateContent). Each is a
thin layer over its wire module in :mod:`harness.wire` (which owns every format fact, for both sides):
it picks the URL, the auth headers and the body builder, the plain-body parser, the incremental
stream reader, the error mapping into :mod:`harness.errors`, the rate-limit header parser, and the
finish-reason vocabulary. The client never looks at a provider's format itself.

Example::

    adapter = ADAPTERS["anthropic"]
    url = adapter.url(spec, stream=True)
    body = adapter.body(spec, request.messages, request, stream=True)
    error = adapter.error(429, headers, body_bytes, time.time(), model="claude-haiku-4-5")  # RateLimited
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from harness.client.config import ModelSpec
from harness.client.limits import OBSERVATION_KEYS
from harness.client.types import ChatRequest, Message
from harness.errors import ProviderError
from harness.wire import (
    anthropic,
    anthropic_tools,
    gemini,
    gemini_tools,
    openai,
    openai_client,
    openai_limits,
    openai_responses,
    openai_responses_tools,
    openai_tools,
)
from harness.wire.neutral import ChatResult, ErrorInfo, RateLimits, StreamEvent

__all__ = [
    "ADAPTERS",
    "RESPONSES_ADAPTER",
    "Adapter",
    "StreamReader",
    "adapter_for",
    "limit_observation",
    "limit_values",
    "neutral_finish",
]


class StreamReader(Protocol):
    """The wire modules' incremental stream readers: bytes in, events out."""

    def feed(self, chunk: bytes) -> list[StreamEvent]: ...

    def finish(self) -> list[StreamEvent]: ...


class Adapter:
    """What the client needs to know about one API; subclasses bind the wire module's functions."""

    provider = ""
    request_id_header: str | None = None  # header carrying the provider's id for an attempt
    finish_reasons: Mapping[str, str] = {}  # provider finish reason → neutral one
    limit_probe: tuple[str, ...] = ()  # any of these headers means "rate-limit headers are present"

    def url(self, spec: ModelSpec, stream: bool) -> str:
        raise NotImplementedError

    def auth(self, key: str) -> dict[str, str]:
        raise NotImplementedError

    def body(self, spec: ModelSpec, messages: Sequence[Message], request: ChatRequest, stream: bool) -> bytes:
        raise NotImplementedError

    def parse_plain(self, body: bytes, headers: Mapping[str, str]) -> ChatResult:
        raise NotImplementedError

    def stream_reader(self) -> StreamReader:
        raise NotImplementedError

    def error(self, status: int, headers: Mapping[str, str], body: bytes, now_wall: float, model: str) -> ProviderError:
        """The exception for an error response (status ≥ 300)."""
        raise NotImplementedError

    def event_error(self, info: ErrorInfo, request_id: str | None, model: str) -> ProviderError:
        """The exception for a mid-stream error event."""
        raise NotImplementedError

    def parse_limits(self, headers: Mapping[str, str], now_wall: float) -> RateLimits:
        raise NotImplementedError

    def rate_limits(self, headers: Mapping[str, str], now_wall: float) -> RateLimits | None:
        """Rate-limit headers, or None when the response carries none (the common, cheap case)."""
        for name in self.limit_probe:
            if name in headers:
                return self.parse_limits(headers, now_wall)
        return None

    def limit_values(self, headers: Mapping[str, str], now_wall: float) -> tuple[float | None, ...] | None:
        """:func:`limit_values` of :meth:`rate_limits` (None: no rate-limit header, or none said a limit):
        what an in-memory limiter observes, read per answer (an adapter may read them without the
        :class:`RateLimits`)."""
        limits = self.rate_limits(headers, now_wall)
        return None if limits is None else limit_values(limits)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


def _tools(request: ChatRequest) -> list[tuple[str, str, dict[str, Any]]]:
    return [(t.name, t.description, t.parameters) for t in request.tools]


def _openai_fields(request: ChatRequest, build: Any) -> dict[str, Any] | None:
    """The tools / structured-output fields of an OpenAI body (``build``: the wire module's request_fields)."""
    if not (request.tools or request.response_schema is not None or request.json_mode):
        return None
    schema = request.response_schema
    spec = None if schema is None else (schema.name, schema.schema, schema.strict)
    fields: dict[str, Any] = build(_tools(request), request.tool_choice, spec, request.json_mode)
    return fields


class OpenAIAdapter(Adapter):
    """OpenAI chat completions (``POST /v1/chat/completions``); streams ask for usage."""

    provider = "openai"
    request_id_header = openai.REQUEST_ID_HEADER
    finish_reasons = openai.FINISH_REASONS
    limit_probe = ("x-ratelimit-limit-requests", "x-ratelimit-limit-tokens", "x-ratelimit-remaining-requests")

    def url(self, spec: ModelSpec, stream: bool) -> str:
        return spec.root_url + openai.CHAT_PATH

    def auth(self, key: str) -> dict[str, str]:
        return openai.auth_headers(key)

    def body(self, spec: ModelSpec, messages: Sequence[Message], request: ChatRequest, stream: bool) -> bytes:
        extra = _openai_fields(request, openai_tools.request_fields)
        return openai_client.build_chat_body(
            spec.name, messages, max_tokens=request.max_tokens, temperature=request.temperature, stream=stream,
            stop=request.stop, include_usage=True, extra=extra,
        )  # fmt: skip

    def parse_plain(self, body: bytes, headers: Mapping[str, str]) -> ChatResult:
        return openai_client.parse_chat_body(body, headers)

    def stream_reader(self) -> StreamReader:
        return openai_client.ChatStreamReader()

    def error(self, status: int, headers: Mapping[str, str], body: bytes, now_wall: float, model: str) -> ProviderError:
        return openai.error_from_response(status, headers, body, now_wall, model)

    def event_error(self, info: ErrorInfo, request_id: str | None, model: str) -> ProviderError:
        return openai.error_from_info(info, request_id, model)

    def parse_limits(self, headers: Mapping[str, str], now_wall: float) -> RateLimits:
        return openai_limits.parse_rate_limits(headers, now_wall)

    def limit_values(self, headers: Mapping[str, str], now_wall: float) -> tuple[float | None, ...] | None:
        # the numbers straight from the headers: no RateLimits, no retry hint (the limiter reads neither),
        # per answer; tests/unit/test_limit_headers_fast_path.py holds it to the base class's path of record
        for name in self.limit_probe:
            if name in headers:
                values = openai_limits.rate_limit_numbers(headers) + _SIX_UNSAID
                return None if values == _NONE_SAID else values
        return None


class OpenAIResponsesAdapter(OpenAIAdapter):
    """OpenAI's Responses API (``POST /v1/responses``, a model with ``api = "responses"``): the same auth,
    errors and rate-limit headers as chat completions; ``input`` / ``instructions`` and typed stream events."""

    finish_reasons = openai_responses.FINISH_REASONS

    def url(self, spec: ModelSpec, stream: bool) -> str:
        return spec.root_url + openai_responses.RESPONSES_PATH

    def body(self, spec: ModelSpec, messages: Sequence[Message], request: ChatRequest, stream: bool) -> bytes:
        extra = _openai_fields(request, openai_responses_tools.request_fields)
        return openai_responses.build_responses_body(
            spec.name, messages, max_tokens=request.max_tokens, temperature=request.temperature, stream=stream,
            extra=extra,
        )  # fmt: skip

    def parse_plain(self, body: bytes, headers: Mapping[str, str]) -> ChatResult:
        return openai_responses.parse_responses_body(body, headers)

    def stream_reader(self) -> StreamReader:
        return openai_responses.ResponseStreamReader()


class AnthropicAdapter(Adapter):
    """Anthropic messages (``POST /v1/messages``); max_tokens is required, so a default is sent."""

    provider = "anthropic"
    request_id_header = anthropic.REQUEST_ID_HEADER
    finish_reasons = anthropic.FINISH_REASONS
    limit_probe = (
        "anthropic-ratelimit-requests-limit",
        "anthropic-ratelimit-tokens-limit",
        "anthropic-ratelimit-input-tokens-limit",
        "anthropic-ratelimit-requests-remaining",
    )

    def url(self, spec: ModelSpec, stream: bool) -> str:
        return spec.root_url + anthropic.MESSAGES_PATH

    def auth(self, key: str) -> dict[str, str]:
        return anthropic.auth_headers(key)

    def body(self, spec: ModelSpec, messages: Sequence[Message], request: ChatRequest, stream: bool) -> bytes:
        extra = None
        if request.tools or request.thinking_budget is not None:
            extra = anthropic_tools.request_fields(_tools(request), request.tool_choice, request.thinking_budget)
        return anthropic.build_messages_body(
            spec.name, messages, max_tokens=request.max_tokens or spec.default_max_tokens,
            temperature=request.temperature, stream=stream, stop=request.stop, extra=extra,
        )  # fmt: skip

    def parse_plain(self, body: bytes, headers: Mapping[str, str]) -> ChatResult:
        return anthropic.parse_message_body(body, headers)

    def stream_reader(self) -> StreamReader:
        return anthropic.MessageStreamReader()

    def error(self, status: int, headers: Mapping[str, str], body: bytes, now_wall: float, model: str) -> ProviderError:
        return anthropic.error_from_response(status, headers, body, now_wall, model)

    def event_error(self, info: ErrorInfo, request_id: str | None, model: str) -> ProviderError:
        return anthropic.error_from_info(info, request_id, model)

    def parse_limits(self, headers: Mapping[str, str], now_wall: float) -> RateLimits:
        return anthropic.parse_rate_limits(headers, now_wall)


class GeminiAdapter(Adapter):
    """Gemini generateContent / streamGenerateContent?alt=sse; the key travels in ``x-goog-api-key``."""

    provider = "gemini"
    request_id_header = None  # the id is the body's responseId
    finish_reasons = gemini.FINISH_REASONS
    limit_probe = ()  # Gemini sends no rate-limit headers; its retry hints come with errors (RetryInfo)

    def url(self, spec: ModelSpec, stream: bool) -> str:
        return spec.root_url + gemini.generate_path(spec.name, stream, spec.api_version)

    def auth(self, key: str) -> dict[str, str]:
        return gemini.auth_headers(key)

    def body(self, spec: ModelSpec, messages: Sequence[Message], request: ChatRequest, stream: bool) -> bytes:
        top = config = None
        if request.tools or request.response_schema is not None or request.json_mode or request.thinking_budget:
            schema = request.response_schema
            top, config = gemini_tools.request_fields(
                _tools(request), request.tool_choice, None if schema is None else schema.schema, request.json_mode,
                request.thinking_budget,
            )  # fmt: skip
        return gemini.build_generate_body(
            messages, max_tokens=request.max_tokens, temperature=request.temperature, stop=request.stop,
            extra=top, extra_config=config,
        )  # fmt: skip

    def parse_plain(self, body: bytes, headers: Mapping[str, str]) -> ChatResult:
        return gemini.parse_response_body(body, headers)

    def stream_reader(self) -> StreamReader:
        return gemini.GenerateStreamReader()

    def error(self, status: int, headers: Mapping[str, str], body: bytes, now_wall: float, model: str) -> ProviderError:
        return gemini.error_from_response(status, headers, body, now_wall, model)

    def event_error(self, info: ErrorInfo, request_id: str | None, model: str) -> ProviderError:
        return gemini.error_from_info(info, request_id, model)

    def parse_limits(self, headers: Mapping[str, str], now_wall: float) -> RateLimits:
        return gemini.parse_rate_limits(headers, now_wall)


#: provider name → its adapter (stateless; shared)
ADAPTERS: Mapping[str, Adapter] = {
    "openai": OpenAIAdapter(),
    "anthropic": AnthropicAdapter(),
    "gemini": GeminiAdapter(),
}


#: the Responses API's adapter (OpenAI models with ``api = "responses"``)
RESPONSES_ADAPTER: Adapter = OpenAIResponsesAdapter()


def adapter_for(spec: ModelSpec) -> Adapter:
    """The adapter of a model: its provider's, or the Responses API's for ``api = "responses"``."""
    return RESPONSES_ADAPTER if spec.api == "responses" else ADAPTERS[spec.provider]


def neutral_finish(adapter: Adapter, reason: str | None) -> str | None:
    """The provider's finish reason in the neutral vocabulary (stop, length, tool_calls, content_filter …)."""
    if reason is None:
        return None
    return adapter.finish_reasons.get(reason, reason)


def limit_values(limits: RateLimits) -> tuple[float | None, ...] | None:
    """RateLimits → the values of ``Limiter.observe``'s keywords, in the order of
    :data:`~harness.client.limits.OBSERVATION_KEYS` (numbers as the headers gave them; None: not said),
    or None when the headers said none of them. The reference client hands them to an in-memory
    limiter as they are (:meth:`~harness.client.limiter.RateLimiter.observe_values`, which reads each
    number as a float: no keyword dict, no conversion here, per answer)."""
    values = (
        limits.requests_limit, limits.requests_remaining, limits.requests_reset_s,
        limits.tokens_limit, limits.tokens_remaining, limits.tokens_reset_s,
        limits.input_tokens_limit, limits.input_tokens_remaining, limits.input_tokens_reset_s,
        limits.output_tokens_limit, limits.output_tokens_remaining, limits.output_tokens_reset_s,
    )  # fmt: skip
    return None if values == _NONE_SAID else values


_NONE_SAID = (None,) * len(OBSERVATION_KEYS)
_SIX_UNSAID = (None,) * 6  # input and output tokens' limit, remaining, reset: OpenAI limits tokens together


def limit_observation(limits: RateLimits) -> dict[str, float | None]:
    """RateLimits → the keyword arguments of ``Limiter.observe`` (only what the headers said)."""
    values = limit_values(limits)
    if values is None:
        return {}
    return {k: float(v) for k, v in zip(OBSERVATION_KEYS, values, strict=True) if v is not None}
