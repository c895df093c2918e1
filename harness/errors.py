"""One exception tree for the whole harness.

Every failure the harness raises or records derives from :class:`HarnessError`. HTTP and transport
failures are mapped onto this tree in exactly one place per provider (the client's adapters); policies
raise their own members (``CircuitOpen``, ``BudgetExceeded`` …). Messages never contain an API key.

    HarnessError
    ├── ConfigError                   invalid configuration or scenario (CLI exit code 2)
    ├── ProviderError                 one attempt failed; carries status, retry hint, request id
    │   ├── RateLimited               429 rate limit (requests or tokens)
    │   ├── QuotaExhausted            429 insufficient_quota: billing, not rate; do not retry
    │   ├── Overloaded                529 / 503 "overloaded": the provider sheds load
    │   ├── ServerError               500, 502, 503, 504
    │   ├── RequestTimeoutStatus      408 / 409 from the server
    │   ├── BadRequest                400 and other 4xx the client caused; never retried
    │   │   ├── ContextLengthExceeded the prompt does not fit the model's context window
    │   │   ├── ContentFiltered       refused by a content policy; never retried, never failed over
    │   │   ├── PrefillRejected       the model does not accept an assistant prefill
    │   │   ├── AuthenticationError   401 / 403
    │   │   └── NotFound              404: unknown model or route
    │   ├── TransportError            nothing usable came back from the connection
    │   │   ├── ConnectError          could not connect
    │   │   ├── ConnectionReset       reset or closed before a complete response
    │   │   └── DeadlineExceeded      a deadline passed (connect, first token, stall, total)
    │   │       ├── FirstTokenTimeout no first token within the first-token deadline
    │   │       └── StreamStalled     no chunk within the stall deadline
    │   └── StreamBroken              the stream was cut, malformed, or carried an error event
    ├── CircuitOpen                   the breaker refuses calls until its open period ends
    ├── BudgetExceeded                a hard cost budget would be overspent
    ├── RetryBudgetExhausted          the retry budget (or adaptive throttling) refused a retry
    └── AllFallbacksFailed            every model in a fallback chain failed; ``errors`` has each
        └── StreamInterrupted         a stream broke after text reached the caller and was not completed
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AllFallbacksFailed",
    "AuthenticationError",
    "BadRequest",
    "BudgetExceeded",
    "CircuitOpen",
    "ConfigError",
    "ConnectError",
    "ConnectionReset",
    "ContentFiltered",
    "ContextLengthExceeded",
    "DeadlineExceeded",
    "Degraded",
    "FirstTokenTimeout",
    "HarnessError",
    "NotFound",
    "Overloaded",
    "PrefillRejected",
    "ProviderError",
    "QuotaExhausted",
    "RateLimited",
    "RequestTimeoutStatus",
    "RetryBudgetExhausted",
    "ServerError",
    "StreamBroken",
    "StreamInterrupted",
    "StreamStalled",
    "TransportError",
]


class HarnessError(Exception):
    """Root of every error the harness raises."""


class ConfigError(HarnessError, ValueError):
    """A configuration or scenario value is invalid; the message names the field, value and expectation.

    ``field`` is the dotted path of the offending key (``"load.users"``), so tools can point at it.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class ProviderError(HarnessError):
    """One attempt against a provider failed.

    ``status`` is the HTTP status (0 for transport failures), ``retry_after_s`` the provider's retry
    hint in seconds when it gave one, ``request_id`` the provider's id for the attempt, ``code`` the
    provider's own error type or code (``rate_limit_exceeded``, ``overloaded_error`` …).
    """

    #: default for "may a retry of the same request succeed?"; the retry policy has the final word
    retryable: bool = True

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        retry_after_s: float | None = None,
        request_id: str | None = None,
        code: str | None = None,
        provider: str | None = None,
        model: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after_s = retry_after_s
        self.request_id = request_id
        self.code = code
        self.provider = provider
        self.model = model

    @property
    def kind(self) -> str:
        """A short stable name for reports and logs (the class name)."""
        return type(self).__name__

    def __repr__(self) -> str:
        return f"{self.kind}(status={self.status}, code={self.code!r}, message={self.message!r})"


class RateLimited(ProviderError):
    """429: the provider's rate limit (requests or tokens per minute) was hit."""


class QuotaExhausted(ProviderError):
    """429 insufficient_quota: the account is out of credit; retrying the same key cannot help."""

    retryable = False


