"""The billing ledger: what a real invoice would show, in exact :class:`~decimal.Decimal`.

The rule (documented in ``docs/fake-provider.md``):

* a plain response that was sent bills its prompt and its whole output;
* a stream bills its prompt and the output tokens actually sent, once its headers went out: a
  stream cut midway, or one the client abandoned, bills what was sent before the end;
* an embeddings response bills its input tokens;
* a request that failed before generation (any error status, a reset, silence) bills nothing, and
  so does a plain response whose client left before the status line was written.

Totals are kept by model and by key hash, so a run's spend can be split per team or per tenant.
The provider's accounts fold finished attempts into the ledger in batches, off the request path:
every read (``total``, ``by_model``, ``by_key``, ``entries``, :meth:`BillingLedger.to_dict`) first
brings it up to date through its ``sync`` hook, so a reader never sees a stale amount.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from harness.packed_rows import PackedRows
from harness.pricing import ModelPrice, Usage

__all__ = ["BillingLedger", "LedgerEntry", "Totals"]

_ZERO = Decimal(0)


def _nothing() -> None:
    return None


@dataclass(slots=True)  # not frozen: built on read; treat as read-only
class LedgerEntry:
    """One billed attempt."""

    seq: int  # the request-log record it belongs to
    model: str
    client: str  # key hash ("key:…") or "anonymous"
    usage: Usage
    cost_usd: Decimal


@dataclass(slots=True)
class Totals:
    """Running totals for one model or one key."""

    requests: int = 0
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = _ZERO

    def add(self, usage: Usage, cost: Decimal) -> None:
        self.add_tokens(usage.input_tokens, usage.cached_input_tokens, usage.output_tokens, cost)

    def add_tokens(self, input_tokens: int, cached: int, output: int, cost: Decimal) -> None:
        self.requests += 1
        self.input_tokens += input_tokens
        self.cached_input_tokens += cached
        self.output_tokens += output
        self.cost_usd += cost

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "input_tokens": self.input_tokens,
            "cached_input_tokens": self.cached_input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": format(self.cost_usd, "f"),
        }


class BillingLedger:
    """Entries and totals by model and by key; amounts are exact Decimals.

    ``sync`` is called before every read (the provider's accounts fold pending attempts in).
    """

    __slots__ = ("_by_key", "_by_model", "_costs", "_entries", "_sync", "_total")

    def __init__(self, sync: Callable[[], None] = _nothing) -> None:
        self._sync = sync
        # (seq, model, client, input, cached, output, cost as str(Decimal), cache writes, of which 1 h, reasoning):
        # rows of plain values, packed as they come (a run bills hundreds of thousands of attempts)
        self._entries = PackedRows()
        self._by_model: dict[str, Totals] = {}
        self._by_key: dict[str, Totals] = {}
        self._total = Totals()
        # memo of the exact cost of (model, input, output): pricing is pure and load tests repeat shapes
        self._costs: dict[tuple[str, int, int], Decimal] = {}

    # -- writing ---------------------------------------------------------------------------------
    def cost(self, model: str, input_tokens: int, output_tokens: int, price: ModelPrice) -> Decimal:
        """The exact cost of a prompt and an output on ``model`` (memoised)."""
        key = (model, input_tokens, output_tokens)
        cost = self._costs.get(key)
        if cost is None:
            if len(self._costs) > 65_536:
                self._costs.clear()
            cost = self._costs[key] = price.cost(Usage(input_tokens, output_tokens))
        return cost

    def bill(self, seq: int, model: str, client: str, usage: Usage, price: ModelPrice) -> Decimal:
        """Record one billed attempt and return its cost."""
        if usage.cached_input_tokens or usage.cache_write_tokens:
            cost = price.cost(usage)
        else:
            cost = self.cost(model, usage.input_tokens, usage.output_tokens, price)
        self.add_entry(
            seq, model, client, usage.input_tokens, usage.cached_input_tokens, usage.output_tokens, cost,
            usage.cache_write_tokens, usage.cache_write_1h_tokens, usage.reasoning_tokens,
        )  # fmt: skip
        return cost

    def add_entry(
        self,
        seq: int,
        model: str,
        client: str,
        input_tokens: int,
        cached: int,
        output: int,
        cost: Decimal,
        written: int = 0,
        written_1h: int = 0,
        reasoning: int = 0,
    ) -> None:
        """Record one billed attempt whose cost is known."""
        text = str(cost)  # reads back exactly (digits, exponent and sign)
        self._entries.append((seq, model, client, input_tokens, cached, output, text, written, written_1h, reasoning))
        totals = self._by_model.get(model)
        if totals is None:
            totals = self._by_model[model] = Totals()
        totals.add_tokens(input_tokens, cached, output, cost)
        totals = self._by_key.get(client)
        if totals is None:
            totals = self._by_key[client] = Totals()
        totals.add_tokens(input_tokens, cached, output, cost)
        self._total.add_tokens(input_tokens, cached, output, cost)

    # -- reading ---------------------------------------------------------------------------------
    @property
    def total(self) -> Totals:
        self._sync()
        return self._total

    @property
    def by_model(self) -> dict[str, Totals]:
        self._sync()
        return self._by_model

    @property
    def by_key(self) -> dict[str, Totals]:
        self._sync()
        return self._by_key

    @property
    def entries(self) -> list[LedgerEntry]:
        """Every billed attempt, oldest first (built on read)."""
        self._sync()
        return [
            LedgerEntry(s, m, c, Usage(i, o, cached, w, r, w1), Decimal(cost))
            for s, m, c, i, cached, o, cost, w, w1, r in self._entries
        ]

    def spent(self, client: str) -> Decimal:
        """What the key ``client`` ("key:…") was billed so far."""
        self._sync()
        totals = self._by_key.get(client)
        return _ZERO if totals is None else totals.cost_usd

    def to_dict(self, entries: bool = False) -> dict[str, Any]:
        """The ``GET /_fake/ledger`` document; with ``entries`` every billed attempt too."""
        self._sync()
        out: dict[str, Any] = {
            "total": self._total.to_dict(),
            "by_model": {m: t.to_dict() for m, t in sorted(self._by_model.items())},
            "by_key": {k: t.to_dict() for k, t in sorted(self._by_key.items())},
        }
        if entries:
            out["entries"] = [
                {"seq": e.seq, "model": e.model, "client": e.client, **e.usage.to_dict(), "cost_usd": f"{e.cost_usd:f}"}
                for e in self.entries
            ]
        return out

    def clear(self) -> None:
        self._costs = {}
        self._entries = PackedRows()
        self._by_model = {}
        self._by_key = {}
        self._total = Totals()

    def __repr__(self) -> str:
        return f"BillingLedger(entries={len(self._entries)}, total_usd={self._total.cost_usd})"
