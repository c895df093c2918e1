"""The provider's request log read once into columns: what the judge needs of it, and nothing more.

A log of 200,000 attempts held as record objects took some 150 MB, and the judge sorted, grouped and
re-read it a dozen times. :func:`provider_columns` reads each record once (a
:class:`~harness.records.PackedRecords` rebuilds them one at a time) and keeps the fields the metrics
use as typed arrays, with repeated strings (models, clients, finish reasons) shared; the totals that
need no order (the bill, authentication failures) are summed on the way. Rows are then ordered by
arrival (a stable sort: the order ``sorted(records, key=t)`` gives), which every metric reads them in.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from harness.judge.semantic import EMBEDDING_APIS
from harness.records import ProviderRecord

__all__ = ["ProviderColumns", "provider_columns"]

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
    shared: dict[str | None, str | None] = {}  # one object per distinct model, client, finish reason
    share = shared.setdefault
    decimals: dict[str, Decimal] = {}  # bills repeat (same model, same usage): parse each text once
    cost_provider = Decimal(0)
    auth = embeddings = 0
    nan = float("nan")
    spent: dict[str, Decimal] | None = {} if spend_by_logical else None
    for r in records:
        c = r.cost_usd
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
    )
