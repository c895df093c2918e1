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
``now`` comes from the core's clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.wire import anthropic, openai

__all__ = ["TIERS", "Tier", "TierBook"]

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
            return openai.rate_limit_headers(
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
