"""The provider's columns read from a packed log's rows are those read from its records.

:func:`harness.judge.columns.provider_columns` reads a :class:`~harness.records.PackedRecords` as its
packed rows, a block at a time, column by column (no record rebuilt), and any other log record by
record. Both readings must give the same columns, totals and bill: with model listings and embeddings
calls among the attempts (a block of them only, too), authentication failures of every kind, missing
hints and caps, NaN and negative durations, and a block kept as records (a record subclass).
"""

from __future__ import annotations

import math
import random
from dataclasses import fields
from typing import Any

import numpy as np
import pytest

from harness.judge.columns import ProviderColumns, provider_columns
from harness.records import PackedRecords, ProviderRecord

BLOCK = PackedRecords.BLOCK
APIS = ("openai.chat",) * 6 + ("openai.models", "openai.embeddings", "gemini.embed", "anthropic.messages")


class _Tagged(ProviderRecord):  # marshal cannot pack it: its block is kept as records
    __slots__ = ()


def _records(seed: int, count: int) -> list[ProviderRecord]:
    rng = random.Random(seed)
    records: list[ProviderRecord] = []
    for n in range(count):
        api = rng.choice(APIS) if n // BLOCK != 1 else "openai.models"  # the second block: no answer at all
        status = rng.choice((200, 200, 200, 401, 403, 400, 429, 503, 0))
        values: dict[str, Any] = {
            "seq": n + 1, "t": rng.choice((rng.uniform(0, 50), round(rng.uniform(0, 50), 1))), "wall": 1.8e9 + n,
            "client": rng.choice(("key:a", "key:b")), "client_id": rng.choice((None, "c1")), "request_id": f"r{n}",
            "logical_id": rng.choice((f"L{n // 3}", None)), "attempt": rng.randint(0, 3), "api": api,
            "model": rng.choice(("gpt-4o-mini", "claude", None)), "stream": n % 2 == 0, "status": status,
            "prompt_tokens": rng.randint(0, 900), "max_tokens": rng.choice((None, 64)),
            "output_tokens": rng.randint(0, 300), "duration_s": rng.choice((0.0, 1.5, -0.25, math.nan, 2)),
            "retry_after_s": rng.choice((None, 0.5, 3)), "error_type": rng.choice((None, "API_KEY_INVALID", "x")),
            "finish": rng.choice((None, "stop", "cut")), "cost_usd": rng.choice(("0", "0.0001", "0.00025")),
        }  # fmt: skip
        cls = _Tagged if n == 3 * BLOCK + 5 else ProviderRecord
        records.append(cls(**values))
    return records


def _assert_same_columns(got: ProviderColumns, want: ProviderColumns) -> None:
    for f in fields(want):
        a, b = getattr(got, f.name), getattr(want, f.name)
        if isinstance(b, np.ndarray):
            assert a.dtype == b.dtype, f.name
            assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), f.name
        else:
            assert a == b, f.name


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("count", [0, 7, 4 * BLOCK + 9])
@pytest.mark.parametrize("options", [{}, {"spend_by_logical": True}, {"bill": False}])
def test_a_packed_log_read_as_rows_gives_the_columns_of_its_records(
    seed: int, count: int, options: dict[str, bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    records = _records(seed, count)
    packed = PackedRecords(ProviderRecord, records)
    if count > 3 * BLOCK:
        assert [packed for packed, _ in packed.blocks()] == [True, True, True, False, False]
    want = provider_columns(records, **options)

    def rebuilt(self: PackedRecords[Any], value: Any) -> Any:
        raise AssertionError("a packed block's records were rebuilt")

    monkeypatch.setattr(PackedRecords, "_decode", rebuilt)
    _assert_same_columns(provider_columns(packed, **options), want)
    if count > BLOCK:  # the log has every case the columns tell apart
        assert want.embedding_calls
        assert want.auth_failures
        assert want.cost_provider > 0 or options.get("bill") is False
