"""The reference client's configuration: the ``[client]`` table of a scenario, as frozen objects.

Everything is read once, validated with messages naming the field (``client.models[1].provider:
expected one of "openai", "anthropic", "gemini"; got "azure"``), and never parsed again on the request
path. The format is documented in ``docs/client.md``; a small example::

    [client]
    seed = 7

    [[client.models]]
    name = "gpt-4o-mini"
    provider = "openai"
    api_key_env = "OPENAI_API_KEY"        # or api_key = "sk-fake" for the fake provider
    context_window = 128000
    limits = { rpm = 500, tpm = 200000 }

    [[client.models]]
    name = "claude-haiku-4-5"
    provider = "anthropic"
    accepts_prefill = true

    [client.fallbacks]
    "gpt-4o-mini" = ["claude-haiku-4-5"]

    [client.retry]
    max_attempts = 3

    [client.timeouts]
    first_token_s = 10
    stall_s = 5
    total_s = 60

Secrets: literal keys are kept out of every ``repr`` (``ModelSpec`` shows how many there are, never
what they are); keys named by environment variable are read when the client starts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from harness.client.breaker import BreakerConfig
from harness.client.budget import BudgetRule
from harness.client.degradation import DegradationConfig
from harness.client.limiter import LimitConfig
from harness.client.prompts import Prompts
from harness.client.redis_support import RedisFallback
from harness.client.retry import RetryConfig
from harness.client.semantic_config import SemanticCacheConfig
from harness.errors import ConfigError
from harness.pricing import DEFAULT_PRICES, ModelPrice, PriceTable
from harness.validate import Table

__all__ = [
    "PROVIDERS",
    "CacheConfig",
    "ClientConfig",
    "KeyRotation",
    "ModelSpec",
    "RedisConfig",
    "RetryBudgetConfig",
    "StreamingConfig",
    "ThrottleConfig",
    "Timeouts",
    "TransportConfig",
]

PROVIDERS = ("openai", "anthropic", "gemini")
#: the OpenAI APIs the client speaks: chat completions, or the Responses API
OPENAI_APIS = ("chat", "responses")
#: where each provider lives when a model names no base_url (the runner points models at the fake provider)
DEFAULT_BASE_URLS = {
    "openai": "https://api.openai.com",
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com",
}
#: the environment variable read when a model names no key at all
DEFAULT_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "gemini": "GEMINI_API_KEY"}


def _off_or_positive(t: Table, key: str, default: float | None) -> float | None:
    """A number of seconds > 0, or 0 for "no deadline" (returned as None)."""
    value = t.float(key, default=default, min=0)
    return None if value is None or value == 0 else float(value)


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One model the client may call: which provider serves it, where, with which keys and limits."""

    name: str  # the model name sent to the provider
    provider: str  # "openai", "anthropic" or "gemini": which wire format
    base_url: str | None = None  # server root (``http://127.0.0.1:8080``); None: the provider's public URL
    api_keys: tuple[str, ...] = field(default=(), repr=False)  # literal keys (the fake provider, tests)
    api_key_env: tuple[str, ...] = ()  # environment variables holding keys, read at client start
    context_window: int | None = None  # prompt + max_tokens must fit; None: unknown (the provider decides)
    accepts_prefill: bool = True  # False: never send a conversation ending with an assistant message
    limits: LimitConfig | None = None  # this model's rate limits; None: the client's default [client.limits]
    price: ModelPrice | None = None  # None: the default price table (harness.pricing)
    default_max_tokens: int = 4096  # sent when a request has no max_tokens and the API needs one (Anthropic)
    api_version: str = "v1beta"  # Gemini URL version (v1 or v1beta)
    api: str = "chat"  # OpenAI only: "chat" (chat completions) or "responses" (the Responses API)

    def __post_init__(self) -> None:
        if self.provider not in PROVIDERS:
            raise ConfigError("model.provider", f"expected one of {PROVIDERS}, got {self.provider!r}")
        if self.api not in OPENAI_APIS or (self.api != "chat" and self.provider != "openai"):
            raise ConfigError("model.api", f"expected one of {OPENAI_APIS} (OpenAI models only), got {self.api!r}")

    @property
    def key_count(self) -> int:
        return len(self.api_keys) + len(self.api_key_env)

    @property
    def root_url(self) -> str:
        """The server root: the base_url without a trailing ``/`` or OpenAI's ``/v1``."""
        url = (self.base_url or DEFAULT_BASE_URLS[self.provider]).rstrip("/")
        if self.provider == "openai" and url.endswith("/v1"):
            url = url[:-3]
        return url

    @classmethod
    def parse(cls, data: object, path: str) -> ModelSpec:
        t = Table(data, path)
        name = t.str("name")
        provider = t.choice("provider", PROVIDERS)
        base_url = t.str("base_url", default=None)
        if base_url is not None and not base_url.startswith(("http://", "https://")):
            raise t.error("base_url", f"expected an http:// or https:// URL, got {base_url[:60]!r}")
        keys = t.str_list("api_key", default=())
        key_env = t.str_list("api_key_env", default=())
        price = None
        if t.has("price"):
            pt = t.table("price")
            price = ModelPrice.per_million(
                pt.raw("input"), pt.raw("output"), pt.raw("cached_input", None), pt.raw("cache_write", None),
                pt.raw("cache_write_1h", None), field=pt.path,
            )  # fmt: skip
            pt.done()
        limits = t.raw("limits", default=None)
        api = t.choice("api", OPENAI_APIS, default="chat")
        if api != "chat" and provider != "openai":
            raise t.error("api", f'only OpenAI models speak the {api!r} API; remove it or use provider = "openai"')
        spec = cls(
            name=name,
            provider=provider,
            base_url=base_url,
            api_keys=keys,
            api_key_env=key_env,
            context_window=t.int("context_window", default=None, min=1),
            accepts_prefill=t.bool("accepts_prefill", default=True),
            limits=None if limits is None else LimitConfig.parse(limits, t.field("limits")),
            price=price,
            default_max_tokens=t.int("default_max_tokens", default=4096, min=1),
            api_version=t.choice("api_version", ("v1", "v1beta"), default="v1beta"),
            api=api,
        )
        t.done()
        return spec


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Deadlines, in seconds on the loop clock; None: no such deadline.

    ``connect_s`` bounds opening a connection; ``first_token_s`` bounds an attempt's start to its first
    text token (streams); ``stall_s`` bounds the silence between two stream chunks; ``attempt_s`` bounds
    one attempt, plain or streamed; ``total_s`` bounds the whole logical request (every attempt, wait and
    fallback): no retry is started whose wait would end past it. ``min_send_s``: a request queued by the
    limiter is given up (``DeadlineExceeded``, code ``limiter_wait``) rather than sent with less than
    this left before ``total_s`` — sent that late it would likely be abandoned in flight, after the
    provider had already counted it against the quota.
    """

    connect_s: float | None = 10.0
    first_token_s: float | None = 60.0
    stall_s: float | None = 30.0
    attempt_s: float | None = 600.0
    total_s: float | None = 900.0
    min_send_s: float = 0.0

    def __post_init__(self) -> None:
        if not (isinstance(self.min_send_s, int | float) and math.isfinite(self.min_send_s) and self.min_send_s >= 0):
            raise ConfigError("timeouts.min_send_s", f"expected a number ≥ 0, got {self.min_send_s!r}")
        for name in ("connect_s", "first_token_s", "stall_s", "attempt_s", "total_s"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ConfigError(f"timeouts.{name}", f"expected a number > 0 (or None: no deadline), got {value!r}")

    @classmethod
    def parse(cls, data: object, path: str) -> Timeouts:
        t = Table(data, path)
        result = cls(
            connect_s=_off_or_positive(t, "connect_s", 10.0),
            first_token_s=_off_or_positive(t, "first_token_s", 60.0),
            stall_s=_off_or_positive(t, "stall_s", 30.0),
            attempt_s=_off_or_positive(t, "attempt_s", 600.0),
            total_s=_off_or_positive(t, "total_s", 900.0),
            min_send_s=t.float("min_send_s", 0.0, min=0),
        )
        t.done()
        return result


@dataclass(frozen=True, slots=True)
class StreamingConfig:
    """What happens when a stream breaks after its first token reached the caller.

    ``restart_on_break`` (default on): the client continues on the next model of the chain that
    accepts an assistant prefill, sending the text delivered so far as the prefill; the caller's
    stream goes on from there with nothing repeated and nothing missing, and the answer's text is the
    whole of it. A model that rejects the prefill (configured ``accepts_prefill = false``: skipped
    unsent; or refused by the provider: ``PrefillRejected``) is passed over. When no model can
    continue (a chain of one, every continuation failed, or ``restart_on_break = false``) the request
    ends in :class:`~harness.errors.StreamInterrupted`, which says how much the caller received and
    lists each model's error: a partial answer is never reported as a success.
    """

    restart_on_break: bool = True

    @classmethod
    def parse(cls, data: object, path: str) -> StreamingConfig:
        t = Table(data, path)
        result = cls(restart_on_break=t.bool("restart_on_break", default=True))
        t.done()
        return result


@dataclass(frozen=True, slots=True)
class RetryBudgetConfig:
    """The shared retry budget (gRPC A6 / Finagle): retries ≤ reserve + ratio · requests."""

    ratio: float = 0.1
    reserve: float = 10.0

    @classmethod
    def parse(cls, data: object, path: str) -> RetryBudgetConfig | None:
        t = Table(data, path)
        enabled = t.bool("enabled", default=True)
        result = cls(ratio=t.float("ratio", default=0.1, min=0), reserve=t.float("reserve", default=10.0, min=0))
        t.done()
        return result if enabled else None


@dataclass(frozen=True, slots=True)
class ThrottleConfig:
    """Client-side adaptive throttling (Google SRE book), per model: off unless configured."""

    k: float = 2.0
    window_s: float = 120.0

    @classmethod
    def parse(cls, data: object, path: str) -> ThrottleConfig | None:
        t = Table(data, path)
        enabled = t.bool("enabled", default=True)
        result = cls(k=t.float("k", default=2.0, min=1), window_s=t.float("window_s", default=120.0, min=1))
        t.done()
        return result if enabled else None


@dataclass(frozen=True, slots=True)
class KeyRotation:
    """When a key fails, the next key of the same provider is used; a failed key rests for a while."""

    quota_cooldown_s: float = 60.0  # a key that hit insufficient_quota is not used for this long
    auth_cooldown_s: float = math.inf  # a key refused with 401/403 (inf: for the rest of the run)

    @classmethod
    def parse(cls, data: object, path: str) -> KeyRotation:
        t = Table(data, path)
        auth = t.float("auth_cooldown_s", default=0, min=0)
        result = cls(
            quota_cooldown_s=t.float("quota_cooldown_s", default=60.0, min=0),
            auth_cooldown_s=math.inf if auth == 0 else auth,
        )
        t.done()
        return result


@dataclass(frozen=True, slots=True)
class CacheConfig:
    """The exact-match response cache: off by default; temperature-0 requests only unless told otherwise."""

    enabled: bool = False
    ttl_s: float = 300.0  # an entry older than this is not served
    max_entries: int = 10_000  # least recently used entries are dropped beyond this
    temperature_zero_only: bool = True  # cache only requests with temperature == 0

    @classmethod
    def parse(cls, data: object, path: str) -> CacheConfig:
        t = Table(data, path)
        result = cls(
            enabled=t.bool("enabled", default=True),
            ttl_s=t.float("ttl_s", default=300.0, min=0, exclusive_min=True),
            max_entries=t.int("max_entries", default=10_000, min=1),
            temperature_zero_only=t.bool("temperature_zero_only", default=True),
        )
        t.done()
        return result


@dataclass(frozen=True, slots=True)
class TransportConfig:
    """The aiohttp transport's connection pool."""

    max_connections: int = 256  # open connections in total (0: unlimited)
    max_connections_per_host: int = 0  # per host:port (0: unlimited)
    keepalive_s: float = 30.0  # an idle pooled connection is closed after this long

    @classmethod
    def parse(cls, data: object, path: str) -> TransportConfig:
        t = Table(data, path)
        result = cls(
            max_connections=t.int("max_connections", default=256, min=0),
            max_connections_per_host=t.int("max_connections_per_host", default=0, min=0),
            keepalive_s=t.float("keepalive_s", default=30.0, min=0, exclusive_min=True),
        )
        t.done()
        return result


