"""Provider configuration: the models the fake provider serves and how it admits requests.

Built in code (:meth:`ProviderConfig.default`, :class:`ModelConfig`) or read from the ``[provider]``
section of a scenario TOML (:meth:`ProviderConfig.from_table`); the format is documented in
``docs/fake-provider.md``. Example::

    [provider]
    seed = 7
    allowed_keys = ["sk-team-a", "sk-team-b"]     # default: any non-empty key

    [[provider.models]]                            # override a default model's latency …
    name = "gpt-4o-mini"
    ttft = { kind = "lognormal", median = 0.3, p99 = 2.0 }
    inter_chunk = 0.01

    [[provider.models]]                            # … or declare a new one
    name = "claude-no-prefill"
    api = "anthropic"
    price = { input = 3, output = 15 }
    rejects_prefill = true
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from fake_provider.quotas import QuotaConfig
from fake_provider.schedule import FaultSchedule
from harness.catalogue import CatalogueModel, catalogue
from harness.distributions import Distribution
from harness.errors import ConfigError
from harness.pricing import DEFAULT_PRICES, ModelPrice
from harness.validate import Table

__all__ = [
    "APIS",
    "DEFAULT_MAX_BODY_BYTES",
    "SCENARIO_DEFAULT_SEED",
    "ModelConfig",
    "ProviderConfig",
    "default_models",
    "scenario_seed",
]

APIS = ("openai", "anthropic", "gemini")
KINDS = ("chat", "embedding")
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
#: a scenario's seed when it declares none, neither at the top nor in ``[provider]``
SCENARIO_DEFAULT_SEED = 1
#: natural answer length when max_tokens does not cut it: median 120 tokens, 1 % over 600
DEFAULT_OUTPUT_TOKENS = Distribution.lognormal(120, 600)
_ZERO = Distribution.fixed(0.0)


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """One model: which API serves it, its prices, limits, answer lengths and base latency."""

    name: str
    api: str  # "openai" | "anthropic" | "gemini"
    price: ModelPrice
    context_window: int = 128_000  # prompt + max_tokens must fit
    max_output_tokens: int = 16_384  # a larger max_tokens is a 400 (OpenAI, Anthropic) or clamped (Gemini)
    output_tokens: Distribution = DEFAULT_OUTPUT_TOKENS  # natural answer length, drawn per request
    ttft: Distribution = _ZERO  # seconds from arrival to the first token (plain: plus generation)
    inter_chunk: Distribution = _ZERO  # seconds between stream chunks (drawn once per request)
    tokens_per_chunk: int = 1  # output tokens per stream chunk
    kind: str = "chat"  # "chat" or "embedding"
    dimensions: int = 1536  # embedding size
    aliases: tuple[str, ...] = ()  # other names that reach this model (dated snapshots …)
    rejects_prefill: bool = False  # a trailing assistant message is a 400, as on some Anthropic models
    reasoning: bool = False  # a reasoning model: OpenAI reasoning_effort spends hidden reasoning tokens

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


def unknown_model(name: str, api: str, price: ModelPrice, embedding: bool) -> ModelConfig:
    """The model that answers an undeclared name when ``accept_unknown_models`` is on."""
    return ModelConfig(
        name, api, price, kind="embedding" if embedding else "chat", max_output_tokens=1 if embedding else 16_384
    )


def _from_catalogue(model: CatalogueModel) -> ModelConfig:
    embedding = model.kind == "embedding"
    return ModelConfig(
        model.name,
        model.api,
        DEFAULT_PRICES[model.name],
        context_window=model.context_window,
        max_output_tokens=1 if embedding else model.max_output_tokens or 16_384,
        kind=model.kind,
        dimensions=model.dimensions or 1536,
        aliases=model.aliases,
    )


def default_models() -> tuple[ModelConfig, ...]:
    """Every model of the catalogue (``harness/catalogue.json``: current and recent models of the three
    providers, with their dated ids and aliases, published prices and limits)."""
    return tuple(_from_catalogue(m) for m in catalogue())


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """Everything the provider core needs besides its clocks."""

    models: tuple[ModelConfig, ...] = field(default_factory=default_models)
    allowed_keys: frozenset[str] | None = None  # None: any non-empty key is accepted
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES  # larger bodies get a 413
    allow_fault_headers: bool = False  # honour x-fake-status / x-fake-fault (tests only)
    seed: int = 0  # same seed + same request → same answer
    quotas: QuotaConfig | None = None  # provider-side rate limits, in-flight limit, spend cap
    faults: FaultSchedule = field(default_factory=FaultSchedule, hash=False)  # the seeded fault schedule
    #: serve any model name on any API at this price (None: an unknown model is the provider's 404)
    unknown_model_price: ModelPrice | None = None
    #: every answer carries its provider's rate-limit headers, a documented tier's when no quota is
    #: configured (fake_provider.tiers); False: only configured quotas send them
    rate_limit_headers: bool = True

    @classmethod
    def default(cls) -> ProviderConfig:
        return cls()

    def with_models(self, *models: ModelConfig) -> ProviderConfig:
        """A copy with ``models`` added (replacing any model of the same name)."""
        names = {m.name for m in models}
        return replace(self, models=tuple(m for m in self.models if m.name not in names) + tuple(models))

    def with_options(self, **changes: Any) -> ProviderConfig:
        return replace(self, **changes)

    def fingerprint(self) -> str:
        """A short digest of what makes this provider answer as it does: models, keys, limits, quotas, seed.

        The fault schedule is left out (a runner posts its own to ``/_fake/faults``). ``GET
        /_fake/health`` reports it as ``config``, so a runner can tell a server started with another
        scenario from one started with its own.
        """
        fields = (self.models, self.allowed_keys, self.max_body_bytes, self.seed, self.quotas)
        digest = hashlib.sha256(json.dumps(_canonical(fields), separators=(",", ":")).encode())
        return digest.hexdigest()[:16]

    def model_index(self) -> dict[str, ModelConfig]:
        """Every name and alias → model; a name claimed twice is a :class:`ConfigError`."""
        index: dict[str, ModelConfig] = {}
        for model in self.models:
            for name in model.names:
                if name in index:
                    raise ConfigError("provider.models", f"model name {name!r} is declared twice")
                index[name] = model
        return index

    @classmethod
    def from_table(cls, t: Table) -> ProviderConfig:
        """Read a ``[provider]`` table (see the module docstring); unknown keys are errors."""
        seed = t.int("seed", 0)
        keys = t.str_list("allowed_keys", None)
        max_body = t.int("max_body_bytes", DEFAULT_MAX_BODY_BYTES, min=1024)
        allow_faults = t.bool("allow_fault_headers", False)
        use_defaults = t.bool("default_models", True)
        defaults = {m.name: m for m in default_models()} if use_defaults else {}
        declared = [_model_from_table(mt, defaults) for mt in t.tables("models", [])]
        for model in declared:  # a declared alias of a default model becomes a model of its own
            for base in list(defaults.values()):
                if model.name in base.aliases:
                    defaults[base.name] = replace(base, aliases=tuple(a for a in base.aliases if a != model.name))
        models = {**defaults, **{m.name: m for m in declared}}
        if not models:
            raise ConfigError(t.field("models"), "no models: declare at least one or keep default_models = true")
        accept_unknown = t.bool("accept_unknown_models", False)
        tier_headers = t.bool("rate_limit_headers", True)
        unknown_price = (
            _price(t.raw("unknown_model_price"), t.field("unknown_model_price"))
            if t.has("unknown_model_price")
            else None
        )
        if accept_unknown and unknown_price is None:
            raise t.error(
                "unknown_model_price", "required with accept_unknown_models = true: the price to bill them at"
            )
        if unknown_price is not None and not accept_unknown:
            raise t.error("unknown_model_price", "only used with accept_unknown_models = true")
        quota_table = t.table("quotas", None)
        quotas = None if quota_table is None else QuotaConfig.from_table(quota_table, _names_index(models.values()))
        t.done()
        keyset = None if keys is None else frozenset(keys)
        config = cls(
            tuple(models.values()),
            keyset,
            max_body,
            allow_faults,
            seed,
            quotas,
            unknown_model_price=unknown_price,
            rate_limit_headers=tier_headers,
        )
        config.model_index()
        return config

    @classmethod
    def from_scenario(cls, data: Mapping[str, Any]) -> ProviderConfig:
        """The provider of a scenario: its ``[provider]`` table (quotas included) and its ``[[faults]]``.

        As in a run of the scenario, the seed is :func:`scenario_seed`'s: ``harness serve --scenario
        FILE`` answers exactly as the provider of ``harness run FILE``.
        """
        config = cls.from_table(Table(data.get("provider", {}), "provider"))
        config = replace(config, seed=scenario_seed(data))
        if "faults" in data:
            config = replace(config, faults=FaultSchedule.parse(data["faults"], "faults"))
        return config


def scenario_seed(data: Mapping[str, Any]) -> int:
    """The seed of a scenario document: its top-level ``seed``, else ``[provider] seed``, else 1.

    Both :mod:`harness.scenario` (a run) and :meth:`ProviderConfig.from_scenario` (``harness serve
    --scenario``) read it here, so the two agree. Two different seeds in one file are an error.
    """
    top = Table(data, "").int("seed", None, min=0, max=2**63 - 1)
    provider = data.get("provider", {})
    inner = Table(provider, "provider").int("seed", None, min=0, max=2**63 - 1) if isinstance(provider, dict) else None
    if top is not None and inner is not None and top != inner:
        raise ConfigError("provider.seed", f"is {inner} but the scenario's seed is {top}; give the seed once")
    seed = top if top is not None else inner
    return SCENARIO_DEFAULT_SEED if seed is None else seed


def _canonical(value: Any) -> Any:
    """``value`` as JSON-able data whose text is the same in every process (sets sorted, no hash order)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return sorted([str(k), _canonical(v)] for k, v in value.items())
    if isinstance(value, (set, frozenset)):
        return sorted((_canonical(v) for v in value), key=repr)
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _price(value: object, where: str) -> ModelPrice:
    t = Table(value, where)
    price = ModelPrice.per_million(
        t.raw("input"),
        t.raw("output"),
        t.raw("cached_input", None),
        t.raw("cache_write", None),
        t.raw("cache_write_1h", None),
        field=where,
    )
    t.done()
    return price


