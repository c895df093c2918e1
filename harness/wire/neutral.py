"""Provider-neutral shapes shared by the three wire modules, on both sides of the wire.

The server side parses a provider's request into a :class:`ChatCall` (or :class:`EmbeddingCall`); the
client side builds a provider's request from neutral inputs and reads responses, stream events,
errors and rate-limit headers back into :class:`ChatResult`, :class:`StreamEvent`, :class:`ErrorInfo`
and :class:`RateLimits`. Roles are normalised (``system``, ``user``, ``assistant``, ``tool``) so the
harness tokenizer counts a prompt the same way whichever wire carried it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from harness.pricing import Usage
from harness.wire.invalid import RequestInvalid

if TYPE_CHECKING:
    from harness.wire.extras import Extras

__all__ = [
    "ChatCall",
    "ChatResult",
    "EmbeddingCall",
    "ErrorInfo",
    "Message",
    "RateLimits",
    "RequestInvalid",
    "StreamEvent",
    "ToolCall",
    "ToolDelta",
    "message_pairs",
]

#: one chat message: (normalised role, text of all its text parts joined by "\n")
Message = tuple[str, str]


class RoleContent(Protocol):
    """Anything with ``role`` and ``content`` (``harness.client.types.Message``)."""

    @property
    def role(self) -> str: ...

    @property
    def content(self) -> str: ...


def message_pairs(messages: Iterable[Message | RoleContent]) -> list[Message]:
    """``(role, text)`` pairs from pairs or from message objects; the client's builders accept both."""
    return [m if isinstance(m, tuple) else (m.role, m.content) for m in messages]


@dataclass(slots=True)  # not frozen: one per request/event on the hot path; treat as read-only
class ChatCall:
    """A validated chat request, as the server understood it."""

    model: str
    messages: tuple[Message, ...]
    max_tokens: int | None = None  # None: not given (the model's own limit applies)
    stream: bool = False
    include_usage: bool = False  # OpenAI stream_options.include_usage
    stop: tuple[str, ...] = ()
    temperature: float | None = None
    prefill: bool = False  # the conversation ends with an assistant message
    extras: Extras | None = None  # tools, structured output, reasoning, logprobs, cache breakpoints (or none)


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One function call the model made: ``arguments`` is the JSON text the provider sent."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ToolDelta:
    """A piece of a streamed tool call: the call's position, its id and name when it starts, argument text."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(slots=True)  # not frozen: one per request/event on the hot path; treat as read-only
class EmbeddingCall:
    """A validated embeddings request: the inputs' token counts and texts, and the requested encoding."""

    model: str
    token_counts: tuple[int, ...]  # one per input
    base64: bool = False  # encoding_format == "base64"
    dimensions: int | None = None
    texts: tuple[str | None, ...] = ()  # one per input: its text, None for a token array


@dataclass(slots=True)  # not frozen: one per request/event on the hot path; treat as read-only
class ChatResult:
    """A plain (non-streamed) chat response, read by the client."""

    text: str
    finish_reason: str | None  # the provider's own value: "stop", "end_turn", "MAX_TOKENS" …
    usage: Usage
    model: str | None = None
    request_id: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    thinking: str = ""  # reasoning text the provider returned (Anthropic thinking blocks, Gemini thoughts)


@dataclass(slots=True)  # not frozen: one per request/event on the hot path; treat as read-only
class StreamEvent:
    """What one stream event means to the client; every field optional."""

    text: str = ""  # text delta
    finish_reason: str | None = None
    usage: Usage | None = None  # usage so far (Anthropic, Gemini) or final (OpenAI include_usage)
    error: ErrorInfo | None = None  # a mid-stream error event
    done: bool = False  # the provider's explicit end marker ([DONE], message_stop)
    request_id: str | None = None  # id carried in the stream (chatcmpl-…, msg_…, responseId)
    model: str | None = None
    tools: tuple[ToolDelta, ...] = ()  # tool-call pieces in this event
    thinking: str = ""  # reasoning text delta
    #: several text deltas in a row, in order (a reader's batch of plain text chunks; ``text`` is then empty)
    texts: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """An error response or event, read by the client."""

    status: int
    type: str | None  # the provider's error type / status ("rate_limit_error", "RESOURCE_EXHAUSTED" …)
    code: str | None  # finer code when there is one ("context_length_exceeded", "insufficient_quota")
    message: str
    retry_after_s: float | None = None  # hint from headers or body (RetryInfo), in seconds


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Rate-limit state from response headers; ``*_reset_s`` are seconds from now. None: not sent."""

    requests_limit: int | None = None
    requests_remaining: int | None = None
    requests_reset_s: float | None = None
    tokens_limit: int | None = None
    tokens_remaining: int | None = None
    tokens_reset_s: float | None = None
    input_tokens_limit: int | None = None  # Anthropic limits input and output tokens separately
    input_tokens_remaining: int | None = None
    input_tokens_reset_s: float | None = None
    output_tokens_limit: int | None = None
    output_tokens_remaining: int | None = None
    output_tokens_reset_s: float | None = None
    retry_after_s: float | None = None  # the retry hint, whichever header gave it