@dataclass(frozen=True, slots=True)
class RedisConfig:
    """Share the limiters, breakers and budgets of every process using the same ``name`` through Redis."""

    url: str
    name: str = "harness"
    fallback: RedisFallback = field(default_factory=RedisFallback)

    @classmethod
    def parse(cls, data: object, path: str) -> RedisConfig:
        t = Table(data, path)
        url = t.str("url")
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise t.error("url", f"expected a redis:// URL, got {url[:60]!r}")
        name = t.str("name", default="harness")
        rest = {k: v for k, v in t.data.items() if k not in ("url", "name")}
        fallback = RedisFallback.parse(rest, path)
        return cls(url, name, fallback)

    def __repr__(self) -> str:  # a Redis URL may carry a password
        return f"RedisConfig(name={self.name!r}, fallback={self.fallback.mode!r})"


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """Everything the reference client needs; build with :meth:`parse` (TOML) or directly in code."""

    models: tuple[ModelSpec, ...]
    fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    retry: RetryConfig = field(default_factory=RetryConfig)
    retry_budget: RetryBudgetConfig | None = field(default_factory=RetryBudgetConfig)  # None: no budget
    throttle: ThrottleConfig | None = None  # None: no adaptive throttling
    breaker: BreakerConfig | None = field(default_factory=BreakerConfig)  # None: no breaker
    breaker_scope: str = "model"  # "model": one circuit per model; "provider": one per provider
    limits: LimitConfig = field(default_factory=LimitConfig)  # default for models without their own
    budgets: tuple[BudgetRule, ...] = ()
    timeouts: Timeouts = field(default_factory=Timeouts)
    streaming: StreamingConfig = field(default_factory=StreamingConfig)
    key_rotation: KeyRotation = field(default_factory=KeyRotation)
    coalesce: bool = False  # identical in-flight plain requests share one call
    cache: CacheConfig = field(default_factory=CacheConfig)
    semantic_cache: SemanticCacheConfig | None = None  # None: off
    prompts: Prompts = field(default_factory=Prompts)  # named, versioned system prompts
    degradation: DegradationConfig | None = None  # the degradation ladder; None: off
    transport: TransportConfig = field(default_factory=TransportConfig)
    redis: RedisConfig | None = None  # None: every policy in memory
    name: str = "reference"  # the client's name in reports
    client_id: str | None = None  # sent as x-client-id when a request has none
    seed: int = 0  # seeds the jitter of backoff and breaker schedules

    def __post_init__(self) -> None:
        if not self.models:
            raise ConfigError("client.models", "declare at least one model")
        names = [m.name for m in self.models]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise ConfigError(f"client.models[{i}].name", f"model {name!r} is declared twice")
        for primary, chain in self.fallbacks.items():
            for model in (primary, *chain):
                if model not in names:
                    raise ConfigError(
                        f"client.fallbacks.{primary}", f"unknown model {model!r}; declared models: {', '.join(names)}"
                    )
            if primary in chain or len(set(chain)) != len(chain):
                raise ConfigError(f"client.fallbacks.{primary}", "a chain names each model once")
        if self.breaker_scope not in ("model", "provider"):
            raise ConfigError("client.breaker.scope", f'expected "model" or "provider", got {self.breaker_scope!r}')
        prices = self.price_table()
        for i, spec in enumerate(self.models):
            if prices.find(spec.name) is None:
                raise ConfigError(f"client.models[{i}].price", f"required for model {spec.name!r} (no default price)")
        semantic = self.semantic_cache
        if semantic is not None:
            if self.embeddings_model() is None:
                raise ConfigError(
                    "client.semantic_cache.provider",
                    f"no [[client.models]] of provider {semantic.provider!r} to take the base URL and keys from",
                )
            if prices.find(semantic.model) is None:
                what = f"required for model {semantic.model!r} (no default price)"
                raise ConfigError("client.semantic_cache.price", what)
            if semantic.backend == "redis" and self.redis is None:
                raise ConfigError("client.semantic_cache.backend", '"redis" needs a [client.redis] table (its url)')
        ladder = self.degradation
        if ladder is not None:
            if ladder.cheaper_model is not None and ladder.cheaper_model not in names:
                what = f"unknown model {ladder.cheaper_model!r}; declared models: {', '.join(names)}"
                raise ConfigError("client.degradation.cheaper_model", what)
            if ladder.uses_budget and self.ladder_budget() is None:
                what = "degrade_above / static_above need budget_usd or a global [[client.budgets]] with hard_usd"
                raise ConfigError("client.degradation.budget_usd", what)

    def ladder_budget(self) -> Decimal | None:
        """What the degradation ladder's budget shares count against: its budget_usd, else the first
        global hard budget."""
        if self.degradation is not None and self.degradation.budget_usd is not None:
            return self.degradation.budget_usd
        return next((b.hard_usd for b in self.budgets if b.scope == "global" and b.hard_usd is not None), None)

    def model(self, name: str) -> ModelSpec | None:
        for spec in self.models:
            if spec.name == name:
                return spec
        return None

    def embeddings_model(self) -> ModelSpec | None:
        """The model whose base URL and keys the semantic cache's embeddings calls use: the first of its provider."""
        if self.semantic_cache is None:
            return None
        return next((m for m in self.models if m.provider == self.semantic_cache.provider), None)

    def chain(self, name: str) -> tuple[str, ...]:
        """The model itself, then its fallbacks in order."""
        return (name, *self.fallbacks.get(name, ()))

    def price_table(self) -> PriceTable:
        """The default prices with each model's own ``price`` on top."""
        overrides = {m.name: m.price for m in self.models if m.price is not None}
        if self.semantic_cache is not None and self.semantic_cache.price is not None:
            overrides[self.semantic_cache.model] = self.semantic_cache.price
        return PriceTable(dict(DEFAULT_PRICES)).with_overrides(overrides)

    def with_base_url(self, url: str, *, override: bool = False) -> ClientConfig:
        """Point every model without a base_url (every model, with ``override``) at ``url``."""
        models = tuple(m if m.base_url and not override else replace(m, base_url=url) for m in self.models)
        return replace(self, models=models)

    def with_keys(self, *keys: str, override: bool = False) -> ClientConfig:
        """Give every model without keys (every model, with ``override``) these literal keys."""
        models = tuple(
            m if m.key_count and not override else replace(m, api_keys=tuple(keys), api_key_env=()) for m in self.models
        )
        return replace(self, models=models)

    @classmethod
    def parse(cls, data: object, path: str = "client") -> ClientConfig:
        """Read a ``[client]`` table; errors name the field (``client.retry.max_attempts: …``)."""
        t = Table(data, path)
        t.choice("kind", ("reference",), default="reference")  # the runner's client kinds; this one is ours
        models = tuple(ModelSpec.parse(mt.data, mt.path) for mt in t.tables("models"))
        fallbacks: dict[str, tuple[str, ...]] = {}
        ft = t.table("fallbacks", default=None)
        if ft is not None:
            for primary in list(ft.keys()):
                fallbacks[str(primary)] = ft.str_list(primary)
        breaker: BreakerConfig | None = BreakerConfig()
        scope = "model"
        if t.has("breaker"):
            bt = t.table("breaker")
            enabled = bt.bool("enabled", default=True)
            scope = bt.choice("scope", ("model", "provider"), default="model")
            rest = {k: v for k, v in bt.data.items() if k not in ("enabled", "scope")}
            breaker = BreakerConfig.parse(rest, bt.path) if enabled else None
        budget_tables = t.tables("budgets", default=[])
        limits = t.raw("limits", default=None)
        retry = t.raw("retry", default=None)
        client_id = t.str("client_id", default=None)
        config = cls(
            models=models,
            fallbacks=MappingProxyType(fallbacks),
            retry=RetryConfig() if retry is None else RetryConfig.parse(retry, t.field("retry")),
            retry_budget=_optional(t, "retry_budget", RetryBudgetConfig.parse, RetryBudgetConfig()),
            throttle=_optional(t, "throttle", ThrottleConfig.parse, None),
            breaker=breaker,
            breaker_scope=scope,
            limits=LimitConfig() if limits is None else LimitConfig.parse(limits, t.field("limits")),
            budgets=tuple(BudgetRule.parse(bt.data, bt.path) for bt in budget_tables),
            timeouts=_optional(t, "timeouts", Timeouts.parse, Timeouts()),
            streaming=_optional(t, "streaming", StreamingConfig.parse, StreamingConfig()),
            key_rotation=_optional(t, "key_rotation", KeyRotation.parse, KeyRotation()),
            coalesce=_coalesce(t),
            cache=_optional(t, "cache", CacheConfig.parse, CacheConfig()),
            semantic_cache=_optional(t, "semantic_cache", SemanticCacheConfig.parse, None),
            prompts=_optional(t, "prompts", Prompts.parse, Prompts()),
            degradation=_optional(t, "degradation", DegradationConfig.parse, None),
            transport=_optional(t, "transport", TransportConfig.parse, TransportConfig()),
            redis=_optional(t, "redis", RedisConfig.parse, None),
            name=t.str("name", default="reference"),
            client_id=client_id,
            seed=t.int("seed", default=0),
        )
        t.done()
        return config


def _optional(t: Table, key: str, parse: Any, default: Any) -> Any:
    return parse(t.raw(key), t.field(key)) if t.has(key) else default


def _coalesce(t: Table) -> bool:
    if not t.has("coalesce"):
        return False
    value = t.raw("coalesce")
    if isinstance(value, bool):
        return value
    ct = Table(value, t.field("coalesce"))
    enabled: bool = ct.bool("enabled", default=True)
    ct.done()
    return enabled
