"""OpenAI rate limits, both sides: the ``x-ratelimit-*`` headers and the 429 messages.

Server side: :func:`rate_limit_headers` (the header pairs are built once each: they go out with every
answer to a limited key) and :func:`rate_limit_error`. Client side: :func:`parse_rate_limits`
(resets as Go durations, and the retry hint), and :func:`rate_limit_numbers` (its limits alone, per answer).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from harness.wire.formats import format_go_duration, parse_go_duration, parse_retry_after
from harness.wire.neutral import RateLimits

__all__ = ["parse_rate_limits", "rate_limit_error", "rate_limit_headers", "rate_limit_numbers"]

#: limit kind → (error type, how OpenAI names it in a 429 message)
_LIMIT_NAMES = {
    "rpm": ("requests", "requests per min (RPM)"),
    "tpm": ("tokens", "tokens per min (TPM)"),
    "itpm": ("tokens", "input tokens per min (ITPM)"),
    "otpm": ("tokens", "output tokens per min (OTPM)"),
}


class _Pairs(dict[int, tuple[str, str]]):
    """``(name, value)`` header pairs by an integer (a limit, a reset in ms), built once each: the
    rate-limit headers go out with every answer to a limited key."""

    def __init__(self, name: str, text: Callable[[int], str], bound: int) -> None:
        super().__init__()
        self.name, self.text, self.bound = name, text, bound

    def __missing__(self, value: int) -> tuple[str, str]:
        if len(self) > self.bound:
            self.clear()
        pair = self[value] = (self.name, self.text(value))
        return pair


_PAIRS = {
    kind: (
        _Pairs(f"x-ratelimit-limit-{kind}", str, 10_000),
        _Pairs(f"x-ratelimit-reset-{kind}", lambda ms: format_go_duration(ms / 1000), 200_000),
    )
    for kind in ("requests", "tokens")
}


_REMAINING = {kind: f"x-ratelimit-remaining-{kind}" for kind in ("requests", "tokens")}


def rate_limit_headers(
    requests: tuple[int, int, float] | None, tokens: tuple[int, int, float] | None
) -> tuple[tuple[str, str], ...]:
    """``x-ratelimit-*`` from (limit, remaining, seconds until fully reset) of the request and token limits."""
    out: tuple[tuple[str, str], ...] = ()
    for kind, state in (("requests", requests), ("tokens", tokens)):
        if state is not None:
            limit, remaining, reset_s = state
            limits, resets = _PAIRS[kind]
            ms = round(reset_s * 1000)
            reset = resets[ms] if ms >= 1 else (resets.name, format_go_duration(reset_s))
            out += (limits[limit], (_REMAINING[kind], str(remaining)), reset)
    return out


def rate_limit_error(
    model: str, kind: str, limit: int, used: int, requested: int, wait_s: float | None
) -> tuple[str, str]:
    """``(type, message)`` of OpenAI's 429 for the limit ``kind`` ("rpm", "tpm" …); no wait: too large ever."""
    type_, name = _LIMIT_NAMES.get(kind, ("tokens", kind))
    if wait_s is None:
        return type_, (
            f"Request too large for {model} in organization org-fake on {name}: Limit {limit}, Requested "
            f"{requested}. The input or output tokens must be reduced in order to run successfully. "
            "Visit https://platform.openai.com/account/rate-limits to learn more."
        )
    return type_, (
        f"Rate limit reached for {model} in organization org-fake on {name}: Limit {limit}, Used {used}, "
        f"Requested {requested}. Please try again in {format_go_duration(wait_s)}. "
        "Visit https://platform.openai.com/account/rate-limits to learn more."
    )


def _int(value: str | None) -> int | None:
    try:
        return None if value is None else int(value)
    except ValueError:
        return None


def parse_rate_limits(headers: Mapping[str, str], now_wall: float = 0.0) -> RateLimits:
    """``x-ratelimit-*`` (resets as Go durations) and the retry hint."""
    get = headers.get
    return RateLimits(
        requests_limit=_int(get("x-ratelimit-limit-requests")),
        requests_remaining=_int(get("x-ratelimit-remaining-requests")),
        requests_reset_s=parse_go_duration(get("x-ratelimit-reset-requests")),
        tokens_limit=_int(get("x-ratelimit-limit-tokens")),
        tokens_remaining=_int(get("x-ratelimit-remaining-tokens")),
        tokens_reset_s=parse_go_duration(get("x-ratelimit-reset-tokens")),
        retry_after_s=parse_retry_after(headers, now_wall),
    )


def rate_limit_numbers(headers: Mapping[str, str]) -> tuple[int | float | None, ...]:
    """The first six fields of :func:`parse_rate_limits` (limit, remaining and reset of requests, then
    of tokens), as a tuple: the reference client's limiter reads these with every answer, and this
    spares it the :class:`RateLimits` (a frozen object of 13 fields) and the retry hint it does not use.
    ``tests/unit/test_limit_headers_fast_path.py`` holds it to :func:`parse_rate_limits`."""
    get = headers.get
    return (
        _int(get("x-ratelimit-limit-requests")),
        _int(get("x-ratelimit-remaining-requests")),
        parse_go_duration(get("x-ratelimit-reset-requests")),
        _int(get("x-ratelimit-limit-tokens")),
        _int(get("x-ratelimit-remaining-tokens")),
        parse_go_duration(get("x-ratelimit-reset-tokens")),
    )
