"""The outcome log: exactly one terminal record per logical request, plus the client's events.

The client writes one :class:`~harness.records.OutcomeRecord` per logical request — success, error,
or cancellation — with every attempt inside (:class:`~harness.records.AttemptRecord`). That is the
judge's second source of truth, next to the provider's request log. Policy events (breaker state
changes, budget warnings, Redis fallbacks) and the client's own key rotations become
:class:`~harness.report.result.ClientEvent` rows::

    breaker.state       → kind "breaker",      name the breaker,  detail "closed→open"
    budget.soft_limit   → kind "budget_soft",  name rule=entity,  detail "spent 4.02 of 4 USD"
    budget.hard_limit   → kind "budget_hard"
    key rotation        → kind "key_rotated",  name the provider, detail "quota: key:1a2b… → key:9f8e…"
    anything else       → its kind with "." replaced by "_" (budget_overrun, limiter_fallback …)

For Prometheus, :meth:`OutcomeLog.prometheus_text` renders counters kept as records arrive
(requests by model and status, attempts, tokens, cost, a latency histogram, events by kind).

Example::

    log = OutcomeLog()
    client = ResilientClient(config, outcome_log=log)
    ...
    Path("outcomes.jsonl").write_text(log.jsonl())
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import astuple, fields
from decimal import Decimal

from harness.client.events import PolicyEvent
from harness.client.logical import OutcomeRow, record_of
from harness.packed_rows import PackedRows
from harness.records import AttemptRecord, ClientEvent, OutcomeRecord, PackedRecords, dump_jsonl

_ATTEMPTS = tuple(f.name for f in fields(OutcomeRecord)).index("attempts")  # where a row holds them
_WIDTH = len(fields(OutcomeRecord))  # the values of a whole row
_ATTEMPT_WIDTH = len(fields(AttemptRecord))  # the values of a whole attempt row

__all__ = ["OutcomeLog", "client_event"]

#: latency histogram bounds, seconds
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
_KINDS = {"breaker.state": "breaker", "budget.soft_limit": "budget_soft", "budget.hard_limit": "budget_hard"}


def client_event(event: PolicyEvent) -> ClientEvent:
    """A policy event as a report row (never carries a secret: policies only name their sources)."""
    kind = _KINDS.get(event.kind, event.kind.replace(".", "_"))
    data = event.data
    if event.kind == "breaker.state":
        detail = f"{data.get('from')}→{data.get('to')}"  # exactly this: the report reads the state after "→"
    elif event.kind.startswith("budget.") and "limit_usd" in data:
        detail = f"spent {data.get('spent_usd')} of {data.get('limit_usd')} USD"
    elif event.kind == "budget.overrun":
        detail = f"reserved {data.get('reserved_usd')}, actual {data.get('actual_usd')} USD"
    else:
        detail = str(data.get("reason", "")) or ", ".join(f"{k}={v}" for k, v in sorted(data.items()))
    return ClientEvent(event.at, kind, event.source, detail)


class OutcomeLog:
    """Outcome records and client events, kept in order, with running counters for Prometheus.

    Records are kept as flat rows in :class:`~harness.packed_rows.PackedRows`: every 256 of them
    marshalled and compressed into one ``bytes``, which the cyclic garbage collector never sees (a load
    test keeps millions of them; kept as tuples they would each count as new container objects, and
    at 64 requests in flight every 120 or so of them start a young-generation collection that walks
    every in-flight request's objects), at about 60 bytes a record. A block marshal cannot pack (an
    exotic value given to :meth:`write`) is kept as its rows. :attr:`records` materialises them on read;
    :meth:`packed_records` hands them over still packed.
    """

    def __init__(self, *, keep: bool = True, sinks: Iterable[Callable[[OutcomeRecord], None]] = ()) -> None:
        self.keep = keep  # keep every record in memory (the judge needs them); False: counters and sinks only
        self.sinks = list(sinks)  # called with each record as it is written (a file writer, a queue …)
        self.events: list[ClientEvent] = []
        self._rows = PackedRows()  # see the class docstring
        self._models: dict[str, _ModelCounters] = {}  # per model: requests, attempts, tokens, cost
        self._latency = [0] * (len(LATENCY_BUCKETS) + 1)  # per bucket, the last one for +Inf
        self._latency_sum = 0.0
        self._event_kinds: Counter[str] = Counter()
        self.ids: set[str] = set()  # logical ids written, to refuse a second terminal record
        self._whole = True  # every row kept holds every field (and every attempt row every field of its)

    @property
    def records(self) -> list[OutcomeRecord]:
        """Every record kept, in the order written (built on each read)."""
        return [record_of(row) for row in self._rows]

    def write(self, record: OutcomeRecord, cost: Decimal | None = None) -> None:
        """Add the terminal record of a logical request; a second record for the same id is a bug."""
        values = [getattr(record, f.name) for f in fields(record)]
        values[_ATTEMPTS] = tuple(astuple(a) for a in record.attempts)
        row = tuple(values)
        self.append(row, cost, record)

    def append(self, row: OutcomeRow, cost: Decimal | None = None, record: OutcomeRecord | None = None) -> None:
        """Add a terminal record given as a row (OutcomeRecord's fields in order, attempts as tuples).

        ``cost``: the row's ``cost_usd`` as a Decimal when the caller has it (saves parsing it).
        """
        logical_id = row[0]
        if logical_id in self.ids:
            raise RuntimeError(f"a second terminal outcome for logical request {logical_id!r}")
        self.ids.add(logical_id)
        if self.keep:
            self._rows.append(row)
            if len(row) != _WIDTH:
                self._whole = False
        model = row[6] or row[5]
        models = self._models
        counters = models.get(model)
        if counters is None:
            counters = models[model] = _ModelCounters()
        requests = counters.requests
        requests[row[2]] = requests.get(row[2], 0) + 1
        for attempt in row[_ATTEMPTS]:
            if len(attempt) != _ATTEMPT_WIDTH:
                self._whole = False
            per = counters if attempt[3] == model else models.get(attempt[3])
            if per is None:
                per = models[attempt[3]] = _ModelCounters()
            per.attempts[attempt[4]] = per.attempts.get(attempt[4], 0) + 1
        if row[14]:
            counters.input_tokens += row[14]
        if row[15]:
            counters.output_tokens += row[15]
        if row[17] != "0":
            counters.cost_usd = counters.cost_usd + (Decimal(row[17]) if cost is None else cost)
            counters.charged = True
        latency = row[4] - row[3]
        self._latency[bisect.bisect_left(LATENCY_BUCKETS, latency)] += 1
        self._latency_sum += latency
        if self.sinks:
            made = record if record is not None else record_of(row)
            for sink in self.sinks:
                sink(made)

    def packed_records(self) -> PackedRecords[OutcomeRecord]:
        """Every record kept, in the order written, as :class:`~harness.records.PackedRecords` that share
        this log's sealed blocks (not copied, not encoded again: the rows the log packed are the rows
        such a log packs for their records). Records appended to this log later are not in it.

        A row given to :meth:`append` short of a field (the record takes the field's default) is not
        the row its record packs to; a log holding one hands over its records packed anew instead.
        """
        packed = PackedRecords(OutcomeRecord)
        if self._whole:
            packed.adopt_rows(self._rows)
        else:
            packed.extend(self)
        return packed

    def event(self, event: ClientEvent) -> None:
        self.events.append(event)
        self._event_kinds[event.kind] += 1

    def policy_event(self, event: PolicyEvent) -> None:
        """An :class:`~harness.client.events.EventSink`: policies report here."""
        self.event(client_event(event))

    def jsonl(self) -> str:
        """The outcome records as JSON lines (``harness.records.load_jsonl`` reads them back)."""
        return dump_jsonl(self.records)

    def __iter__(self) -> Iterator[OutcomeRecord]:
        return (record_of(row) for row in self._rows.rows(0, len(self._rows)))

    def events_jsonl(self) -> str:
        import json

        return "".join(
            json.dumps({"t": e.t, "kind": e.kind, "name": e.name, "detail": e.detail}, ensure_ascii=False) + "\n"
            for e in self.events
        )

    def prometheus_text(self, prefix: str = "harness_client") -> str:
        """Counters in the Prometheus text format 0.0.4."""
        lines: list[str] = []

        def family(name: str, kind: str, help_text: str) -> None:
            lines.append(f"# HELP {prefix}_{name} {help_text}")
            lines.append(f"# TYPE {prefix}_{name} {kind}")

        models = sorted(self._models.items())
        family("requests_total", "counter", "Logical requests by the model that answered (or was asked) and status.")
        for model, counters in models:
            for status, n in sorted(counters.requests.items()):
                lines.append(f'{prefix}_requests_total{{model="{_label(model)}",status="{_label(status)}"}} {n}')
        family("attempts_total", "counter", "Attempts by model and HTTP status (0: transport failure or deadline).")
        for model, counters in models:
            for code, n in sorted(counters.attempts.items()):
                lines.append(f'{prefix}_attempts_total{{model="{_label(model)}",code="{code}"}} {n}')
        family("tokens_total", "counter", "Tokens of answered requests by model and kind.")
        for model, counters in models:
            for kind, n in (("input", counters.input_tokens), ("output", counters.output_tokens)):
                if n:
                    lines.append(f'{prefix}_tokens_total{{model="{_label(model)}",kind="{kind}"}} {n}')
        family("cost_usd_total", "counter", "What the client's ledger charged, by model, in USD.")
        for model, counters in models:
            if counters.charged:
                lines.append(f'{prefix}_cost_usd_total{{model="{_label(model)}"}} {float(counters.cost_usd)!r}')
        family("request_duration_seconds", "histogram", "Logical request latency, first call to answer or error.")
        cumulative = 0
        for bound, n in zip((*LATENCY_BUCKETS, float("inf")), self._latency, strict=True):
            cumulative += n
            le = "+Inf" if bound == float("inf") else repr(bound)
            lines.append(f'{prefix}_request_duration_seconds_bucket{{le="{le}"}} {cumulative}')
        lines.append(f"{prefix}_request_duration_seconds_sum {self._latency_sum!r}")
        lines.append(f"{prefix}_request_duration_seconds_count {cumulative}")
        family("events_total", "counter", "Client events (breaker changes, budget warnings, key rotations) by kind.")
        for kind, n in sorted(self._event_kinds.items()):
            lines.append(f'{prefix}_events_total{{kind="{_label(kind)}"}} {n}')
        return "\n".join(lines) + "\n"

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"OutcomeLog({len(self.ids)} outcomes, {len(self.events)} events)"


class _ModelCounters:
    """The running counters of one model (the one that answered, or was asked; or an attempt's)."""

    __slots__ = ("attempts", "charged", "cost_usd", "input_tokens", "output_tokens", "requests")

    def __init__(self) -> None:
        self.requests: dict[str, int] = {}  # status → logical requests
        self.attempts: dict[int, int] = {}  # HTTP status (0: none) → attempts
        self.input_tokens = 0  # of answered requests
        self.output_tokens = 0
        self.cost_usd = Decimal(0)  # what the client's ledger charged
        self.charged = False  # any charge at all (a model never charged has no cost line)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
