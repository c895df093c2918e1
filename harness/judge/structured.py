"""Metrics of structured output and tool calls: how often answers were valid, what re-asking cost.

The reference client with ``[client.structured]`` validates every answer that must be JSON (a
response schema, JSON mode, a forced tool) and re-asks for an invalid one; it reports the verdict on
each ask of a request as a client event ``structured`` named by the request's logical id, detail the
verdicts in order ("invalid_json,valid": the first answer did not parse, the re-ask was valid; an ask
that failed outright is "error"). A re-ask is a logical request of its own whose id is the first
ask's followed by ``.reask1``, ``.reask2`` …, so its outcome (and its cost) is in the outcome log. The
arguments of other answers' tool calls are validated too: a ``tool_calls`` event, one verdict per call.

Formulas (docs/metrics.md): over the structured requests *S* (one per ``structured`` event),

* ``schema_valid_rate`` = |requests whose last verdict is valid| / |S| (what the caller got);
* ``first_answer_valid_rate`` = |requests whose first verdict is valid| / |S| (what the model gave);
* ``reask_rate`` = re-asks / |S| (asks after the first, per request);
* ``reask_cost_usd`` = the client-ledger cost of the re-asks' outcomes (every attempt included), and
  ``reask_cost_share`` = that over the cost of every ask of *S*;
* ``tool_call_validity`` = valid tool calls / tool calls, over the ``tool_calls`` events (the calls
  of answers that did not have to be JSON: a forced tool's arguments are judged, and re-asked, as a
  structured answer).

Every metric is ``None`` when the run has nothing to judge it on (a client that does not report
verdicts, a load without structured requests).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from harness.records import ClientEvent, OutcomeRecord

__all__ = ["REASK_MARK", "STRUCTURED_METRICS", "StructuredTally", "reask_ids", "structured_metrics", "verdict_chains"]

#: what separates a first ask's id from a re-ask's number (harness.client.structured.REASK_SUFFIX)
REASK_MARK = ".reask"
STRUCTURED_METRICS = (
    "structured_requests", "schema_valid_rate", "first_answer_valid_rate", "reask_rate", "reask_cost_usd",
    "reask_cost_share", "tool_calls", "tool_call_validity",
)  # fmt: skip


def verdict_chains(events: Iterable[ClientEvent]) -> dict[str, tuple[str, ...]]:
    """Logical id of each structured request → the verdicts on its asks, in order."""
    return {e.name: tuple(e.detail.split(",")) if e.detail else () for e in events if e.kind == "structured"}


def reask_ids(verdicts: dict[str, tuple[str, ...]]) -> set[str]:
    """The logical ids of every re-ask of the chains (they were not issued by the load)."""
    return {f"{root}{REASK_MARK}{n}" for root, asks in verdicts.items() for n in range(1, len(asks))}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


class StructuredTally:
    """The structured-output metrics in one pass over the outcome log: the verdicts come from the
    events first, then each outcome is :meth:`add`-ed (its cost, when it is an ask of a chain)."""

    __slots__ = ("calls", "chain_cost", "invalid", "reask_cost", "reasks", "verdicts")

    def __init__(self, events: Iterable[ClientEvent]) -> None:
        events = list(events)
        self.verdicts = verdict_chains(events)
        self.reasks = reask_ids(self.verdicts)
        #: structured requests whose last answer was not valid: not a success, even with a 200
        self.invalid = {root for root, asks in self.verdicts.items() if not asks or asks[-1] != "valid"}
        self.calls = [v for e in events if e.kind == "tool_calls" for v in e.detail.split(",") if v]
        self.reask_cost = Decimal(0)
        self.chain_cost = Decimal(0)

    def add(self, outcome: OutcomeRecord) -> None:
        oid = outcome.id
        if oid in self.reasks:
            cost = Decimal(outcome.cost_usd)
            self.reask_cost += cost
            self.chain_cost += cost
        elif oid in self.verdicts:
            self.chain_cost += Decimal(outcome.cost_usd)

    def metrics(self) -> dict[str, object]:
        """The metrics of the module docstring (``reask_cost_usd`` a Decimal: the caller formats money)."""
        verdicts, calls = self.verdicts, self.calls
        n = len(verdicts)
        reasks = sum(max(0, len(asks) - 1) for asks in verdicts.values())
        chain_cost = self.chain_cost
        return {
            "structured_requests": n if n else None,
            "schema_valid_rate": _rate(sum(1 for asks in verdicts.values() if asks and asks[-1] == "valid"), n),
            "first_answer_valid_rate": _rate(sum(1 for asks in verdicts.values() if asks and asks[0] == "valid"), n),
            "reask_rate": _rate(reasks, n),
            "reask_cost_usd": self.reask_cost if n else None,
            "reask_cost_share": round(float(self.reask_cost / chain_cost), 6) if chain_cost else (0.0 if n else None),
            "tool_calls": len(calls) if calls else None,
            "tool_call_validity": _rate(sum(1 for v in calls if v == "valid"), len(calls)),
        }


def structured_metrics(outcomes: Iterable[OutcomeRecord], events: Iterable[ClientEvent]) -> dict[str, object]:
    """The metrics of the module docstring, from the two logs."""
    tally = StructuredTally(events)
    for o in outcomes:
        tally.add(o)
    return tally.metrics()
