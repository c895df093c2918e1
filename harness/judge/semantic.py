"""Semantic-cache metrics: hit rate, money saved, wrong hits (definitions: docs/metrics.md).

A hit is an outcome with ``source = "semantic-cache"``. It names the request whose answer it reused
(``cached_from``). It is **wrong** when the two requests did not ask the same question: the workload
knows which question each request of a paraphrase pool asked (``RunFacts.questions``); a request
outside the pool counts as its own question, so any hit between two of them is wrong too.

**Savings** are measured when the runner ran the same scenario and seed with the cache off
(``RunFacts.cache_baseline``): ``semantic_cache_savings_usd`` = the baseline's bill − this run's bill,
both the provider's (every attempt, embeddings included), and ``semantic_cache_savings_share`` that
over the baseline's bill. Without a baseline they are unavailable (None). The **estimate**,
``semantic_cache_savings_estimate_usd``, needs no second run: each hit would have cost about what the
answer it reused cost (the same question, so about the same prompt and answer), and the cache's own
embedding calls are paid either way; ``Σ cost of the reused answers − Σ embedding costs`` (negative
when the cache costs more than it saves). It misses what the cache changes besides the hits (fewer
retries through a brownout, a lighter load on the quota), so it is labelled an estimate everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

from harness.judge.facts import CacheBaseline
from harness.records import OutcomeRecord, ProviderRecord

__all__ = ["EMBEDDING_APIS", "SEMANTIC_METRICS", "SemanticTally", "semantic_metrics"]

#: the request log's APIs of embeddings calls (not attempts of a logical request's answer)
EMBEDDING_APIS = frozenset({"openai.embeddings", "gemini.embed", "gemini.batch_embed"})

SEMANTIC_METRICS = (
    "semantic_cache_hits", "semantic_cache_hit_rate", "semantic_cache_wrong_hits", "semantic_cache_savings_usd",
    "semantic_cache_savings_share", "semantic_cache_savings_estimate_usd", "semantic_cache_baseline",
    "embedding_calls", "embedding_cost_usd",
)  # fmt: skip


class SemanticTally:
    """The semantic cache's numbers gathered while the judge reads the outcome log once (:meth:`add` each
    outcome); only the hits are kept, and the reused answers' costs are looked up in a second read
    of the log when there are hits."""

    __slots__ = ("embedding_cost", "hits", "outcomes")

    def __init__(self) -> None:
        self.hits: list[tuple[str, str | None]] = []  # (id, cached_from) of each semantic-cache hit
        self.embedding_cost = Decimal(0)
        self.outcomes = 0

    def add(self, o: OutcomeRecord) -> None:
        self.outcomes += 1
        self.embedding_cost += Decimal(o.embedding_cost_usd)
        if o.source == "semantic-cache":
            self.hits.append((o.id, o.cached_from))

    def metrics(
        self,
        embedding_calls: int,
        outcomes: Iterable[OutcomeRecord],
        questions: Mapping[str, str],
        money: Callable[[Decimal], str],
        *,
        bill: Decimal | None = None,
        baseline: CacheBaseline | None = None,
    ) -> dict[str, object]:
        """The metrics; ``outcomes`` is the log :meth:`add` saw, read again only when there were hits.

        ``bill``: the provider's bill of this run; ``baseline``: the same run with the cache off
        (both needed for the measured savings)."""
        hits = self.hits
        reused = Decimal(0)
        if hits:
            wanted = {source for _, source in hits if source}
            cost_of = {o.id: Decimal(o.cost_usd) for o in outcomes if o.id in wanted}  # the last one wins
            reused = sum((cost_of.get(source or "", Decimal(0)) for _, source in hits), Decimal(0))
        wrong: int | None = None
        if questions:
            wrong = sum(1 for oid, source in hits if questions.get(oid, oid) != questions.get(source or "", source))
        n = self.outcomes
        saved: Decimal | None = None
        share: float | None = None
        if baseline is not None and bill is not None:
            saved = baseline.cost_provider_usd - bill
            share = round(float(saved / baseline.cost_provider_usd), 6) if baseline.cost_provider_usd else None
        used = embedding_calls or hits
        return {
            "semantic_cache_hits": len(hits),
            "semantic_cache_hit_rate": round(len(hits) / n, 6) if n else None,
            "semantic_cache_wrong_hits": wrong,
            "semantic_cache_savings_usd": None if saved is None else money(saved),
            "semantic_cache_savings_share": share,
            "semantic_cache_savings_estimate_usd": money(reused - self.embedding_cost) if used else None,
            "semantic_cache_baseline": None if baseline is None else baseline.to_dict(money),
            "embedding_calls": embedding_calls,
            "embedding_cost_usd": money(self.embedding_cost),
        }


def semantic_metrics(
    records: Iterable[ProviderRecord],
    outcomes: Iterable[OutcomeRecord],
    questions: Mapping[str, str],
    money: Callable[[Decimal], str],
    baseline: CacheBaseline | None = None,
) -> dict[str, object]:
    """The semantic cache's metrics (``money`` formats a Decimal as the summary does)."""
    tally = SemanticTally()
    for o in outcomes:
        tally.add(o)
    records = list(records)
    bill = sum((Decimal(r.cost_usd) for r in records), Decimal(0))
    calls = sum(1 for r in records if r.api in EMBEDDING_APIS)
    return tally.metrics(calls, outcomes, questions, money, bill=bill, baseline=baseline)
