"""Accounting: a finished attempt (what the core knew, what the performer delivered) becomes one
request-log entry, and — folded in later, in batches — at most one ledger entry and its metrics.

Billing follows delivery (see :mod:`fake_provider.ledger` for the rule): only attempts whose
generation happened (``CallContext.billable``) and whose status line went out are billed, for the
output tokens the performer reports as sent.

The request path does as little as possible: :meth:`Accounts.settle` appends one tuple of plain
values to the log. The ledger and the metrics are brought up to date by :meth:`Accounts.fold`, which
every reader of them calls first (their ``sync`` hook): the same work, done in a tight loop instead
of interleaved with the server's, and never stale when read. Amounts stay exact Decimals.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from fake_provider.context import CallContext
from fake_provider.ledger import BillingLedger
from fake_provider.metrics import ProviderMetrics
from fake_provider.plan import Delivery, Plan, StreamEnd
from fake_provider.request_log import BILLED, CACHE, MODEL, RequestLog
from harness.pricing import ModelPrice, Usage
from harness.records import ProviderRecord
from harness.wire.neutral import ChatCall

__all__ = ["Accounts"]


class Accounts:
    """The request log, the billing ledger and the metrics of one provider."""

    __slots__ = ("_folded", "_prices", "ledger", "log", "metrics")

    def __init__(self, prices: Mapping[str, ModelPrice] | None = None) -> None:
        self._prices: dict[str, ModelPrice] = dict(prices or {})  # billed model name → price
        self._folded = 0  # log entries already in the ledger and the metrics
        self.log = RequestLog(self.cost_text)
        self.ledger = BillingLedger(self.fold)
        self.metrics = ProviderMetrics(self.fold)

    def add_price(self, model: str, price: ModelPrice) -> None:
        self._prices[model] = price

    def settle(self, ctx: CallContext, plan: Plan, delivery: Delivery) -> int:
        """Log one finished attempt (billing and metrics follow on the next read); returns its seq."""
        status = delivery.status
        model = ctx.model
        if delivery.client_gone:
            finish: str | None = "client_gone"
        elif plan.streamed and plan.end is StreamEnd.CUT:
            finish = "stalled" if ctx.finish == "stalled" else "cut"
        else:
            finish = ctx.finish if status == 200 else None
        call = ctx.call
        fault = ctx.fault
        return self.log.add(
            (  # ProviderRecord's fields after seq, in order, then the configured model and "billed"
                ctx.arrival,
                ctx.wall,
                ctx.client,
                ctx.client_id,
                ctx.request_id,
                ctx.logical_id,
                ctx.attempt,
                ctx.api,
                ctx.model_name,
                ctx.stream,
                status,
                ctx.prompt_tokens,
                call.max_tokens if isinstance(call, ChatCall) else None,  # ResponsesCall too
                delivery.tokens_sent,
                delivery.ttfb_s,
                delivery.duration_s,
                None if fault is None else fault.name,
                ctx.retry_after_s,
                ctx.error_type,
                finish,
                None if model is None else model.name,
                ctx.billable and status == 200 and model is not None,
                _cache_tuple(ctx),
            )
        )

    def record(self, ctx: CallContext, plan: Plan, delivery: Delivery) -> ProviderRecord:
        """Log one finished attempt and return its record."""
        return self.log.record(self.settle(ctx, plan, delivery))

    def fold(self) -> None:
        """Bring the ledger and the metrics up to date with the log."""
        entries = self.log.entries
        end = len(entries)
        start = self._folded
        if start >= end:
            return
        self._folded = end
        ledger, observe, prices = self.ledger, self.metrics.observe, self._prices
        zero = Decimal(0)
        for seq, entry in enumerate(entries.rows(start, end), start + 1):
            model = entry[MODEL]
            api, status, prompt, output = entry[7], entry[10], entry[11], entry[13]
            if not entry[BILLED]:
                observe(api, "unknown" if model is None else model, status, 0, output, entry[15], zero)
                continue
            extra = entry[CACHE]
            if extra is None:
                cost = ledger.cost(model, prompt, output, prices[model])
                ledger.add_entry(seq, model, entry[2], prompt, 0, output, cost)
            else:
                cached, written, hour, reasoning = extra
                reasoning = min(reasoning, output)
                cost = prices[model].cost(Usage(prompt, output, cached, written, reasoning, hour))
                ledger.add_entry(seq, model, entry[2], prompt, cached, output, cost, written, hour, reasoning)
            observe(api, model, status, prompt, output, entry[15], cost)

    def cost(self, model: str, prompt: int, output: int, extra: tuple[int, int, int, int] | None = None) -> Decimal:
        """The exact cost of an attempt billed on ``model`` (``extra``: its cache and reasoning tokens)."""
        if extra is not None:
            cached, written, hour, reasoning = extra
            return self._prices[model].cost(Usage(prompt, output, cached, written, min(reasoning, output), hour))
        return self.ledger.cost(model, prompt, output, self._prices[model])

    def cost_text(self, model: str, prompt: int, output: int, extra: tuple[int, int, int, int] | None = None) -> str:
        cost = self.cost(model, prompt, output, extra)
        return format(cost, "f") if cost else "0"

    def clear(self) -> None:
        """A new run: forget every record, bill and count."""
        self.log.clear()
        self.ledger.clear()
        self.metrics.clear()
        self._folded = 0


def _cache_tuple(ctx: CallContext) -> tuple[int, int, int, int] | None:
    """(cached, cache writes, of which 1 h, reasoning) tokens of an attempt, or None when all are 0."""
    reasoning = ctx.reply.reasoning_tokens if ctx.reply is not None else 0
    if not (ctx.cached_tokens or ctx.cache_write_tokens or reasoning):
        return None
    return ctx.cached_tokens, ctx.cache_write_tokens, ctx.cache_write_1h_tokens, reasoning
