"""Rate-limit headers without configured quotas: each provider's documented tier, counted as admitted.

Real providers put their rate-limit headers on every answer; clients (the reference client included)
read them to pace themselves. Without ``[provider.quotas]`` the fake reports the limits of one
documented tier per provider and what the key has used of them, and never refuses on their account
(declare quotas to enforce limits):

* OpenAI, usage tier 5 (gpt-4o class): 10,000 requests and 30,000,000 tokens per minute;
* Anthropic, tier 4 (Claude Sonnet class): 4,000 requests, 2,000,000 input tokens and 400,000 output
  tokens per minute (``tokens``: the tighter of the two token families);
* Gemini sends no rate-limit headers (its hints come in error bodies).

Use is counted per (key, model) in fixed one-minute windows from the run's start: a request counts
1 request and its prompt plus its ``max_tokens`` (or the answer it gets) as tokens, as OpenAI counts
TPM; Anthropic's input tokens are the prompt, output tokens the same output estimate. ``remaining``
is the limit less that use (0 at the least); ``reset`` is the time left in the window. Sans-I/O:
``now`` comes from the core's clock. Every 429, whatever produced it, goes through :func:`exhausted`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from fake_provider import plans
from fake_provider.context import CallContext
from fake_provider.plan import Plan
from harness.wire import anthropic, gemini, openai_limits
from harness.wire.formats import format_go_duration, format_rfc3339, parse_go_duration, parse_rfc3339

__all__ = ["DEFAULT_429_HINT_S", "TIERS", "Tier", "TierBook", "exhausted", "header_names", "merge_headers"]

DEFAULT_429_HINT_S = 1.0  # the hint a 429 without one carries where the provider always gives one

_MAX_KEYS = 50_000  # (key, model) windows kept before the book starts afresh


@dataclass(frozen=True, slots=True)
class Tier:
    """Per-minute limits one provider reports for a key and model."""

    name: str
    requests: int
    tokens: int | None = None  # OpenAI's single token limit
    input_tokens: int | None = None  # Anthropic's input-token limit
    output_tokens: int | None = None  # Anthropic's output-token limit


TIERS: dict[str, Tier] = {
    "openai": Tier("OpenAI usage tier 5", requests=10_000, tokens=30_000_000),
    "anthropic": Tier("Anthropic tier 4", requests=4_000, input_tokens=2_000_000, output_tokens=400_000),
}


class TierBook:
    """Fixed one-minute windows of use per (key, model); header lists in each provider's format."""

    __slots__ = ("_windows", "started", "window_s")

    def __init__(self, started: float, window_s: float = 60.0) -> None:
        self.started = started  # windows are aligned on the run's start
        self.window_s = window_s
        self._windows: dict[tuple[str, str], list[int]] = {}  # → [window number, requests, input, output]

    def clear(self, started: float) -> None:
        self._windows.clear()
        self.started = started

    def _window(self, key: tuple[str, str], now: float) -> tuple[list[int], float]:
        number = int((now - self.started) // self.window_s)
        entry = self._windows.get(key)
        if entry is None or entry[0] != number:
            if len(self._windows) >= _MAX_KEYS:
                self._windows.clear()
            entry = self._windows[key] = [number, 0, 0, 0]
        reset = self.started + (number + 1) * self.window_s - now
        return entry, reset

    def touch(self, client: str, model: str, now: float) -> None:
        """Open ``client``'s window on ``model`` as :meth:`headers` would, without building the headers (they
        are built only for an answer that needs them; the book's size, and when it starts afresh, stay the same)."""
        self._window((client, model), now)

    def count(self, client: str, model: str, now: float, prompt: int, output: int) -> None:
        """An admitted request of ``client`` on ``model``."""
        entry, _ = self._window((client, model), now)
        entry[1] += 1
        entry[2] += prompt
        entry[3] += output

    def reset_after(self, now: float) -> float:
        """Seconds until the current window ends."""
        return self.window_s - ((now - self.started) % self.window_s)

    def headers(
        self, provider: str, client: str, model: str, now: float, wall: float, exhausted: float | None = None
    ) -> tuple[tuple[str, str], ...]:
        """The provider's rate-limit headers for ``client`` on ``model``; ``exhausted``: a 429's retry hint
        (every family then says remaining 0, resetting when the hint ends)."""
        tier = TIERS.get(provider)
        if tier is None:
            return ()
        entry, reset = self._window((client, model), now)
        _, requests, input_tokens, output_tokens = entry
        if exhausted is not None:
            requests = input_tokens = output_tokens = 1 << 62
            reset = exhausted
        if provider == "openai":
            assert tier.tokens is not None
            return openai_limits.rate_limit_headers(
                (tier.requests, max(0, tier.requests - requests), reset),
                (tier.tokens, max(0, tier.tokens - input_tokens - output_tokens), reset),
            )
        assert tier.input_tokens is not None
        assert tier.output_tokens is not None
        at = wall + reset
        left_in = max(0, tier.input_tokens - input_tokens)
        left_out = max(0, tier.output_tokens - output_tokens)
        tightest = (tier.input_tokens, left_in) if left_in < left_out else (tier.output_tokens, left_out)
        return tuple(
            anthropic.rate_limit_headers(
                [
                    ("requests", tier.requests, max(0, tier.requests - requests), at),
                    ("tokens", *tightest, at),
                    ("input-tokens", tier.input_tokens, left_in, at),
                    ("output-tokens", tier.output_tokens, left_out, at),
                ]
            )
        )


def header_names(provider: str) -> frozenset[str]:
    """The names of the rate-limit headers the tier of ``provider`` puts on an answer (none for Gemini)."""
    return frozenset(name for name, _ in TierBook(0.0).headers(provider, "", "", 0.0, 0.0))


def merge_headers(
    first: tuple[tuple[str, str], ...], second: tuple[tuple[str, str], ...]
) -> tuple[tuple[str, str], ...]:
    """``first``, then the headers of ``second`` it does not name."""
    names = {k for k, _ in first}
    return (*first, *((k, v) for k, v in second if k not in names))


def exhausted(ctx: CallContext, plan: Plan) -> Plan:
    """A 429, whatever produced it, saying the limits are used up until its retry hint: remaining 0 and resets
    at the hint in every rate-limit family it carries; OpenAI's and Anthropic's hint in whole seconds and in
    milliseconds; Anthropic and Gemini always give a hint (1 s when the cause named none), as their APIs do."""
    provider, hint = ctx.provider, ctx.retry_after_s
    if hint is None and provider != "openai":
        hint = ctx.retry_after_s = DEFAULT_429_HINT_S
        if provider == "anthropic":
            plan = replace(plan, headers=(*plan.headers, *plans.retry_headers(hint, "s")))
        else:
            plan = replace(plan, body=gemini.with_retry_info(plan.body, hint))
    elif hint is not None and provider != "gemini":  # whole seconds and milliseconds, whichever was asked
        have = {k for k, _ in plan.headers}
        added = tuple(h for h in plans.retry_headers(hint, "both") if h[0] not in have)
        plan = replace(plan, headers=(*plan.headers, *added)) if added else plan
    reset = hint if hint is not None else DEFAULT_429_HINT_S
    wall = ctx.wall + plan.headers_delay_s
    # a quota's reset is when its window is whole again: never earlier than the hint, often later (a client
    # told "whole again at the hint" would burst then); the tier's windows are not what refused a fault's 429
    quota = ctx.fault is not None and ctx.fault.name.startswith("quota:")
    return replace(plan, headers=tuple(_exhausted_header(k, v, reset, wall, quota) for k, v in plan.headers))


def _exhausted_header(name: str, value: str, reset_s: float, wall: float, keep_later: bool) -> tuple[str, str]:
    """One header of a 429: rate-limit remainders become 0, their resets the retry hint (or, ``keep_later``,
    the later of the hint and the reset they said)."""
    if name.startswith("x-ratelimit-"):
        if name.startswith("x-ratelimit-remaining-"):
            return name, "0"
        if name.startswith("x-ratelimit-reset-"):
            said = parse_go_duration(value) if keep_later else None
            return name, value if said is not None and said >= reset_s else format_go_duration(reset_s)
    elif name.startswith("anthropic-ratelimit-"):
        if name.endswith("-remaining"):
            return name, "0"
        if name.endswith("-reset"):
            said = parse_rfc3339(value) if keep_later else None
            return name, value if said is not None and said >= wall + reset_s else format_rfc3339(wall + reset_s)
    return name, value
