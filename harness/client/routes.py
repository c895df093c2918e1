"""Routes: each configured model with its adapter, keys and policies, built once when the client starts.

A :class:`Route` is everything the call path needs for one model, resolved ahead of time so that no
request parses configuration: the provider adapter, the URLs, the key ring (shared by the models of
a provider that name the same keys), the rate limiter (one per model: providers limit per model), the
circuit breaker (one per model, or one per provider with ``breaker.scope = "provider"``) and the
adaptive throttle. With ``[client.redis]`` the limiters, breakers and budgets live in Redis, shared by
every process that uses the same ``redis.name``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.client.adapters import Adapter, adapter_for
from harness.client.breaker import Breaker, CircuitBreaker
from harness.client.budget import BudgetLedger, Budgets
from harness.client.config import ClientConfig, ModelSpec
from harness.client.degradation import QuotaGauge
from harness.client.events import EventSink
from harness.client.keys import ApiKey, KeyRing
from harness.client.limiter import Limiter, RateLimiter
from harness.client.retry import AdaptiveThrottle
from harness.clock import Clock

__all__ = ["Route", "build_budgets", "build_routes"]


@dataclass(slots=True)
class Route:
    """One model, ready to call."""

    spec: ModelSpec
    adapter: Adapter
    keys: KeyRing
    limiter: Limiter
    breaker: Breaker | None
    throttle: AdaptiveThrottle | None
    url_plain: str
    url_stream: str
    learns_limits: bool = True  # the limiter hears the provider's rate-limit headers ([client.limits] learn)
    #: the degradation ladder's reading of the quota left (harness.client.degradation); None: not watched
    quota: QuotaGauge | None = field(default=None, compare=False)
    _auth: dict[str, dict[str, str]] = field(default_factory=dict)  # key label → auth headers
    #: the in-memory policies, called synchronously on the hot path (None: call the async protocol)
    sync_limiter: RateLimiter | None = field(init=False, default=None)
    sync_breaker: CircuitBreaker | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.sync_limiter = self.limiter if type(self.limiter) is RateLimiter else None
        self.sync_breaker = self.breaker if type(self.breaker) is CircuitBreaker else None

    def counts_tokens(self) -> bool:
        """Does admission need the prompt's exact token count (a token limit is configured or learned)?

        Counting a long prompt costs tens of µs; without a token limit, settling books the actual usage.
        """
        limiter = self.sync_limiter
        return True if limiter is None else limiter.limits_tokens

    @property
    def name(self) -> str:
        return self.spec.name

    def auth_headers(self, key: ApiKey) -> dict[str, str]:
        headers = self._auth.get(key.label)
        if headers is None:
            headers = self._auth[key.label] = self.adapter.auth(key.secret)
        return headers

    def __repr__(self) -> str:
        return f"Route({self.spec.name!r}, {self.adapter.provider}, keys={len(self.keys.keys)})"


def _redis(config: ClientConfig) -> Any:
    from harness.client.redis_support import redis_client

    assert config.redis is not None
    return redis_client(config.redis.url, config.redis.fallback)


def build_routes(
    config: ClientConfig,
    *,
    clock: Clock,
    rng: random.Random,
    on_event: EventSink,
    env: Mapping[str, str] | None = None,
    redis: Any = None,
) -> dict[str, Route]:
    """A route per configured model (``redis``: the client to use when ``config.redis`` is set)."""
    rings: dict[tuple[object, ...], KeyRing] = {}
    breakers: dict[str, Breaker] = {}
    routes: dict[str, Route] = {}
    shared = config.redis
    if shared is not None and redis is None:
        redis = _redis(config)
    for spec in config.models:
        ring_key = (spec.provider, spec.api_keys, spec.api_key_env)
        ring = rings.get(ring_key)
        if ring is None:
            ring = KeyRing.from_specs(
                [spec], clock=clock, rotation=config.key_rotation, env=env, name=spec.provider, field="client.models"
            )
            rings[ring_key] = ring
        limits = spec.limits or config.limits
        limiter: Limiter
        if shared is None:
            limiter = RateLimiter(limits, clock=clock, name=spec.name)
        else:
            from harness.client.limiter_redis import RedisRateLimiter

            limiter = RedisRateLimiter(
                redis, limits, name=f"{shared.name}:{spec.name}", clock=clock, fallback=shared.fallback,
                on_event=on_event,
            )  # fmt: skip
        breaker = None
        if config.breaker is not None:
            breaker_name = spec.name if config.breaker_scope == "model" else spec.provider
            breaker = breakers.get(breaker_name)
            if breaker is None:
                breaker_rng = random.Random(rng.getrandbits(64))
                if shared is None:
                    breaker = CircuitBreaker(
                        config.breaker, clock=clock, rng=breaker_rng, name=breaker_name, on_event=on_event
                    )
                else:
                    from harness.client.breaker_redis import RedisCircuitBreaker

                    breaker = RedisCircuitBreaker(
                        redis, config.breaker, name=f"{shared.name}:{breaker_name}", clock=clock, rng=breaker_rng,
                        fallback=shared.fallback, on_event=on_event,
                    )  # fmt: skip
                breakers[breaker_name] = breaker
        throttle = None
        if config.throttle is not None:
            throttle = AdaptiveThrottle(clock=clock, k=config.throttle.k, window_s=config.throttle.window_s)
        adapter = adapter_for(spec)
        routes[spec.name] = Route(
            spec, adapter, ring, limiter, breaker, throttle, adapter.url(spec, False), adapter.url(spec, True),
            learns_limits=limits.learn,
        )  # fmt: skip
    return routes


def build_budgets(
    config: ClientConfig, *, clock: Clock, wall: Clock, on_event: EventSink, redis: Any = None
) -> Budgets | None:
    """The budget ledger of ``[[client.budgets]]``, or None when there are no budgets."""
    if not config.budgets:
        return None
    shared = config.redis
    if shared is None:
        return BudgetLedger(config.budgets, clock=clock, wall=wall, on_event=on_event)
    from harness.client.budget_redis import RedisBudgetLedger

    return RedisBudgetLedger(
        redis if redis is not None else _redis(config), config.budgets, name=shared.name, clock=clock, wall=wall,
        fallback=shared.fallback, on_event=on_event,
    )  # fmt: skip
