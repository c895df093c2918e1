"""The ``[client.semantic_cache]`` table: a frozen, validated configuration (off unless declared).

Example::

    [client.semantic_cache]
    model = "text-embedding-3-small"   # the embeddings model (OpenAI or Gemini)
    provider = "openai"                # its API; base URL and keys: the first [[client.models]] of it
    threshold = 0.95                   # serve a cached answer when the cosine is at least this
    ttl_s = 3600                       # an entry older than this is not served
    max_entries = 10000                # beyond this the least recently used entry goes
    backend = "memory"                 # or "redis": shared through [client.redis] (see semantic_store)

See ``docs/semantic-cache.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import ConfigError
from harness.pricing import ModelPrice
from harness.validate import Table

__all__ = ["BACKENDS", "EMBEDDING_PROVIDERS", "SemanticCacheConfig"]

BACKENDS = ("memory", "redis")
EMBEDDING_PROVIDERS = ("openai", "gemini")  # Anthropic has no embeddings API


@dataclass(frozen=True, slots=True)
class SemanticCacheConfig:
    """What the semantic cache embeds with, when it serves, and how much it keeps."""

    model: str = "text-embedding-3-small"
    provider: str = "openai"
    threshold: float = 0.95
    ttl_s: float = 3600.0
    max_entries: int = 10_000
    backend: str = "memory"
    dimensions: int | None = None  # ask the provider for this many dimensions (None: the model's own)
    temperature_zero_only: bool = True  # serve and store only requests with temperature == 0
    timeout_s: float = 10.0  # an embeddings call taking longer is given up (a miss)
    price: ModelPrice | None = None  # the embeddings model's price (None: the default price table)

    def __post_init__(self) -> None:
        where = "client.semantic_cache"
        if not isinstance(self.model, str) or not self.model:
            raise ConfigError(f"{where}.model", f"expected an embeddings model name, got {self.model!r}")
        if self.provider not in EMBEDDING_PROVIDERS:
            raise ConfigError(f"{where}.provider", f"expected one of {EMBEDDING_PROVIDERS}, got {self.provider!r}")
        if not (isinstance(self.threshold, int | float) and 0 < self.threshold <= 1):
            raise ConfigError(f"{where}.threshold", f"expected a cosine in (0, 1], got {self.threshold!r}")
        if not (isinstance(self.ttl_s, int | float) and self.ttl_s > 0):
            raise ConfigError(f"{where}.ttl_s", f"expected a number of seconds > 0, got {self.ttl_s!r}")
        if not (isinstance(self.max_entries, int) and 1 <= self.max_entries <= 1_000_000):
            raise ConfigError(f"{where}.max_entries", f"expected 1 to 1,000,000 entries, got {self.max_entries!r}")
        if self.backend not in BACKENDS:
            raise ConfigError(f"{where}.backend", f"expected one of {BACKENDS}, got {self.backend!r}")
        if self.dimensions is not None and not (isinstance(self.dimensions, int) and 1 <= self.dimensions <= 8192):
            raise ConfigError(f"{where}.dimensions", f"expected 1 to 8192, got {self.dimensions!r}")
        if not (isinstance(self.timeout_s, int | float) and self.timeout_s > 0):
            raise ConfigError(f"{where}.timeout_s", f"expected a number of seconds > 0, got {self.timeout_s!r}")

    @classmethod
    def parse(cls, data: object, path: str) -> SemanticCacheConfig | None:
        """The table, or None when it says ``enabled = false``."""
        t = Table(data, path)
        enabled = t.bool("enabled", default=True)
        price = None
        if t.has("price"):
            pt = t.table("price")
            price = ModelPrice.per_million(pt.raw("input"), pt.raw("output", "0"), field=pt.path)
            pt.done()
        result = cls(
            model=t.str("model", default="text-embedding-3-small"),
            provider=t.choice("provider", EMBEDDING_PROVIDERS, default="openai"),
            threshold=t.float("threshold", default=0.95, min=0, max=1, exclusive_min=True),
            ttl_s=t.float("ttl_s", default=3600.0, min=0, exclusive_min=True),
            max_entries=t.int("max_entries", default=10_000, min=1, max=1_000_000),
            backend=t.choice("backend", BACKENDS, default="memory"),
            dimensions=t.int("dimensions", default=None, min=1, max=8192),
            temperature_zero_only=t.bool("temperature_zero_only", default=True),
            timeout_s=t.float("timeout_s", default=10.0, min=0, exclusive_min=True),
            price=price,
        )
        t.done()
        return result if enabled else None
