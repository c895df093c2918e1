"""The provider core's view of one request while it decides a plan (what fault sources see).

Dependency direction: this module knows the model config and the fault; neither knows it (the fault
schedule matches requests through the small :class:`fake_provider.fault_spec.RequestTraits` protocol).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fake_provider.config import ModelConfig
from fake_provider.fault import Fault
from harness.wire.neutral import ChatCall, EmbeddingCall

if TYPE_CHECKING:
    from fake_provider.quotas import Admission
    from fake_provider.replies import Reply
    from fake_provider.textgen import Answer

__all__ = ["CallContext", "FaultSource"]


@dataclass(slots=True)
class CallContext:
    """Everything known about one attempt; filled in step by step by :meth:`ProviderCore.handle`."""

    provider: str  # "openai" | "anthropic" | "gemini": whose wire format answers
    api: str  # "openai.chat", "openai.embeddings", "openai.models", "anthropic.messages", "gemini.generate" …
    arrival: float  # injected monotonic clock at arrival
    wall: float  # Unix seconds at arrival
    request_id: str  # the id the response carries (x-request-id / request-id / responseId)
    serial: str  # the unique part of ids (chatcmpl-…, msg_…)
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    client: str = "anonymous"  # "key:<hash>" of the API key, never the key
    client_id: str | None = None  # x-client-id
    logical_id: str | None = None  # x-harness-request-id or idempotency-key
    attempt: int = 0  # x-stainless-retry-count or x-harness-attempt
    model_name: str | None = None  # as requested
    model: ModelConfig | None = None  # once resolved
    call: ChatCall | EmbeddingCall | None = None  # once validated
    stream: bool = False
    prompt_tokens: int = 0
    fault: Fault | None = None
    billable: bool = False  # generation happened: the ledger bills what is delivered
    finish: str | None = None  # the answer's finish reason, in the provider's vocabulary
    error_type: str | None = None  # error type/code of an error answer
    retry_after_s: float | None = None  # hint sent with an error answer
    arrival_number: int = 0  # arrivals since the run started, from 1 (the fault schedule's draws use it)
    digest: bytes | None = None  # the canonical request's digest, once computed
    answer: Answer | None = None  # the generated answer, once computed (the quota step may need its length)
    admission: Admission | None = None  # what the quota step admitted (released when the attempt ends)
    quota_generation: int = -1  # the quota state it was admitted into (-1: none)
    in_flight_key: bool = False  # counted in its key's requests in flight
    extra_headers: tuple[tuple[str, str], ...] = ()  # rate-limit headers every answer carries
    untouched_tier: bool = False  # an answer given now carries the key's untouched tier (built when needed)
    reply: Reply | None = None  # the answer of a request with tools / JSON output / reasoning (else None)
    cached_tokens: int = 0  # prompt tokens read from the prompt cache
    cache_write_tokens: int = 0  # prompt tokens written to the prompt cache (all TTLs)
    cache_write_1h_tokens: int = 0  # … of which with the 1-hour TTL (Anthropic)


#: "which fault applies to this request?" — None for none; the core asks its sources in order
FaultSource = Callable[[CallContext], Fault | None]
