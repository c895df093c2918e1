"""The provider's request log read once into columns: what the judge needs of it, and nothing more.

A log of 200,000 attempts held as record objects took some 150 MB, and the judge sorted, grouped and
re-read it a dozen times. :func:`provider_columns` reads each record once (a
:class:`~harness.records.PackedRecords` rebuilds them one at a time) and keeps the fields the metrics
use as typed arrays, with repeated strings (models, clients, finish reasons) shared; the totals that
need no order (the bill, authentication failures) are summed on the way. Rows are then ordered by
arrival (a stable sort: the order ``sorted(records, key=t)`` gives), which every metric reads them in.

The client's outcome log is read once too, by the judge's pass over it: :class:`OutcomeColumnsBuilder`
keeps the few numbers per outcome the report's charts draw. :class:`LogColumns` holds both, with the
logs they were read from, so the report draws from the judge's single pass instead of reading the logs
again (:func:`log_columns` reads them once itself when no judge pass is at hand).
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from harness.judge.semantic import EMBEDDING_APIS
from harness.records import OutcomeRecord, ProviderRecord

__all__ = [
    "LogColumns",
    "OutcomeColumns",
    "OutcomeColumnsBuilder",
    "ProviderColumns",
    "attempts_per_request",
    "log_columns",
    "provider_columns",
]

#: what the log's ``error_type`` says when Gemini refused a key (its 400 INVALID_ARGUMENT's reason)
GEMINI_BAD_KEY = "API_KEY_INVALID"


@dataclass(frozen=True, slots=True)
class ProviderColumns:
    """The answers' attempts in the request log (not model listings, not embeddings calls), in arrival order."""

    t: npt.NDArray[np.float64]  # arrival
    duration_s: npt.NDArray[np.float64]
    status: npt.NDArray[np.int64]
    attempt: npt.NDArray[np.int64]
    retry_after_s: npt.NDArray[np.float64]  # NaN: no hint
    prompt_tokens: npt.NDArray[np.int64]
    output_tokens: npt.NDArray[np.int64]
    max_tokens: npt.NDArray[np.int64]  # -1: not asked
    logical_id: list[str | None]
    model: list[str | None]
    client: list[str]
    client_id: list[str | None]
    finish: list[str | None]
    request_id: list[str]
    cost_usd: list[str]
    cost_provider: Decimal  # every record's bill, model listings included (0 when not asked for)
    auth_failures: int  # 401, 403, Gemini's API_KEY_INVALID (the answers' attempts)
    embedding_calls: int  # the records of embeddings calls (left out of the columns)
    spent_by_logical: dict[str, Decimal] | None  # billed per logical id ("" for none), when asked for
    # the bill, every record (model listings and embeddings calls included) in the log's own order
    bill_end: npt.NDArray[np.float64]  # when the attempt ended: t + duration (a negative or NaN duration as 0)
    bill_usd: list[str]  # its cost_usd text

    def __len__(self) -> int:
        return len(self.t)

    @property
    def ok(self) -> npt.NDArray[np.bool_]:
        return (self.status >= 200) & (self.status < 300)


