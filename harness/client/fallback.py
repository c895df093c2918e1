"""Fallback chains: when a logical request moves to the next model, and which models it skips.

A request for model M is tried on M, then on each model of M's chain in order (``[client.fallbacks]``).
It moves on when M cannot serve it, and only then:

* the breaker of M is open (``CircuitOpen``) or the retry budget / adaptive throttling refused a retry;
* M's retries are exhausted on a retryable failure (429, 5xx, overload, timeouts, resets, broken streams);
* the context is too long (``ContextLengthExceeded``): only models with a larger known context window
  (or an unknown one) are tried after it;
* M does not accept an assistant prefill (``PrefillRejected``), M's keys are all refused or out of
  quota (``AuthenticationError``, ``QuotaExhausted``), or M is unknown there (``NotFound``).

It never moves on for a content-filter refusal (``ContentFiltered``: another model must not be asked
to say what one refused), a hard budget (``BudgetExceeded``), or any other bad request (the request
itself is wrong; every model would refuse it).

Before sending, a model is skipped (a local error is recorded, nothing is sent) when the conversation
ends with an assistant message (a prefill, or a stream restart's partial answer) and the model does
not accept one, or when the prompt plus max_tokens does not fit its known context window.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from harness.client.config import ModelSpec
from harness.client.types import Message
from harness.errors import (
    AuthenticationError,
    BadRequest,
    BudgetExceeded,
    CircuitOpen,
    ContentFiltered,
    ContextLengthExceeded,
    NotFound,
    PrefillRejected,
    ProviderError,
    QuotaExhausted,
    RetryBudgetExhausted,
)
from harness.tokenizer import MESSAGE_OVERHEAD, REPLY_PRIMING

__all__ = ["ends_with_prefill", "fallover_allowed", "fits_window", "skip_reason"]


def fallover_allowed(error: BaseException) -> bool:
    """May the next model of the chain be tried after ``error`` ended this one?"""
    if isinstance(error, ContentFiltered | BudgetExceeded):
        return False
    if isinstance(error, CircuitOpen | RetryBudgetExhausted):
        return True
    if isinstance(error, ContextLengthExceeded | PrefillRejected | AuthenticationError | NotFound | QuotaExhausted):
        return True
    if isinstance(error, BadRequest):
        return False
    return isinstance(error, ProviderError)


def ends_with_prefill(messages: Sequence[Message]) -> bool:
    return bool(messages) and messages[-1].role == "assistant"


def fits_window(messages: Sequence[Message], max_tokens: int, window: int, count: Callable[[], int]) -> bool:
    """Does prompt + max_tokens fit ``window``? Counts tokens only when a cheap bound cannot tell.

    A harness token is at least one character, so characters + template overhead bound the prompt.
    """
    bound = REPLY_PRIMING + sum(MESSAGE_OVERHEAD + len(m.role) + len(m.content) for m in messages)
    if bound + max_tokens <= window:
        return True
    return count() + max_tokens <= window


def skip_reason(
    spec: ModelSpec,
    messages: Sequence[Message],
    max_tokens: int,
    count: Callable[[], int],
    *,
    larger_than: int | None = None,
) -> ProviderError | None:
    """Why ``spec`` cannot take this request, or None; the error is recorded, nothing is sent.

    ``larger_than``: a model already refused the context at this window size; only larger ones qualify.
    """
    if ends_with_prefill(messages) and not spec.accepts_prefill:
        return PrefillRejected(
            f"{spec.name} does not accept an assistant prefill; not sent", code="prefill_local",
            provider=spec.provider, model=spec.name,
        )  # fmt: skip
    window = spec.context_window
    if window is not None:
        if larger_than is not None and window <= larger_than:
            return ContextLengthExceeded(
                f"{spec.name}'s context window ({window}) is not larger than the one that refused the prompt",
                code="context_length_local", provider=spec.provider, model=spec.name,
            )  # fmt: skip
        if not fits_window(messages, max_tokens, window, count):
            return ContextLengthExceeded(
                f"prompt ({count()} tokens) + max_tokens ({max_tokens}) exceeds {spec.name}'s context window "
                f"({window}); not sent", code="context_length_local", provider=spec.provider, model=spec.name,
            )  # fmt: skip
    return None
