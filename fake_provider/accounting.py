"""Accounting: a finished attempt (what the core knew, what the performer delivered) becomes one
request-log record, at most one ledger entry, and metrics — in one place, once per attempt.

Billing follows delivery (see :mod:`fake_provider.ledger` for the rule): only attempts whose
generation happened (``CallContext.billable``) and whose status line went out are billed, for the
output tokens the performer reports as sent.
"""

from __future__ import annotations

from dataclasses import fields
from decimal import Decimal

from fake_provider.context import CallContext
from fake_provider.ledger import BillingLedger
from fake_provider.metrics import ProviderMetrics
from fake_provider.plan import Delivery, Plan, StreamEnd
from fake_provider.request_log import RequestLog
from harness.pricing import Usage
from harness.records import ProviderRecord
from harness.wire.neutral import ChatCall

__all__ = ["Accounts"]

_ZERO = Decimal(0)

# ProviderRecord is built positionally on the hot path: fail loudly at import if its fields change
_RECORD_FIELDS = (
    "seq", "t", "wall", "client", "client_id", "request_id", "logical_id", "attempt", "api", "model", "stream",
    "status", "prompt_tokens", "max_tokens", "output_tokens", "ttfb_s", "duration_s", "fault", "retry_after_s",
    "error_type", "finish", "cost_usd",
)  # fmt: skip
if tuple(f.name for f in fields(ProviderRecord)) != _RECORD_FIELDS:  # pragma: no cover - a contract change
    raise ImportError("harness.records.ProviderRecord changed its fields; update fake_provider.accounting")


class Accounts:
    """The request log, the billing ledger and the metrics of one provider."""

    __slots__ = ("ledger", "log", "metrics")

    def __init__(self) -> None:
        self.log = RequestLog()
        self.ledger = BillingLedger()
        self.metrics = ProviderMetrics()

    def record(self, ctx: CallContext, plan: Plan, delivery: Delivery) -> ProviderRecord:
        """Log, bill and count one finished attempt; returns its record."""
        seq = self.log.next_seq()
        status = delivery.status
        model = ctx.model
        output = delivery.tokens_sent
        cost = _ZERO
        billed = ctx.billable and status == 200 and model is not None
        if billed and model is not None:
            cost = self.ledger.bill(seq, model.name, ctx.client, Usage(ctx.prompt_tokens, output), model.price)
        if delivery.client_gone:
            finish: str | None = "client_gone"
        elif plan.streamed and plan.end is StreamEnd.CUT:
            finish = "cut"
        else:
            finish = ctx.finish if status == 200 else None
        call = ctx.call
        record = ProviderRecord(  # positional, in field order: this runs once per attempt
            seq,
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
            call.max_tokens if isinstance(call, ChatCall) else None,
            output,
            delivery.ttfb_s,
            delivery.duration_s,
            ctx.fault.name if ctx.fault is not None else None,
            ctx.retry_after_s,
            ctx.error_type,
            finish,
            format(cost, "f") if cost else "0",
        )
        self.log.append(record)
        label = model.name if model is not None else "unknown"
        prompt = ctx.prompt_tokens if billed else 0
        self.metrics.observe(ctx.api, label, status, prompt, output, delivery.duration_s, cost)
        return record

    def clear(self) -> None:
        """A new run: forget every record, bill and count."""
        self.log.clear()
        self.ledger.clear()
        self.metrics.clear()