def provider_columns(
    records: Iterable[ProviderRecord], *, bill: bool = True, spend_by_logical: bool = False
) -> ProviderColumns:
    """One pass over the log (in its own order), then the rows put in arrival order.

    ``bill``: total the bill (``cost_provider``; a record whose ``cost_usd`` is not a number raises
    :class:`decimal.InvalidOperation`); False leaves it at 0, for readers that only plot the log.
    ``spend_by_logical``: also total it per logical request (the judge's scoped budgets).
    """
    t, duration, retry_after = array("d"), array("d"), array("d")
    status, attempt, prompt, output, max_tokens = array("q"), array("q"), array("q"), array("q"), array("q")
    logical: list[str | None] = []
    model: list[str | None] = []
    client: list[str] = []
    client_id: list[str | None] = []
    finish: list[str | None] = []
    request_id: list[str] = []
    cost: list[str] = []
    bill_end = array("d")
    bill_usd: list[str] = []
    shared: dict[str | None, str | None] = {}  # one object per distinct model, client, finish reason
    share = shared.setdefault
    texts: dict[str, str] = {}  # one object per distinct bill text
    share_text = texts.setdefault
    decimals: dict[str, Decimal] = {}  # bills repeat (same model, same usage): parse each text once
    cost_provider = Decimal(0)
    auth = embeddings = 0
    nan = float("nan")
    spent: dict[str, Decimal] | None = {} if spend_by_logical else None
    for r in records:
        c = share_text(r.cost_usd, r.cost_usd)
        bill_usd.append(c)
        d = r.duration_s
        bill_end.append(r.t + (d if d > 0.0 else 0.0))  # r.t + max(0.0, d), NaN counted as 0 as max() does
        if bill and c != "0":
            amount = decimals.get(c)
            if amount is None:
                amount = decimals[c] = Decimal(c)
            cost_provider += amount
            if spent is not None:
                key = r.logical_id or ""
                spent[key] = spent.get(key, Decimal(0)) + amount
        api = r.api
        if api == "openai.models":
            continue
        if api in EMBEDDING_APIS:
            embeddings += 1
            continue
        t.append(r.t)
        duration.append(r.duration_s)
        s = r.status
        status.append(s)
        if s == 401 or s == 403 or r.error_type == GEMINI_BAD_KEY:
            auth += 1
        attempt.append(r.attempt)
        hint = r.retry_after_s
        retry_after.append(nan if hint is None else hint)
        prompt.append(r.prompt_tokens)
        output.append(r.output_tokens)
        max_tokens.append(-1 if r.max_tokens is None else r.max_tokens)
        logical.append(r.logical_id)
        model.append(share(r.model, r.model))
        client.append(share(r.client, r.client))  # type: ignore[arg-type]
        client_id.append(share(r.client_id, r.client_id))
        finish.append(share(r.finish, r.finish))
        request_id.append(r.request_id)
        cost.append(c)
    times = np.frombuffer(t, dtype=np.float64) if len(t) else np.zeros(0)
    order = np.argsort(times, kind="stable")  # sorted(records, key=lambda r: r.t)
    index = order.tolist()

    def floats(a: array[float]) -> npt.NDArray[np.float64]:
        return (np.frombuffer(a, dtype=np.float64) if len(a) else np.zeros(0))[order]

    def ints(a: array[int]) -> npt.NDArray[np.int64]:
        return (np.frombuffer(a, dtype=np.int64) if len(a) else np.zeros(0, dtype=np.int64))[order]

    def strings(values: list[str | None]) -> list[str | None]:
        return [values[i] for i in index]

    return ProviderColumns(
        t=floats(t),
        duration_s=floats(duration),
        status=ints(status),
        attempt=ints(attempt),
        retry_after_s=floats(retry_after),
        prompt_tokens=ints(prompt),
        output_tokens=ints(output),
        max_tokens=ints(max_tokens),
        logical_id=strings(logical),
        model=strings(model),
        client=strings(client),  # type: ignore[arg-type]
        client_id=strings(client_id),
        finish=strings(finish),
        request_id=strings(request_id),  # type: ignore[arg-type]
        cost_usd=strings(cost),  # type: ignore[arg-type]
        cost_provider=cost_provider,
        auth_failures=auth,
        embedding_calls=embeddings,
        spent_by_logical=spent,
        bill_end=np.frombuffer(bill_end, dtype=np.float64) if len(bill_end) else np.zeros(0),
        bill_usd=bill_usd,
    )


@dataclass(frozen=True, slots=True)
class OutcomeColumns:
    """The outcome log's numbers the report draws, one row per outcome in the log's own order."""

    ok: npt.NDArray[np.bool_]
    t_start: npt.NDArray[np.float64]
    t_end: npt.NDArray[np.float64]
    timed: npt.NDArray[np.bool_]  # streamed, with a time to first token
    ttft_s: npt.NDArray[np.float64]  # the time to first token where ``timed`` (else 0)
    attempts: npt.NDArray[np.int64]  # attempts the client recorded
    cost_usd: list[str]  # what the client's ledger charged for the answer (the text)

    def __len__(self) -> int:
        return len(self.ok)


