"""Shared set-up for the reference client's tests (no tests here): a fake provider core in memory, virtual time."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, TypeVar

from fake_provider import ModelConfig, ProviderConfig, ProviderCore
from harness import vtime
from harness.client import (
    BreakerConfig,
    ClientConfig,
    ModelSpec,
    ResilientClient,
    RetryConfig,
    Timeouts,
    fixed,
    full_jitter,
)
from harness.client.testing import HeaderRule, InjectHeaders
from harness.client.transport import Transport
from harness.client.types import ChatRequest, Message
from harness.clock import loop_clock
from harness.distributions import Distribution
from harness.pricing import ModelPrice
from harness.records import ProviderRecord
from harness.runner.memory_transport import MemoryTransport

_T = TypeVar("_T")

KEY = "sk-test"
#: a model that rejects an assistant prefill, and one with a tiny context window
NO_PREFILL = ModelConfig("claude-no-prefill", "anthropic", ModelPrice.per_million(3, 15), rejects_prefill=True)
TINY = ModelConfig("tiny", "openai", ModelPrice.per_million(1, 2), context_window=40)
SLOW = ModelConfig(
    "slow", "openai", ModelPrice.per_million(1, 2), ttft=Distribution.fixed(0.05), inter_chunk=Distribution.fixed(1.0)
)


def provider(**options: Any) -> ProviderConfig:
    return ProviderConfig(allow_fault_headers=True, **options).with_models(NO_PREFILL, TINY, SLOW)


def spec(name: str, provider_name: str | None = None, **kw: Any) -> ModelSpec:
    known = {"gpt-4o-mini": "openai", "gpt-4o": "openai", "claude-haiku-4-5": "anthropic", "tiny": "openai"}
    known |= {"claude-no-prefill": "anthropic", "gemini-2.5-flash": "gemini", "slow": "openai"}
    prices = {"tiny": ModelPrice.per_million(1, 2), "claude-no-prefill": ModelPrice.per_million(3, 15)}
    prices["slow"] = ModelPrice.per_million(1, 2)
    kw.setdefault("api_keys", (KEY,))
    kw.setdefault("price", prices.get(name))
    return ModelSpec(name, provider_name or known[name], **kw)


def config(*models: ModelSpec | str, **kw: Any) -> ClientConfig:
    specs = tuple(m if isinstance(m, ModelSpec) else spec(m) for m in models) or (spec("gpt-4o-mini"),)
    kw.setdefault("retry", RetryConfig(max_attempts=3, backoff=full_jitter(0.1, 1.0)))
    kw.setdefault("timeouts", Timeouts(connect_s=1, first_token_s=2, stall_s=1, attempt_s=5, total_s=30))
    kw.setdefault("breaker", BreakerConfig(consecutive_failures=50, failure_rate=None, open_backoff=fixed(5)))
    return ClientConfig(models=specs, **kw)


def ask(model: str = "gpt-4o-mini", text: str = "hello there", **kw: Any) -> ChatRequest:
    kw.setdefault("max_tokens", 8)
    return ChatRequest(model, (Message("user", text),), **kw)


@dataclass
class World:
    """One fake provider core and one client on it, in virtual time."""

    core: ProviderCore
    client: ResilientClient
    transport: Transport
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def records(self) -> list[ProviderRecord]:
        """The provider's records in arrival order (a server logs in the order attempts *finish*)."""
        return sorted(self.core.log.since(0), key=lambda r: (r.t, r.attempt))

    async def settled(self, count: int, *, within_s: float = 5.0) -> list[ProviderRecord]:
        """The provider's records once it logged ``count`` attempts (a server logs an abandoned
        attempt when it notices; in memory that is at once). Waits in real time, bounded."""
        loop = asyncio.get_running_loop()
        give_up = time.monotonic() + within_s
        while len(self.core.log) < count and time.monotonic() < give_up:
            if isinstance(loop, vtime.VirtualTimeLoop):
                await asyncio.sleep(0.001)
            else:
                await asyncio.sleep(0.01)
        return self.records

    def ledger_total(self) -> Decimal:
        return Decimal(self.core.ledger_dict()["total"]["cost_usd"])

    def billed_by_logical_id(self) -> Mapping[str | None, Decimal]:
        out: defaultdict[str | None, Decimal] = defaultdict(Decimal)
        for r in self.records:
            out[r.logical_id] += Decimal(r.cost_usd)
        return out

    def assert_costs_agree(self) -> None:
        """The client's ledger equals the provider's, in total and per logical request."""
        assert self.client.cost.total == self.ledger_total()
        billed = self.billed_by_logical_id()
        for outcome in self.client.outcomes():
            assert Decimal(outcome.cost_usd) == billed.get(outcome.id, Decimal(0)), outcome


def run(
    body: Callable[[World], Awaitable[_T]],
    client_config: ClientConfig | None = None,
    *,
    rule: HeaderRule | None = None,
    provider_config: ProviderConfig | None = None,
    wrap: Callable[[Transport], Transport] | None = None,
    **client_options: Any,
) -> _T:
    """Run ``body`` in virtual time with a fresh core and client (``rule`` injects test headers)."""

    async def main() -> _T:
        core = ProviderCore(provider_config or provider(), clock=loop_clock())
        transport: Transport = MemoryTransport(core)
        if rule is not None:
            transport = InjectHeaders(transport, rule)
        if wrap is not None:
            transport = wrap(transport)
        cfg = client_config or config()
        async with ResilientClient(replace(cfg), transport=transport, **client_options) as client:
            return await body(World(core, client, transport))

    return vtime.run(main())
