"""Building the client under test for a run: the reference client (shared or one per user) or an SDK.

A scenario's ``[client]`` becomes a :class:`~harness.runner.driver.ClientUnderTest` pointed at the
fake provider: in virtual time through an in-memory transport to the provider core (the reference
client's :class:`~harness.runner.memory_transport.MemoryTransport`, an SDK's :class:`CoreTransport`, LiteLLM's respx
router), in real time over sockets to ``base_url``.

``instances = "per_user"`` builds one reference client per simulated user (its own breaker, limiter,
retry budget and, importantly, its own jitter: each is seeded with (seed, user)), the way separate app
instances behave in an outage; they share one transport.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import replace

from fake_provider.core import ProviderCore
from harness.client import ClientConfig, OutcomeLog, ResilientClient
from harness.client.transport import Transport
from harness.client.types import ChatRequest
from harness.clock import Clock, Sleep
from harness.records import OutcomeRecord, PackedRecords
from harness.report.result import ClientEvent
from harness.runner.driver import ClientUnderTest
from harness.runner.memory_transport import MemoryTransport
from harness.scenario.app_spec import AppClientSpec
from harness.scenario.model import Scenario
from harness.scenario.sdk_spec import HARNESS_API_KEY, SDKClientSpec

__all__ = ["HARNESS_API_KEY", "ClientPool", "build_client"]


class ClientPool:
    """One :class:`ResilientClient` per ``client_id`` (per simulated user), created on first use."""

    def __init__(self, make: Callable[[int], ResilientClient], transport: Transport) -> None:
        self._make = make
        self._transport = transport  # shared by every instance; closed once
        self._clients: dict[str, ResilientClient] = {}
        self.name = "reference"

    def _client(self, request: ChatRequest) -> ResilientClient:
        key = request.client_id or ""
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = self._make(len(self._clients))
            self.name = client.name
        return client

    async def call(self, request: ChatRequest) -> bool:
        return await self._client(request).call(request)

    def outcomes(self) -> list[OutcomeRecord]:
        merged = [o for client in self._clients.values() for o in client.outcomes()]
        merged.sort(key=lambda o: (o.t_end, o.id))
        return merged

    def events(self) -> list[ClientEvent]:
        merged = [e for client in self._clients.values() for e in client.events()]
        merged.sort(key=lambda e: e.t)
        return merged

    def state(self) -> str:
        states: dict[str, int] = {}
        for client in self._clients.values():
            for route in client.routes.values():
                state = getattr(route.breaker, "state", None) if route.breaker is not None else "off"
                name = f"{route.name}={state}"
                states[name] = states.get(name, 0) + 1
        return ", ".join(f"{name}×{count}" for name, count in sorted(states.items())) or "idle"

    async def aclose(self) -> None:
        await self._transport.aclose()


def _keys_for_the_fake(config: ClientConfig) -> ClientConfig:
    """The scenario's literal keys stay (a provider with ``allowed_keys`` expects them); a model keyed by
    an environment variable, or not at all, presents :data:`HARNESS_API_KEY` (a real key never reaches
    the fake provider)."""
    models = tuple(replace(m, api_keys=m.api_keys or (HARNESS_API_KEY,), api_key_env=()) for m in config.models)
    return replace(config, models=models)


def build_client(
    scenario: Scenario,
    *,
    base_url: str,
    core: ProviderCore | None,
    clock: Clock,
    sleep: Sleep,
    wall: Clock = time.time,
    outcome_log: Callable[[], OutcomeLog] | None = None,
) -> ClientUnderTest:
    """The client under test; ``core`` given means in-memory transport (virtual time), else sockets.

    ``outcome_log`` makes the outcome log of each reference client (one per user with ``per_user``): a
    runner that ships outcomes as they come (the Locust runner) gives logs with sinks.
    """
    spec = scenario.client
    if isinstance(spec, AppClientSpec):  # the user's app: an SDK-like client under test (before SDKClientSpec)
        from harness.runner.app_client import make_app_client

        return make_app_client(spec, base_url, core, scenario.provider_prices(), clock, sleep, scenario.seed)
    if isinstance(spec, SDKClientSpec):
        from harness.runner.sdk_clients import make_sdk_client  # the SDKs are an optional extra

        apis = {name: m.api for m in scenario.provider.models for name in m.names}
        return make_sdk_client(spec, base_url, core, scenario.provider_prices(), clock, apis)
    config: ClientConfig = _keys_for_the_fake(spec.with_base_url(base_url, override=True))
    transport: Transport
    if core is not None:
        transport = MemoryTransport(core)
    else:
        from harness.client import AiohttpTransport

        transport = AiohttpTransport(config.transport, connect_timeout_s=config.timeouts.connect_s)
    seed = scenario.seed

    def make(index: int) -> ResilientClient:
        # every instance gets its own jitter: one seed for all would re-synchronise the herd
        rng = random.Random((seed << 24) ^ (index * 0x9E3779B1) ^ config.seed)
        log = None if outcome_log is None else outcome_log()
        return ResilientClient(
            config, transport=transport, clock=clock, sleep=sleep, wall=wall, rng=rng, outcome_log=log
        )

    if scenario.instances == "per_user":
        return ClientPool(make, transport)
    return _SharedClient(make(0))


class _SharedClient:
    """One reference client for every user (a single app instance)."""

    def __init__(self, client: ResilientClient) -> None:
        self.client = client
        self.name = client.name

    async def call(self, request: ChatRequest) -> bool:
        return await self.client.call(request)

    def outcomes(self) -> list[OutcomeRecord]:
        return self.client.outcomes()

    def packed_outcomes(self) -> PackedRecords[OutcomeRecord]:
        """The outcomes as the client's log holds them, packed: its sealed blocks shared, not encoded again."""
        return self.client.log.packed_records()

    def events(self) -> list[ClientEvent]:
        return self.client.events()

    def state(self) -> str:
        return self.client.state()

    async def aclose(self) -> None:
        await self.client.aclose()
