"""The reference client: limiter, breaker, backoff and retry budget, cost budgets, fallbacks, streaming.

The public API lives here; the modules behind it are private to the package (import from
``harness.client``). Two layers:

* the client — :class:`ResilientClient` configured by :class:`ClientConfig` (the ``[client]`` table),
  the neutral :class:`ChatRequest` / :class:`ChatResponse` / :class:`ChatDelta`, the transports
  (:class:`AiohttpTransport`; the in-memory one for tests and virtual time is
  :class:`harness.runner.memory_transport.MemoryTransport`), the :class:`OutcomeLog`;
* the policies it composes, usable on their own — :class:`RateLimiter`, :class:`CircuitBreaker`,
  backoff strategies, :class:`RetryPolicy`, :class:`RetryBudget`, :class:`AdaptiveThrottle`,
  :class:`CostTracker`, :class:`BudgetLedger`, and their Redis variants.

See ``docs/client.md`` and ``docs/client-policies.md``.
"""

from harness.client.adapters import ADAPTERS, Adapter
from harness.client.backoff import (
    Backoff,
    decorrelated_jitter,
    equal_jitter,
    exponential,
    fixed,
    full_jitter,
    none,
    parse_backoff,
    scaled,
    uniform,
)
from harness.client.breaker import OUTCOME_KINDS, Breaker, BreakerConfig, CircuitBreaker, Permit, outcome_kind
from harness.client.breaker_redis import RedisCircuitBreaker
from harness.client.budget import BudgetLedger, BudgetReservation, BudgetRule, Budgets
from harness.client.budget_redis import RedisBudgetLedger
from harness.client.cache import ResponseCache, request_key
from harness.client.client import ResilientClient
from harness.client.coalesce import SingleFlight
from harness.client.config import (
    PROVIDERS,
    CacheConfig,
    ClientConfig,
    KeyRotation,
    ModelSpec,
    RedisConfig,
    RetryBudgetConfig,
    StreamingConfig,
    ThrottleConfig,
    Timeouts,
    TransportConfig,
)
from harness.client.cost import Attribution, CostTracker, estimate_max_cost, key_label
from harness.client.events import EventLog, EventSink, PolicyEvent, fan_out
from harness.client.fallback import fallover_allowed
from harness.client.keys import ApiKey, KeyRing, RedactedHeaders
from harness.client.limiter import Demand, Grant, LimitConfig, Limiter, RateLimiter, Reservation, wait_for_capacity
from harness.client.limiter_redis import RedisRateLimiter
from harness.client.outcomes import OutcomeLog, client_event
from harness.client.redis_support import RedisFallback, make_redis, redis_client
from harness.client.retry import (
    AdaptiveThrottle,
    RetryBudget,
    RetryConfig,
    RetryDecision,
    RetryPolicy,
    RetryState,
    is_retryable,
)
from harness.client.stream_api import ChatStream
from harness.client.structured import (
    ReaskPolicy,
    StructuredOutputInvalid,
    StructuredResult,
    StructuredStats,
    chat_structured,
)
from harness.client.transport import HttpRequest, HttpResponse, Transport
from harness.client.transports import AiohttpTransport
from harness.client.types import ChatDelta, ChatRequest, ChatResponse, Message, ResponseSchema, ToolCall, ToolSpec

__all__ = [
    "ADAPTERS",
    "OUTCOME_KINDS",
    "PROVIDERS",
    "Adapter",
    "AdaptiveThrottle",
    "AiohttpTransport",
    "ApiKey",
    "Attribution",
    "Backoff",
    "Breaker",
    "BreakerConfig",
    "BudgetLedger",
    "BudgetReservation",
    "BudgetRule",
    "Budgets",
    "CacheConfig",
    "ChatDelta",
    "ChatRequest",
    "ChatResponse",
    "ChatStream",
    "CircuitBreaker",
    "ClientConfig",
    "CostTracker",
    "Demand",
    "EventLog",
    "EventSink",
    "Grant",
    "HttpRequest",
    "HttpResponse",
    "KeyRing",
    "KeyRotation",
    "LimitConfig",
    "Limiter",
    "Message",
    "ModelSpec",
    "OutcomeLog",
    "Permit",
    "PolicyEvent",
    "RateLimiter",
    "ReaskPolicy",
    "RedactedHeaders",
    "RedisBudgetLedger",
    "RedisCircuitBreaker",
    "RedisConfig",
    "RedisFallback",
    "RedisRateLimiter",
    "Reservation",
    "ResilientClient",
    "ResponseCache",
    "ResponseSchema",
    "RetryBudget",
    "RetryBudgetConfig",
    "RetryConfig",
    "RetryDecision",
    "RetryPolicy",
    "RetryState",
    "SingleFlight",
    "StreamingConfig",
    "StructuredOutputInvalid",
    "StructuredResult",
    "StructuredStats",
    "ThrottleConfig",
    "Timeouts",
    "ToolCall",
    "ToolSpec",
    "Transport",
    "TransportConfig",
    "chat_structured",
    "client_event",
    "decorrelated_jitter",
    "equal_jitter",
    "estimate_max_cost",
    "exponential",
    "fallover_allowed",
    "fan_out",
    "fixed",
    "full_jitter",
    "is_retryable",
    "key_label",
    "make_redis",
    "none",
    "outcome_kind",
    "parse_backoff",
    "redis_client",
    "request_key",
    "scaled",
    "uniform",
    "wait_for_capacity",
]
