"""A wire-faithful, seeded, misbehaving fake of the OpenAI, Anthropic and Gemini APIs.

Compose: :class:`ProviderConfig` (models, keys, limits, :class:`QuotaConfig`, a :class:`FaultSchedule`)
→ :class:`ProviderCore` (sans-I/O: a plan per request, the request log, the billing ledger) → a
performer: :func:`fake_provider.app.start` on a socket, or :func:`fake_provider.memory.perform` in
memory. ``harness serve`` runs it from the shell; ``docs/fake-provider.md`` and ``docs/faults.md``
describe it.
"""

from fake_provider.config import ModelConfig, ProviderConfig, default_models
from fake_provider.context import FaultSource
from fake_provider.core import Exchange, ProviderCore, ProviderRequest
from fake_provider.fault import Fault
from fake_provider.fault_spec import FaultSpec
from fake_provider.quotas import Limits, QuotaConfig
from fake_provider.schedule import FaultSchedule

__all__ = [
    "Exchange",
    "Fault",
    "FaultSchedule",
    "FaultSource",
    "FaultSpec",
    "Limits",
    "ModelConfig",
    "ProviderConfig",
    "ProviderCore",
    "ProviderRequest",
    "QuotaConfig",
    "default_models",
]
