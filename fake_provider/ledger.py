"""The billing ledger: what a real invoice would show, in exact :class:`~decimal.Decimal`.

The rule (documented in ``docs/fake-provider.md``):

* a plain response that was sent bills its prompt and its whole output;
* a stream bills its prompt and the output tokens actually sent, once its headers went out: a
  stream cut midway, or one the client abandoned, bills what was sent before the end;
* an embeddings response bills its input tokens;
* a request that failed before generation (any error status, a reset, silence) bills nothing, and
  so does a plain response whose client left before the status line was written.

Totals are kept by model and by key hash, so a run's spend can be split per team or per tenant.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from harness.pricing import ModelPrice, Usage

__all__ = ["BillingLedger", "LedgerEntry", "Totals"]

_ZERO = Decimal(0)


@dataclass(slots=True)  # not frozen: one per request/event on the hot path; treat as read-only
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
        self.requests += 1
        self.input_tokens += usage.input_tokens
        self.cached_input_tokens += usage.cached_input_tokens
        self.output_tokens += usage.output_tokens
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
    """Entries and totals by model and by key; amounts are exact Decimals."""

    __slots__ = ("_costs", "by_key", "by_model", "entries", "total")

    def __init__(self) -> None:
        self.entries: list[LedgerEntry] = []
        self.by_model: dict[str, Totals] = {}
        self.by_key: dict[str, Totals] = {}
        self.total = Totals()
        # memo of the exact cost of (model, usage): pricing is a pure function and load tests repeat shapes
        self._costs: dict[tuple[str, Usage], Decimal] = {}

    def bill(self, seq: int, model: str, client: str, usage: Usage, price: ModelPrice) -> Decimal:
        """Record one billed attempt and return its cost."""
        key = (model, usage)
        cost = self._costs.get(key)
        if cost is None:
            if len(self._costs) > 65_536:
                self._costs.clear()
            cost = self._costs[key] = price.cost(usage)
        self.entries.append(LedgerEntry(seq, model, client, usage, cost))
        totals = self.by_model.get(model)
        if totals is None:
            totals = self.by_model[model] = Totals()
        totals.add(usage, cost)
        totals = self.by_key.get(client)
        if totals is None:
            totals = self.by_key[client] = Totals()
        totals.add(usage, cost)
        self.total.add(usage, cost)
        return cost

    def to_dict(self, entries: bool = False) -> dict[str, Any]:
        """The ``GET /_fake/ledger`` document; with ``entries`` every billed attempt too."""
        out: dict[str, Any] = {
            "total": self.total.to_dict(),
            "by_model": {m: t.to_dict() for m, t in sorted(self.by_model.items())},
            "by_key": {k: t.to_dict() for k, t in sorted(self.by_key.items())},
        }
        if entries:
            out["entries"] = [
                {"seq": e.seq, "model": e.model, "client": e.client, **e.usage.to_dict(), "cost_usd": f"{e.cost_usd:f}"}
                for e in self.entries
            ]
        return out

    def clear(self) -> None:
        self._costs = {}
        self.entries = []
        self.by_model = {}
        self.by_key = {}
        self.total = Totals()

    def __repr__(self) -> str:
        return f"BillingLedger(entries={len(self.entries)}, total_usd={self.total.cost_usd})"
