"""Reporting logical requests to Locust's statistics, so its table, charts and CSVs speak LLM.

One Locust request per **logical** request (all its retries and fallbacks inside, as the caller saw
it): request type the API (``openai``, ``anthropic``, ``gemini``), name the model asked for, response
time end to end, response length the output tokens, and — when it failed — an exception of the error
class that ended it (``RateLimited``, ``CircuitOpen``, ``DeadlineExceeded`` …), so Locust's failures
table counts failures by class. A streamed answer also reports its time to first token as a request
of type ``TTFT`` under the same model name.

Error classes are reported as instances of :class:`LLMRequestFailed` subclasses named after the class
and carrying no message: Locust groups failures by their ``repr``, so a per-request message (an id, a
timestamp) would split one class into thousands of rows.
"""

from __future__ import annotations

from typing import Any

from harness.client.types import ChatResponse
from harness.records import OutcomeRecord

__all__ = ["TTFT", "LLMRequestFailed", "error_of", "report", "report_outcome", "report_response"]

TTFT = "TTFT"  # the request type of time-to-first-token entries


class LLMRequestFailed(Exception):
    """A logical request ended without an answer; the subclass name is the error class."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __str__(self) -> str:
        return type(self).__name__


_classes: dict[str, type[LLMRequestFailed]] = {}


def error_of(name: str) -> LLMRequestFailed:
    """An exception of the class named ``name`` (made once per name) to hand to Locust."""
    cls = _classes.get(name)
    if cls is None:
        safe = "".join(c for c in name if c.isalnum() or c == "_") or "Error"
        cls = _classes[name] = type(safe, (LLMRequestFailed,), {"__module__": "harness.errors"})
    return cls()


def report(
    events: Any,
    *,
    api: str,
    model: str,
    latency_s: float,
    output_tokens: int,
    error: str | None,
    ttft_s: float | None = None,
    context: dict[str, Any] | None = None,
) -> None:
    """Fire Locust's ``request`` event for one logical request (and its TTFT entry when streamed)."""
    events.request.fire(
        request_type=api,
        name=model,
        response_time=latency_s * 1000.0,
        response_length=output_tokens,
        exception=None if error is None else error_of(error),
        context=context or {},
    )
    if ttft_s is not None and error is None:
        events.request.fire(
            request_type=TTFT,
            name=model,
            response_time=ttft_s * 1000.0,
            response_length=0,
            exception=None,
            context=context or {},
        )


def report_outcome(events: Any, outcome: OutcomeRecord, api: str) -> None:
    """Report a logical request from its terminal outcome (the scenario users)."""
    report(
        events,
        api=outcome.provider or api,
        model=outcome.model_requested,
        latency_s=outcome.latency_s,
        output_tokens=outcome.output_tokens,
        error=None if outcome.ok else (outcome.status or "Error"),
        ttft_s=outcome.ttft_s if outcome.stream else None,
        context={"request_id": outcome.id, "answered_by": outcome.model},
    )


def report_response(
    events: Any, *, api: str, model: str, latency_s: float, response: ChatResponse | None, error: BaseException | None
) -> None:
    """Report a call made through :meth:`harness.locust.LLMUser.chat` (the answer, or the error it raised)."""
    report(
        events,
        api=response.provider if response is not None else api,
        model=model,
        latency_s=response.latency_s if response is not None and response.latency_s > 0 else latency_s,
        output_tokens=response.usage.output_tokens if response is not None else 0,
        error=None if error is None else type(error).__name__,
        ttft_s=response.ttft_s if response is not None else None,
        context={"request_id": response.request_id if response is not None else None},
    )
