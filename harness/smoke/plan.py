"""What a smoke run will do and what it may cost, decided before anything is sent.

:class:`SmokeSettings` is the validated command line; :func:`preflight` is the worst case of the whole
battery — every call answered at its ``max_tokens``, every prompt at the dearest input price with an
allowance for tokens the provider adds (chat templates) — and a run whose worst case passes
``--max-cost-usd`` is refused before the first request. During the run, the client's hard budget
holds the same cap (reserve each attempt's maximum, settle at its actual cost).

Example::

    settings = SmokeSettings.create("openai", max_cost_usd="0.02")
    preflight(settings).total_usd        # Decimal('0.0001...')
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from harness.client.config import PROVIDERS
from harness.client.cost import estimate_max_cost
from harness.errors import ConfigError
from harness.pricing import PriceTable
from harness.tokenizer import count_messages

__all__ = [
    "DEFAULT_MAX_COST_USD",
    "DEFAULT_MODELS",
    "KEY_ENV",
    "PROMPT",
    "PROMPT_ALLOWANCE_TOKENS",
    "UNKNOWN_MODEL",
    "Estimate",
    "SmokeSettings",
    "api_key",
    "preflight",
]

#: the model each provider is smoke-tested with unless --model says otherwise (small and cheap)
DEFAULT_MODELS: Mapping[str, str] = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-haiku-4-5",
    "gemini": "gemini-2.5-flash",
}
#: where each provider's key is read from, in order
KEY_ENV: Mapping[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
}
DEFAULT_MAX_COST_USD = Decimal("0.05")
#: the model name of the request that must fail (404) without costing anything
UNKNOWN_MODEL = "harness-smoke-no-such-model"
#: every call of the battery sends this one short message
PROMPT = (("user", "Reply with the single word: ready"),)
#: prompt tokens a provider may count beyond the harness tokenizer's (chat template, BOS …), per attempt
PROMPT_ALLOWANCE_TOKENS = 64


@dataclass(frozen=True, slots=True)
class SmokeSettings:
    """A smoke run's parameters, validated (errors name the option)."""

    provider: str  # "openai", "anthropic" or "gemini"
    model: str  # the model the battery calls
    max_cost_usd: Decimal = DEFAULT_MAX_COST_USD  # the hard cap of the whole run
    base_url: str | None = None  # None: the provider's public API
    max_tokens: int = 32  # every answer's max_tokens
    burst: int = 4  # the largest concurrent burst (smaller when the announced limits leave less room)
    max_attempts: int = 2  # per call: one retry for a transient failure
    timeout_s: float = 60.0  # one call, every attempt included

    @classmethod
    def create(
        cls,
        provider: str,
        model: str | None = None,
        max_cost_usd: str | float | Decimal | None = None,
        base_url: str | None = None,
        **options: object,
    ) -> SmokeSettings:
        if provider not in PROVIDERS:
            raise ConfigError("--provider", f"expected one of {', '.join(PROVIDERS)}, got {provider!r}")
        cap = DEFAULT_MAX_COST_USD if max_cost_usd is None else _cap(max_cost_usd)
        if base_url is not None and not base_url.startswith(("http://", "https://")):
            raise ConfigError("--base-url", f"expected an http:// or https:// URL, got {base_url[:60]!r}")
        if model is not None and not model.strip():
            raise ConfigError("--model", "expected a model name, got an empty string")
        return cls(provider, model or DEFAULT_MODELS[provider], cap, base_url, **options)  # type: ignore[arg-type]

    @property
    def calls(self) -> int:
        """Logical requests of the battery: plain, streamed, must-fail, and the burst at its largest."""
        return 3 + self.burst


def _cap(value: str | float | Decimal) -> Decimal:
    try:
        cap = Decimal(str(value))
    except InvalidOperation:
        raise ConfigError("--max-cost-usd", f"expected an amount in USD like 0.05, got {value!r}") from None
    if not cap.is_finite() or cap <= 0:
        raise ConfigError("--max-cost-usd", f"expected an amount in USD above 0, got {value!r}")
    return cap


@dataclass(frozen=True, slots=True)
class Estimate:
    """The battery's worst case, and how it was reached."""

    per_call_usd: Decimal  # one call at max_tokens, its prompt with the allowance
    calls: int
    allowance_usd: Decimal  # the prompt allowance of every possible attempt
    total_usd: Decimal

    def sentence(self, settings: SmokeSettings) -> str:
        return (
            f"{self.calls} calls × {settings.max_tokens} output tokens on {settings.model} cost at most "
            f"${_money(self.total_usd)}"
        )


def _money(value: Decimal) -> str:
    return format(value.normalize(), "f")


def prompt_tokens() -> int:
    """The battery prompt's tokens by the harness tokenizer (what the client's budget reserves for)."""
    return count_messages(PROMPT)


def preflight(settings: SmokeSettings, prices: PriceTable | None = None) -> Estimate:
    """The worst case of the battery (ConfigError naming --model when the model has no price)."""
    prices = prices or PriceTable.default()
    if prices.find(settings.model) is None:
        known = ", ".join(sorted(prices))
        raise ConfigError("--model", f"no price for {settings.model!r}, so no cost cap can hold; priced: {known}")
    prompt = prompt_tokens()
    per_call = estimate_max_cost(prices, settings.model, prompt, settings.max_tokens)
    attempts = settings.calls * settings.max_attempts
    allowance = estimate_max_cost(prices, settings.model, PROMPT_ALLOWANCE_TOKENS, 0) * attempts
    return Estimate(per_call, settings.calls, allowance, per_call * settings.calls + allowance)


def api_key(provider: str, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """``(variable, key)`` from the environment; ConfigError naming the variable when none is set."""
    env = os.environ if env is None else env
    names = KEY_ENV[provider]
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return name, value
    wanted = " or ".join(names)
    raise ConfigError("", f"{wanted} is not set: export the {provider} API key as {names[0]} to run the smoke test")
