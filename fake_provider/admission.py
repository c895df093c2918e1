"""The quota step of the provider core: admit a request or refuse it the way its provider would.

In order: requests in flight for the key (``max_in_flight``), the key's billed spend
(``spend_cap_usd``), then the per-minute limits of its (key, model) (:class:`~fake_provider.quotas.QuotaBook`).
Every answer to a request that reached this step carries the provider's rate-limit headers (OpenAI
``x-ratelimit-*`` with Go durations, Anthropic ``anthropic-ratelimit-*`` with RFC 3339 resets; Gemini
sends none), with the remaining values of the state right after the decision.

A refused request gets, per provider:

* over rpm / tpm / itpm / otpm: OpenAI 429 ``rate_limit_exceeded`` (type ``requests`` or ``tokens``),
  Anthropic 429 ``rate_limit_error`` (both with ``retry-after`` and ``retry-after-ms``), Gemini 429
  ``RESOURCE_EXHAUSTED`` with ``QuotaFailure`` and ``RetryInfo``;
* too many in flight: OpenAI 429 ``rate_limit_exceeded``, Anthropic 529 ``overloaded_error``, Gemini
  503 ``UNAVAILABLE``;
* spend cap reached: OpenAI 429 ``insufficient_quota``, Anthropic 400 (credit balance too low),
  Gemini 429 ``RESOURCE_EXHAUSTED``.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from fake_provider import plans, rejections
from fake_provider.context import CallContext
from fake_provider.fault import Fault
from fake_provider.plan import Plan
from fake_provider.quotas import Admission, QuotaBook, QuotaConfig, SlidingWindow
from harness.wire import anthropic, gemini, openai_limits

__all__ = ["admit", "header_names", "rate_limit_headers", "release"]

_ANTHROPIC_NAMES = {"rpm": "requests", "tpm": "tokens", "itpm": "input-tokens", "otpm": "output-tokens"}


def rate_limit_headers(
    provider: str, windows: tuple[tuple[str, SlidingWindow], ...], now: float, wall: float
) -> tuple[tuple[str, str], ...]:
    """The provider's rate-limit headers for the state of ``windows`` at ``now`` (``wall``: the same instant)."""
    if provider == "gemini" or not windows:
        return ()
    if provider == "openai":
        requests = tokens = None
        for kind, w in windows:  # OpenAI has one token limit: tpm, else the first other one
            # inline remaining and reset_after: this runs for every answer to a limited key
            state = (w.limit, w.limit - w.used, w.reset_after(now))
            if kind == "rpm":
                requests = state
            elif tokens is None or kind == "tpm":
                tokens = state
        return openai_limits.rate_limit_headers(requests, tokens)
    states = {kind: (w.limit, w.remaining, w.reset_after(now)) for kind, w in windows}
    limits = [(_ANTHROPIC_NAMES[kind], limit, left, wall + reset) for kind, (limit, left, reset) in states.items()]
    if "tpm" not in states:  # "tokens": the most restrictive of the token limits in effect
        token_limits = [s for s in limits if s[0] != "requests"]
        if token_limits:
            tightest = min(token_limits, key=lambda s: (s[2], -s[3]))
            limits.append(("tokens", *tightest[1:]))
    return tuple(anthropic.rate_limit_headers(limits))


def header_names(config: QuotaConfig, provider: str, model: str) -> frozenset[str]:
    """The names of the rate-limit headers :func:`admit` puts on every answer to a request for ``model`` (they
    depend on the limits configured for it, not on their state)."""
    configured = config.limits_for(model).configured()
    windows = tuple((kind, SlidingWindow(limit, config.window_s)) for kind, limit in configured)
    return frozenset(name for name, _ in rate_limit_headers(provider, windows, 0.0, 0.0))


def admit(
    book: QuotaBook,
    ctx: CallContext,
    model: str,
    output: int,
    now: float,
    spent: Callable[[str], Decimal],
) -> Plan | None:
    """Admit ``ctx`` (a prompt of ``ctx.prompt_tokens`` that may produce ``output`` tokens) or refuse it."""
    config = book.config
    provider = ctx.provider
    if config.max_in_flight is None and config.spend_cap_usd is None:  # the usual case, kept short
        admission = book.admit(now, ctx.client, model, ctx.prompt_tokens, output)
        ctx.extra_headers = rate_limit_headers(provider, admission.windows, now, ctx.wall)
        if admission.refused is not None:
            return _rate_limited(ctx, admission, model)
        if admission.output_entry is not None:
            ctx.admission = admission
            ctx.quota_generation = book.generation
        return None
    if config.max_in_flight is not None:
        if not book.enter(ctx.client):
            status, message, code = rejections.in_flight_refusal(provider, model, config.max_in_flight)
            return _refuse(ctx, "quota:in_flight", status, message, code)
        ctx.in_flight_key = True
        ctx.quota_generation = book.generation
    cap = config.spend_cap_usd
    if cap is not None and spent(ctx.client) >= cap:
        status, message, code = rejections.spend_refusal(provider)
        details = gemini.quota_details(model, "spend", format(cap, "f"), None) if provider == "gemini" else None
        return _refuse(ctx, "quota:spend", status, message, code, details=details)
    admission = book.admit(now, ctx.client, model, ctx.prompt_tokens, output)
    ctx.extra_headers = rate_limit_headers(provider, admission.windows, now, ctx.wall)
    if admission.refused is not None:
        return _rate_limited(ctx, admission, model)
    if admission.output_entry is not None:  # only output tokens are released (corrected) at the end
        ctx.admission = admission
        ctx.quota_generation = book.generation
    return None


def release(book: QuotaBook, ctx: CallContext, output_tokens: int) -> None:
    """The attempt ended having sent ``output_tokens``: correct its output-token entry, leave the in-flight count."""
    generation = ctx.quota_generation
    if ctx.admission is not None:
        book.correct_output(ctx.admission, generation, output_tokens)
    if ctx.in_flight_key:
        book.leave(ctx.client, generation)


def _refuse(
    ctx: CallContext,
    label: str,
    status: int,
    message: str,
    code: str | None,
    *,
    retry: tuple[tuple[str, str], ...] = (),
    hint: float | None = None,
    error_type: str | None = None,
    details: list[dict[str, object]] | None = None,
) -> Plan:
    ctx.fault = Fault(label, status)
    ctx.retry_after_s = hint
    plan, ctx.error_type = plans.error_plan(
        ctx.provider,
        status,
        ctx.request_id,
        message=message,
        code=code,
        error_type=error_type,
        details=details,
        extra_headers=(*retry, *ctx.extra_headers),
    )
    return plan


def _rate_limited(ctx: CallContext, admission: Admission, model: str) -> Plan:
    kind = admission.refused or "rpm"
    retry: tuple[tuple[str, str], ...] = ()
    hint: float | None = None
    if admission.wait_s is not None:
        retry, hint = plans.quota_retry_headers(admission.wait_s)
    label = f"quota:{kind}"
    provider = ctx.provider
    if provider == "openai":
        type_, message = openai_limits.rate_limit_error(
            model, kind, admission.limit, admission.used, admission.requested, hint
        )
        return _refuse(ctx, label, 429, message, "rate_limit_exceeded", retry=retry, hint=hint, error_type=type_)
    if provider == "anthropic":
        message = anthropic.rate_limit_message(kind, admission.limit)
        return _refuse(ctx, label, 429, message, None, retry=retry, hint=hint)
    details = gemini.quota_details(model, kind, admission.limit, hint)
    return _refuse(ctx, label, 429, gemini.QUOTA_MESSAGE, None, hint=hint, details=details)