class OutcomeColumnsBuilder:
    """:class:`OutcomeColumns` gathered while a reader goes through the outcome log once (:meth:`add` each)."""

    __slots__ = ("_attempts", "_cost", "_ok", "_shared", "_t_end", "_t_start", "_timed", "_ttft", "ids")

    def __init__(self) -> None:
        self.ids: list[str] = []  # every outcome's logical id (not kept in the columns)
        self._ok = array("b")
        self._t_start, self._t_end, self._ttft = array("d"), array("d"), array("d")
        self._timed = array("b")
        self._attempts = array("q")
        self._cost: list[str] = []
        self._shared: dict[str, str] = {}  # one object per distinct cost text

    def add(self, o: OutcomeRecord) -> None:
        self.ids.append(o.id)
        self._ok.append(bool(o.ok))
        self._t_start.append(o.t_start)
        self._t_end.append(o.t_end)
        ttft = o.ttft_s
        timed = ttft is not None and bool(o.stream)
        self._timed.append(timed)
        self._ttft.append(ttft if timed else 0.0)  # type: ignore[arg-type]
        self._attempts.append(len(o.attempts))
        c = o.cost_usd
        self._cost.append(self._shared.setdefault(c, c))

    def build(self) -> OutcomeColumns:
        def floats(a: array[float]) -> npt.NDArray[np.float64]:
            return np.frombuffer(a, dtype=np.float64) if len(a) else np.zeros(0)

        def flags(a: array[int]) -> npt.NDArray[np.bool_]:
            return np.frombuffer(a, dtype=np.int8).astype(np.bool_) if len(a) else np.zeros(0, dtype=np.bool_)

        attempts = np.frombuffer(self._attempts, dtype=np.int64) if len(self._attempts) else np.zeros(0, np.int64)
        return OutcomeColumns(
            ok=flags(self._ok),
            t_start=floats(self._t_start),
            t_end=floats(self._t_end),
            timed=flags(self._timed),
            ttft_s=floats(self._ttft),
            attempts=attempts,
            cost_usd=self._cost,
        )


def attempts_per_request(logical_ids: Sequence[str | None], known_ids: Iterable[str]) -> dict[int, int] | None:
    """How many logical requests reached the provider in 1, 2, 3 … attempts, by its log (``known_ids``:
    the requests issued or with an outcome; those it never saw took 0). None: its log has no logical ids."""
    if all(rid is None for rid in logical_ids):
        return None
    per_id = Counter(rid for rid in logical_ids if rid is not None)
    counts = Counter(per_id.values())
    never_seen = len(set(known_ids).difference(per_id))
    if never_seen:
        counts[0] += never_seen
    return dict(counts)


@dataclass(frozen=True, slots=True)
class LogColumns:
    """Both logs as the report draws them, with the log objects they were read from (:meth:`reads`).

    Only what the charts use is kept (a 200,000-request run's ids and request ids are not held on
    after the judge): the answers' attempts in arrival order, the bill in the log's order, the
    attempts per logical request, and the outcomes' numbers.
    """

    # the answers' attempts (the rows of ProviderColumns), in arrival order
    t: npt.NDArray[np.float64]
    status: npt.NDArray[np.int64]
    prompt_tokens: npt.NDArray[np.int64]
    output_tokens: npt.NDArray[np.int64]
    max_tokens: npt.NDArray[np.int64]  # -1: not asked
    # every record of the provider's log, in its order
    bill_end: npt.NDArray[np.float64]
    bill_usd: list[str]
    provider_attempts: dict[int, int] | None  # see attempts_per_request
    outcomes: OutcomeColumns
    provider_log: Sequence[ProviderRecord]
    outcome_log: Sequence[OutcomeRecord]

    @property
    def ok(self) -> npt.NDArray[np.bool_]:
        return (self.status >= 200) & (self.status < 300)

    @classmethod
    def of(
        cls,
        provider: ProviderColumns,
        outcomes: OutcomeColumnsBuilder,
        issued_ids: Iterable[str],
        provider_log: Sequence[ProviderRecord],
        outcome_log: Sequence[OutcomeRecord],
    ) -> LogColumns:
        """From the judge's columns of the provider's log and the outcomes it went through."""
        known = [*issued_ids, *outcomes.ids]
        return cls(
            t=provider.t,
            status=provider.status,
            prompt_tokens=provider.prompt_tokens,
            output_tokens=provider.output_tokens,
            max_tokens=provider.max_tokens,
            bill_end=provider.bill_end,
            bill_usd=provider.bill_usd,
            provider_attempts=attempts_per_request(provider.logical_id, known),
            outcomes=outcomes.build(),
            provider_log=provider_log,
            outcome_log=outcome_log,
        )

    def reads(self, provider_log: Sequence[ProviderRecord], outcome_log: Sequence[OutcomeRecord]) -> bool:
        """Whether these columns are those logs as they are now (the same objects, nothing appended since)."""
        return (
            provider_log is self.provider_log
            and outcome_log is self.outcome_log
            and len(provider_log) == len(self.bill_end)
            and len(outcome_log) == len(self.outcomes)
        )


def log_columns(
    provider_log: Sequence[ProviderRecord], outcome_log: Sequence[OutcomeRecord], issued_ids: Iterable[str] = ()
) -> LogColumns:
    """Both logs read once each (the bill is not totalled: the reader totals it its own way)."""
    outcomes = OutcomeColumnsBuilder()
    for o in outcome_log:
        outcomes.add(o)
    return LogColumns.of(provider_columns(provider_log, bill=False), outcomes, issued_ids, provider_log, outcome_log)