def _model_from_table(t: Table, defaults: Mapping[str, ModelConfig]) -> ModelConfig:
    name = t.str("name")
    base = defaults.get(name)
    if base is None:  # an alias of a default model starts from that model's figures
        family = next((m for m in defaults.values() if name in m.aliases), None)
        base = None if family is None else replace(family, name=name, aliases=())
    if base is None:
        api = t.choice("api", APIS)
        known_price = DEFAULT_PRICES.get(name)
        if not t.has("price") and known_price is None:
            raise t.error("price", f"required for model {name!r} (it is not in the default price table)")
        base = ModelConfig(name, api, known_price or ModelPrice.per_million(0, 0))
    else:
        base = replace(base, api=t.choice("api", APIS, base.api))
    kind = t.choice("kind", KINDS, base.kind)
    price = _price(t.raw("price"), t.field("price")) if t.has("price") else base.price
    model = ModelConfig(
        name=name,
        api=base.api,
        price=price,
        context_window=t.int("context_window", base.context_window, min=1),
        max_output_tokens=t.int("max_output_tokens", base.max_output_tokens, min=1),
        output_tokens=_dist(t, "output_tokens", base.output_tokens),
        ttft=_dist(t, "ttft", base.ttft),
        inter_chunk=_dist(t, "inter_chunk", base.inter_chunk),
        tokens_per_chunk=t.int("tokens_per_chunk", base.tokens_per_chunk, min=1, max=10_000),
        kind=kind,
        dimensions=t.int("dimensions", base.dimensions, min=1, max=8192),
        aliases=_names(t.str_list("aliases", base.aliases)),
        rejects_prefill=t.bool("rejects_prefill", base.rejects_prefill),
        reasoning=t.bool("reasoning", base.reasoning),
    )
    t.done()
    if kind == "embedding" and model.api == "anthropic":
        raise t.error("kind", "Anthropic has no embeddings API: embedding models are OpenAI or Gemini models")
    return model


def _names_index(models: Iterable[ModelConfig]) -> dict[str, ModelConfig]:
    return {name: m for m in models for name in m.names}


def _dist(t: Table, key: str, default: Distribution) -> Distribution:
    return Distribution.parse(t.raw(key), t.field(key)) if t.has(key) else default


def _names(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))
