"""The semantic cache: paraphrases answered from the cache, costed embeddings, bounds, failures as misses."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import numpy as np
import pytest

from harness.client import ClientConfig
from harness.client.semantic_cache import scope_of
from harness.client.semantic_config import SemanticCacheConfig
from harness.client.semantic_store import Entry, VectorIndex
from harness.client.testing import by_model
from harness.errors import ConfigError
from harness.records import OutcomeRecord, dump_jsonl, load_jsonl
from tests.unit.client.test_client_support import KEY, World, ask, config, run

CANCEL = ("How do I cancel my order?", "What's the way to call off my purchase?")
PLAN = "How do I cancel my subscription?"


def semantic(**kw: object) -> ClientConfig:
    return replace(config(), semantic_cache=SemanticCacheConfig(**kw))  # type: ignore[arg-type]


def unit(values: list[float]) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    return v / np.linalg.norm(v)


# -- the in-memory index -----------------------------------------------------------------------
def test_the_index_finds_the_nearest_entry_of_the_same_scope_only() -> None:
    index = VectorIndex(max_entries=10, ttl_s=60)
    index.add("a", unit([1, 0, 0]), Entry("s1", 0.0, {"n": "a"}))
    index.add("b", unit([0, 1, 0]), Entry("s1", 0.0, {"n": "b"}))
    index.add("c", unit([1, 0.1, 0]), Entry("s2", 0.0, {"n": "c"}))
    found = index.nearest("s1", unit([0.9, 0.2, 0]), now=1.0)
    assert found is not None
    assert found[1].payload == {"n": "a"}
    assert found[0] == pytest.approx(float(unit([0.9, 0.2, 0]) @ unit([1, 0, 0])))
    assert index.nearest("s3", unit([1, 0, 0]), now=1.0) is None


def test_the_index_expires_entries_and_evicts_the_least_recently_used() -> None:
    index = VectorIndex(max_entries=2, ttl_s=10)
    index.add("a", unit([1, 0]), Entry("s", 0.0, {"n": "a"}))
    index.add("b", unit([0, 1]), Entry("s", 5.0, {"n": "b"}))
    assert index.nearest("s", unit([1, 0]), now=6.0) is not None  # "a" used: "b" is now the oldest in use
    index.add("c", unit([1, 1]), Entry("s", 6.0, {"n": "c"}))
    assert len(index) == 2
    assert "b" not in index
    assert index.evictions == 1
    found = index.nearest("s", unit([1, 0]), now=10.5)  # "a" (stored at 0) expired at 10
    assert found is not None
    assert found[1].payload == {"n": "c"}
    assert "a" not in index
    for i in range(100):  # slots are reused: the matrix never outgrows the bound
        index.add(f"x{i}", unit([1, i]), Entry("s", 7.0, {}))
    assert len(index) == 2


def test_the_scope_is_everything_but_the_question() -> None:
    a, b = ask(text=CANCEL[0], temperature=0.0), ask(text=CANCEL[1], temperature=0.0)
    assert scope_of(a) == scope_of(b)
    assert scope_of(a) != scope_of(replace(a, max_tokens=9))
    assert scope_of(a) != scope_of(replace(a, model="gpt-4o"))


# -- configuration -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("table", "field"),
    [
        ({"threshold": 0}, "client.semantic_cache.threshold"),
        ({"threshold": 1.5}, "client.semantic_cache.threshold"),
        ({"backend": "disk"}, "client.semantic_cache.backend"),
        ({"provider": "anthropic"}, "client.semantic_cache.provider"),
        ({"ttl_s": 0}, "client.semantic_cache.ttl_s"),
        ({"max_entries": 0}, "client.semantic_cache.max_entries"),
        ({"bogus": 1}, "client.semantic_cache.bogus"),
        ({"backend": "redis"}, "client.semantic_cache.backend"),  # without [client.redis]
        ({"provider": "gemini"}, "client.semantic_cache.provider"),  # no Gemini model to take a key from
        ({"model": "my-embedder"}, "client.semantic_cache.price"),
    ],
)
def test_mistakes_are_refused_naming_the_field(table: dict[str, object], field: str) -> None:
    data = {"models": [{"name": "gpt-4o-mini", "provider": "openai"}], "semantic_cache": table}
    with pytest.raises(ConfigError) as caught:
        ClientConfig.parse(data)
    assert field in str(caught.value)


def test_the_table_is_off_unless_declared_and_can_be_switched_off() -> None:
    models = [{"name": "gpt-4o-mini", "provider": "openai"}]
    assert ClientConfig.parse({"models": models}).semantic_cache is None
    assert ClientConfig.parse({"models": models, "semantic_cache": {"enabled": False}}).semantic_cache is None
    on = ClientConfig.parse({"models": models, "semantic_cache": {"threshold": 0.9, "price": {"input": "0.5"}}})
    assert on.semantic_cache is not None
    assert on.semantic_cache.threshold == 0.9
    assert on.price_table().find("text-embedding-3-small") == on.semantic_cache.price


# -- the client --------------------------------------------------------------------------------
def test_a_paraphrase_is_answered_from_the_cache_at_no_provider_cost() -> None:
    async def body(w: World) -> None:
        first = await w.client.chat(ask(text=CANCEL[0], temperature=0.0, request_id="q1"))
        second = await w.client.chat(ask(text=CANCEL[1], temperature=0.0, request_id="q2"))
        other = await w.client.chat(ask(text=PLAN, temperature=0.0, request_id="q3"))
        assert second.text == first.text
        assert (second.source, second.cached_from, second.cost_usd, second.attempts) == ("semantic-cache", "q1", 0, 0)
        assert second.similarity is not None
        assert second.similarity >= 0.95
        assert other.source == "provider"
        assert other.text != first.text
        apis = [r.api for r in w.records]
        assert apis.count("openai.embeddings") == 3  # every question embedded …
        assert apis.count("openai.chat") == 2  # … the paraphrase never asked
        assert {r.logical_id for r in w.records} == {"q1", "q2", "q3"}  # the embedding call carries the id
        o1, o2, _ = w.client.outcomes()
        assert (o2.source, o2.cached_from, o2.cost_usd) == ("semantic-cache", "q1", "0")
        assert o2.similarity == second.similarity
        assert Decimal(o2.embedding_cost_usd) > 0
        assert o1.source == "provider"
        billed = sum(Decimal(r.cost_usd) for r in w.records)
        spent = sum(Decimal(o.cost_usd) + Decimal(o.embedding_cost_usd) for o in w.client.outcomes())
        assert billed == spent == w.client.cost.total  # embeddings costed exactly
        assert w.client.semantic is not None
        assert (w.client.semantic.hits, w.client.semantic.misses) == (1, 2)

    run(body, semantic())


def test_a_streamed_paraphrase_is_delivered_from_the_cache() -> None:
    async def body(w: World) -> None:
        first = await w.client.chat(ask(text=CANCEL[0], temperature=0.0))
        async with w.client.stream(ask(text=CANCEL[1], temperature=0.0)) as stream:
            text = await stream.text()
        assert text == first.text
        assert stream.response is not None
        assert stream.response.source == "semantic-cache"

    run(body, semantic())


def test_a_threshold_too_low_serves_a_near_miss_the_wrong_answer() -> None:
    async def body(w: World) -> None:
        first = await w.client.chat(ask(text=CANCEL[0], temperature=0.0, request_id="q1"))
        wrong = await w.client.chat(ask(text=PLAN, temperature=0.0, request_id="q2"))
        assert wrong.source == "semantic-cache"
        assert wrong.text == first.text
        assert wrong.similarity is not None
        assert 0.4 < wrong.similarity < 0.7

    run(body, semantic(threshold=0.4))


def test_requests_at_other_temperatures_are_neither_embedded_nor_cached() -> None:
    async def body(w: World) -> None:
        await w.client.chat(ask(text=CANCEL[0], temperature=0.7))
        again = await w.client.chat(ask(text=CANCEL[0], temperature=0.7))
        assert again.source == "provider"
        assert [r.api for r in w.records] == ["openai.chat", "openai.chat"]

    run(body, semantic())


def test_the_ttl_and_the_scope_bound_what_is_served() -> None:
    async def body(w: World) -> None:
        import asyncio

        await w.client.chat(ask(text=CANCEL[0], temperature=0.0))
        other_scope = await w.client.chat(ask(text=CANCEL[1], temperature=0.0, max_tokens=5))
        assert other_scope.source == "provider"
        await asyncio.sleep(31)  # virtual seconds: past the 30 s time to live
        stale = await w.client.chat(ask(text=CANCEL[1], temperature=0.0))
        assert stale.source == "provider"

    run(body, semantic(ttl_s=30), wall=_virtual_wall())


def _virtual_wall():  # type: ignore[no-untyped-def]
    import asyncio

    return lambda: asyncio.get_running_loop().time()


def test_a_failed_embeddings_call_is_a_miss_never_an_error() -> None:
    async def body(w: World) -> None:
        first = await w.client.chat(ask(text=CANCEL[0], temperature=0.0))
        second = await w.client.chat(ask(text=CANCEL[1], temperature=0.0))
        assert first.source == second.source == "provider"
        assert [e.kind for e in w.client.events()] == ["semantic_cache_error", "semantic_cache_error"]
        assert "HTTP 500" in w.client.events()[0].detail
        assert all(o.embedding_cost_usd == "0" for o in w.client.outcomes())
        w.assert_costs_agree()

    fail = by_model({"text-embedding-3-small": {"x-fake-status": "500"}})
    run(body, semantic(), rule=fail)


def test_outcomes_keep_the_new_fields_through_jsonl() -> None:
    record = OutcomeRecord(
        "r",
        True,
        "ok",
        0.0,
        1.0,
        "m",
        source="semantic-cache",
        similarity=0.97,
        cached_from="q",
        embedding_cost_usd="1",
    )
    (back,) = load_jsonl(OutcomeRecord, dump_jsonl([record]))
    assert back == record
    assert json.loads(dump_jsonl([record]))["source"] == "semantic-cache"
    old = {"id": "r", "ok": True, "status": "ok", "t_start": 0, "t_end": 1, "model_requested": "m"}
    (legacy,) = load_jsonl(OutcomeRecord, json.dumps(old))
    assert (legacy.source, legacy.similarity, legacy.embedding_cost_usd) == ("provider", None, "0")
    assert KEY not in dump_jsonl([record])