class Overloaded(ProviderError):
    """529 (Anthropic) or 503 overloaded: the provider is shedding load."""


class ServerError(ProviderError):
    """500, 502, 503 or 504 from the provider."""


class RequestTimeoutStatus(ProviderError):
    """408 or 409 from the provider: the server gave up or hit a lock; safe to retry."""


class BadRequest(ProviderError):
    """A 4xx the request itself caused; sending it again cannot succeed."""

    retryable = False


class ContextLengthExceeded(BadRequest):
    """The prompt (plus max_tokens) does not fit the model's context window; a larger model may."""


class ContentFiltered(BadRequest):
    """The provider refused on content policy; neither retried nor failed over to another model."""


class PrefillRejected(BadRequest):
    """The model does not accept an assistant prefill (a trailing assistant message)."""


class AuthenticationError(BadRequest):
    """401 or 403: the key is missing, wrong or not allowed; another key may work."""


class NotFound(BadRequest):
    """404: unknown model or route."""


class TransportError(ProviderError):
    """The connection failed before a complete response arrived."""


class ConnectError(TransportError):
    """The connection could not be established."""


class ConnectionReset(TransportError):
    """The peer reset or closed the connection before a complete response."""


class DeadlineExceeded(TransportError):
    """A deadline (connect, first token, stall between chunks, total) passed."""


class FirstTokenTimeout(DeadlineExceeded):
    """No first token arrived within the first-token deadline."""


class StreamStalled(DeadlineExceeded):
    """The stream went silent for longer than the stall deadline."""


class StreamBroken(ProviderError):
    """A stream ended without its terminator, carried a malformed chunk, or an error event."""


class CircuitOpen(HarnessError):
    """The circuit breaker is open: calls are refused until ``retry_at`` (clock seconds)."""

    def __init__(self, name: str, retry_at: float) -> None:
        super().__init__(f"circuit {name!r} is open until t={retry_at:.3f}")
        self.name = name
        self.retry_at = retry_at


class BudgetExceeded(HarnessError):
    """Sending would overspend a hard cost budget; nothing was sent."""

    def __init__(self, entity: str, limit_usd: object, spent_usd: object, requested_usd: object) -> None:
        super().__init__(
            f"hard budget for {entity} would be exceeded: limit {limit_usd} USD, "
            f"spent and reserved {spent_usd} USD, this request needs up to {requested_usd} USD"
        )
        self.entity = entity
        self.limit_usd = limit_usd
        self.spent_usd = spent_usd
        self.requested_usd = requested_usd


class Degraded(HarnessError):
    """The degradation ladder had no step left that could serve the request; ``reason`` is the rule that
    sent it down the ladder ("breaker_open", "budget"). The primary model was not asked."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"degraded ({reason}): no step of the ladder could serve the request")
        self.reason = reason


class RetryBudgetExhausted(HarnessError):
    """A retry was refused by the retry budget or adaptive throttling; ``cause`` is the last failure."""

    def __init__(self, message: str, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.cause = cause


class AllFallbacksFailed(HarnessError):
    """Every model of a fallback chain failed; ``errors`` holds (model, error) in the order tried."""

    def __init__(self, errors: Sequence[tuple[str, BaseException]]) -> None:
        summary = "; ".join(f"{model}: {type(err).__name__}" for model, err in errors)
        super().__init__(f"all fallbacks failed ({summary})")
        self.errors = list(errors)


class StreamInterrupted(AllFallbacksFailed):
    """A stream broke after part of the answer reached the caller, and no model could complete it.

    ``delivered_text`` is what the caller already has (never reported as a success; a continuation
    that was tried started from it), ``delivered_chars`` its length, ``errors`` each model's error in
    the order tried (one entry when no continuation was possible), ``cause`` the error that ended it.
    """

    def __init__(self, errors: Sequence[tuple[str, BaseException]], delivered_text: str) -> None:
        super().__init__(errors)
        self.delivered_text = delivered_text
        self.delivered_chars = len(delivered_text)
        self.cause = self.errors[-1][1] if self.errors else None
        tried = "; ".join(f"{model}: {type(err).__name__}" for model, err in self.errors)
        last = f" ({self.cause})" if self.cause is not None and str(self.cause) else ""
        self.args = (
            f"the stream broke after {self.delivered_chars} characters reached the caller and was not completed "
            f"({tried}){last}",
        )
