"""The semantic cache's Redis backend over a real Redis (no search module needed): shared between
processes' clients, bounded, and a miss — never an error — when Redis is down or restarted."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import redis as redis_sync

from fake_provider import ProviderCore
from harness.client import ResilientClient
from harness.client.config import RedisConfig
from harness.client.limits import LimitConfig
from harness.client.redis_support import RedisFallback, RedisLink, make_redis
from harness.client.semantic_config import SemanticCacheConfig
from harness.client.semantic_store import Entry, RedisVectorStore
from harness.clock import loop_clock
from harness.runner.memory_transport import MemoryTransport
from tests.unit.client.test_client_support import ask, config, provider

pytestmark = pytest.mark.redis

CANCEL = ("How do I cancel my order?", "What's the way to call off my purchase?", "Can I cancel an order?")


def _client(core: ProviderCore, url: str, name: str) -> ResilientClient:
    fallback = RedisFallback(timeout_s=0.3, retry_interval_s=0.5, local_share=1.0)
    cfg = replace(
        config(limits=LimitConfig(learn=False)),  # no limit: the limiter has nothing to hold back without Redis
        redis=RedisConfig(url, name, fallback),
        semantic_cache=SemanticCacheConfig(backend="redis", max_entries=50),
    )
    return ResilientClient(cfg, transport=MemoryTransport(core))


async def test_an_answer_cached_by_one_process_serves_a_paraphrase_in_another(redis_url: str) -> None:
    core = ProviderCore(provider(), clock=loop_clock())
    name = "semcache-shared"
    async with _client(core, redis_url, name) as a, _client(core, redis_url, name) as b:
        first = await a.chat(ask(text=CANCEL[0], temperature=0.0, request_id="a1"))
        hit = await b.chat(ask(text=CANCEL[1], temperature=0.0, request_id="b1"))
        again = await a.chat(ask(text=CANCEL[2], temperature=0.0, request_id="a2"))
    assert (hit.source, hit.cached_from, hit.text) == ("semantic-cache", "a1", first.text)
    assert (again.source, again.cached_from) == ("semantic-cache", "a1")
    assert hit.similarity is not None
    assert hit.similarity >= 0.95
    keys = redis_sync.Redis.from_url(redis_url)
    assert keys.xlen(f"{name}:semcache") == 1  # one answer stored, one stream entry
    assert 0 < keys.pttl(f"{name}:semcache") <= 3_600_000  # expires with the time to live
    keys.close()


async def test_the_stream_is_trimmed_to_about_the_bound(redis_url: str) -> None:
    r = make_redis(redis_url)
    link = RedisLink(r, clock=loop_clock(), fallback=RedisFallback(), source="t", kind="semantic_cache")
    store = RedisVectorStore(link, "semcache-bound", max_entries=100, ttl_s=60)
    rng = np.random.default_rng(1)
    for i in range(600):
        v = rng.standard_normal(8).astype(np.float32)
        assert await store.add(v / np.linalg.norm(v), Entry("s", 0.0, {"i": i}))
    length = await r.xlen("semcache-bound:semcache")
    assert 100 <= length < 300  # MAXLEN ~: trimmed by whole stream nodes
    await store.nearest("s", np.ones(8, dtype=np.float32) / np.sqrt(8), 1.0)
    assert len(store.index) == 100  # each mirror keeps the exact bound
    await r.aclose()


async def test_redis_down_is_a_miss_and_the_request_is_answered() -> None:
    core = ProviderCore(provider(), clock=loop_clock())
    async with _client(core, "redis://127.0.0.1:1/0", "semcache-down") as client:
        answers = [await client.chat(ask(text=t, temperature=0.0)) for t in CANCEL]
    assert [a.source for a in answers] == ["provider"] * 3
    kinds = [e.kind for e in client.events()]
    assert "semantic_cache_fallback" in kinds
    assert all(o.ok for o in client.outcomes())


async def test_a_flushed_redis_loses_entries_but_never_fails_a_request(redis_url: str) -> None:
    core = ProviderCore(provider(), clock=loop_clock())
    async with _client(core, redis_url, "semcache-flush") as client:
        await client.chat(ask(text=CANCEL[0], temperature=0.0))
        mirrored = await client.chat(ask(text=CANCEL[1], temperature=0.0))  # read from the stream, mirrored
        redis_sync.Redis.from_url(redis_url).flushdb()
        after = await client.chat(ask(text=CANCEL[2], temperature=0.0))  # the mirror still holds it
        track = [await client.chat(ask(text=t, temperature=0.0)) for t in ("Track order.", "Can I trace my order?")]
    assert (mirrored.source, after.source) == ("semantic-cache", "semantic-cache")
    assert [t.source for t in track] == ["provider", "semantic-cache"]  # a new stream after the flush
    assert all(o.ok for o in client.outcomes())
