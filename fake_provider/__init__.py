"""A wire-faithful, seeded, misbehaving fake of the OpenAI, Anthropic and Gemini APIs.

Compose: :class:`ProviderConfig` (models, keys, limits) → :class:`ProviderCore` (sans-I/O: a plan per
request, the request log, the billing ledger) → a performer: :func:`fake_provider.app.start` on a
socket, or :func:`fake_provider.memory.perform` in memory. ``harness serve`` runs it from the shell.
"""

from fake_provider.config import ModelConfig, ProviderConfig, default_models
from fake_provider.core import Exchange, ProviderCore, ProviderRequest
from fake_provider.fault import Fault, FaultSource

__all__ = [
    "Exchange",
    "Fault",
    "FaultSource",
    "ModelConfig",
    "ProviderConfig",
    "ProviderCore",
    "ProviderRequest",
    "default_models",
]
