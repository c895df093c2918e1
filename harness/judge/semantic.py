"""Semantic-cache metrics: hit rate, money saved, wrong hits (definitions: docs/metrics.md).

A hit is an outcome with ``source = "semantic-cache"``. It names the request whose answer it reused
(``cached_from``). It is **wrong** when the two requests did not ask the same question: the workload
knows which question each request of a paraphrase pool asked (``RunFacts.questions``); a request
outside the pool counts as its own question, so any hit between two of them is wrong too.

**Savings** estimate what the run would have cost without the cache: each hit would have cost about
what the answer it reused cost (the same question, so about the same prompt and answer), and the
cache's own embedding calls are paid either way; ``semantic_cache_savings_usd = Σ cost of the reused
answers − Σ embedding costs`` (negative when the cache costs more than it saves).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

from harness.records import OutcomeRecord, ProviderRecord

__all__ = ["EMBEDDING_APIS", "SEMANTIC_METRICS", "semantic_metrics"]

#: the request log's APIs of embeddings calls (not attempts of a logical request's answer)
EMBEDDING_APIS = frozenset({"openai.embeddings", "gemini.embed", "gemini.batch_embed"})

SEMANTIC_METRICS = (
    "semantic_cache_hits", "semantic_cache_hit_rate", "semantic_cache_wrong_hits", "semantic_cache_savings_usd",
    "embedding_calls", "embedding_cost_usd",
)  # fmt: skip


def semantic_metrics(
    records: Sequence[ProviderRecord],
    outcomes: Sequence[OutcomeRecord],
    questions: Mapping[str, str],
    money: Callable[[Decimal], str],
) -> dict[str, object]:
    """The semantic cache's metrics (``money`` formats a Decimal as the summary does)."""
    hits = [o for o in outcomes if o.source == "semantic-cache"]
    embedding_cost = sum((Decimal(o.embedding_cost_usd) for o in outcomes), Decimal(0))
    embedding_calls = sum(1 for r in records if r.api in EMBEDDING_APIS)
    cost_of = {o.id: Decimal(o.cost_usd) for o in outcomes}
    reused = sum((cost_of.get(o.cached_from or "", Decimal(0)) for o in hits), Decimal(0))
    wrong: int | None = None
    if questions:
        wrong = sum(1 for o in hits if questions.get(o.id, o.id) != questions.get(o.cached_from or "", o.cached_from))
    return {
        "semantic_cache_hits": len(hits),
        "semantic_cache_hit_rate": round(len(hits) / len(outcomes), 6) if outcomes else None,
        "semantic_cache_wrong_hits": wrong,
        "semantic_cache_savings_usd": money(reused - embedding_cost) if embedding_calls or hits else None,
        "embedding_calls": embedding_calls,
        "embedding_cost_usd": money(embedding_cost),
    }
