"""The fake provider a smoke run compares with: in-process, configured like a documented tier.

``--compare-fake`` runs the same battery against the fake provider. Unless ``--fake-url`` names one
already running (``harness serve``, a test's server with a fault), it is started here, in the run's
event loop, on a free loopback port, with quotas like a new account's first tier so that its answers
carry rate-limit headers as the real ones do: 500 requests and 200,000 tokens per minute
(OpenAI's tier 1 for gpt-4o-mini), 50 requests, 50,000 input and 10,000 output tokens per minute
(Anthropic's tier 1), and 10 requests per minute for Gemini (its free tier; Gemini announces no
limits in headers). Its log stays quiet: the battery's unknown model is on purpose, and the fake's hint on
how to declare a model would only confuse the run's output.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

__all__ = ["FAKE_API_KEY", "TIER_QUOTAS", "running_fake"]

#: the key sent to the fake provider (it accepts any)
FAKE_API_KEY = "fake-provider-smoke"
TIER_QUOTAS: dict[str, dict[str, Any]] = {
    "openai": {"rpm": 500, "tpm": 200_000},
    "anthropic": {"rpm": 50, "itpm": 50_000, "otpm": 10_000},
    "gemini": {"rpm": 10},
}


@asynccontextmanager
async def running_fake(provider: str) -> AsyncIterator[str]:
    """A fake provider for ``provider`` in the running loop; yields its base URL."""
    from fake_provider.app import start
    from fake_provider.config import ProviderConfig
    from fake_provider.core import ProviderCore

    config = ProviderConfig.from_scenario({"provider": {"quotas": TIER_QUOTAS[provider]}})
    core = ProviderCore(config)
    hints = logging.getLogger("fake_provider.models")  # "unknown model …: declare it" (core.py)
    quiet_before, hints.disabled = hints.disabled, True
    runner, port = await start(core, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
        hints.disabled = quiet_before
