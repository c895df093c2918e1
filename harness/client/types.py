"""The neutral request and response: one shape for OpenAI, Anthropic and Gemini.

The reference client takes a :class:`ChatRequest` and answers with a :class:`ChatResponse` whatever
provider serves it; the adapters translate to and from each wire format. The runner's load generator
produces ``ChatRequest`` objects too, so third-party clients are driven with the same requests.

Example::

    req = ChatRequest(model="gpt-4o-mini", messages=(Message("user", "Hello"),), max_tokens=64,
                      user="u-17", feature="chat")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from harness.pricing import Usage
from harness.wire.neutral import ToolCall

__all__ = ["ChatDelta", "ChatRequest", "ChatResponse", "Message", "ResponseSchema", "ToolCall", "ToolSpec"]


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message; ``role`` is "system", "user", "assistant" or "tool".

    An assistant message that called tools carries them in ``tool_calls``; a tool result is a "tool"
    message naming the call it answers (``tool_call_id``, and ``name``, the tool's name, which Gemini
    needs).
    """

    role: str
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    #: an Anthropic prompt-cache breakpoint after this message: "5m" or "1h" (other APIs cache on their own)
    cache_ttl: str | None = None


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call: its name, the JSON schema of its arguments, a description."""

    name: str
    parameters: dict[str, Any]
    description: str = ""


@dataclass(frozen=True, slots=True)
class ResponseSchema:
    """Structured output: answer with JSON matching ``schema`` (``strict``: OpenAI's strict mode)."""

    name: str
    schema: dict[str, Any]
    strict: bool = False


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A logical request: what the caller wants, independent of provider and attempts."""

    model: str
    messages: tuple[Message, ...]
    max_tokens: int | None = None
    temperature: float | None = None
    stream: bool = False
    stop: tuple[str, ...] = ()
    user: str | None = None  # cost attribution and fair sharing
    feature: str | None = None  # cost attribution
    priority: str = "interactive"  # limiter lane: "interactive" goes before "batch"
    request_id: str | None = None  # logical id (sent as x-harness-request-id); generated when None
    client_id: str | None = None  # sent as x-client-id, so the provider log can tell clients apart
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: str | None = None  # "auto", "required", "none" or a tool's name; None: the API's default
    response_schema: ResponseSchema | None = None  # JSON output matching a schema
    json_mode: bool = False  # JSON output without a schema (OpenAI json_object, Gemini application/json)
    thinking_budget: int | None = None  # reasoning budget (Anthropic thinking, Gemini thinkingBudget)
    prompt: str | None = None  # a [client.prompts] prompt ("support" or "support@v1"): its text goes first


@dataclass(frozen=True, slots=True)
class ChatResponse:
    """A complete answer. Usage and cost belong to the model that answered (after any fail-over)."""

    text: str
    model: str  # the model that answered
    provider: str  # "openai", "anthropic" or "gemini"
    finish_reason: str | None
    usage: Usage
    cost_usd: Decimal
    request_id: str  # the logical id
    attempts: int = 1
    provider_request_ids: tuple[str, ...] = field(default_factory=tuple)
    latency_s: float = 0.0
    ttft_s: float | None = None
    #: every attempt of the logical request as the client's ledger charged it: the answer, plus what the
    #: provider bills for failed attempts (a stream cut midway bills its prompt and the tokens sent)
    total_cost_usd: Decimal | None = None
    #: "provider", "cache" (a cached answer), "coalesced" (another caller's call) or "semantic-cache"
    source: str = "provider"
    tool_calls: tuple[ToolCall, ...] = ()  # the functions the model called (finish_reason "tool_calls")
    thinking: str = ""  # reasoning text the provider returned (Anthropic thinking, Gemini thoughts)
    similarity: float | None = None  # a semantic-cache hit: the cosine between the two questions
    cached_from: str | None = None  # a cache hit: the logical id whose answer this is


@dataclass(frozen=True, slots=True)
class ChatDelta:
    """One item of a streamed answer: a text delta; the last item has ``response`` (usage, cost) instead."""

    text: str
    response: ChatResponse | None = None  # set on the final item only

    @property
    def final(self) -> bool:
        return self.response is not None
