"""write_jsonl's fast path (packed rows through orjson, a block at a time) is held to the json module's
text of record (dump_jsonl), byte for byte, on any values a record can hold, odd ones included."""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import harness.records as records_module
from harness.records import (
    AttemptRecord,
    OutcomeRecord,
    PackedRecords,
    ProviderRecord,
    _orjson_may_differ,
    dump_jsonl,
    write_jsonl,
)

#: floats where orjson's text differs from the json module's, and their neighbours where it does not
EDGE_FLOATS = [1e-05, 5e-05, 9.999e-05, 1e-04, 1.234e-06, 1e-07, 1.5e-09, 1e-10, 5e-324, -1e-05, -3e-08,
               -0.0, 0.0, 1e15, 1e16, 1.5e16, 1.7976931348623157e308, math.nan, math.inf, -math.inf]  # fmt: skip
#: strings that look like what the guard looks for, so a line may fall back for nothing
LOOKALIKES = ["null", ":0.0000", ":-0.00001", "1e-5", "9e-07", '},{"seq":', '},{"id":', "claude-3-5-haiku",
              "é", "\x7f", "\u2028", "\ud800", "\x00\x1f\n\t\"\\", "/"]  # fmt: skip

floats = st.floats() | st.sampled_from(EDGE_FLOATS)
texts = st.text(st.characters(blacklist_categories=())) | st.sampled_from(LOOKALIKES)
ints = st.integers() | st.sampled_from([2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**30])
values = st.none() | st.booleans() | ints | floats | texts


def _records(cls: type[Any], n_fields: int) -> st.SearchStrategy[Any]:
    return st.lists(values, min_size=n_fields, max_size=n_fields).map(lambda v: cls(*v))


attempts = _records(AttemptRecord, len(AttemptRecord.__slots__))
providers = _records(ProviderRecord, len(ProviderRecord.__slots__))
AT = OutcomeRecord.__slots__.index("attempts")
AFTER = len(OutcomeRecord.__slots__) - AT - 1
outcome_heads = st.lists(values, min_size=AT, max_size=AT)  # the fields before attempts
outcome_tails = st.lists(values, min_size=AFTER, max_size=AFTER)  # the fields after
outcomes = st.builds(
    lambda head, att, tail: OutcomeRecord(*head, tuple(att), *tail),  # type: ignore[call-arg]
    outcome_heads,
    st.lists(attempts, max_size=3),
    outcome_tails,
)


@contextmanager
def small_blocks(size: int = 3) -> Iterator[None]:
    """Blocks of a few records, so an example of a dozen records has sealed (packed) blocks."""
    saved = PackedRecords.BLOCK
    PackedRecords.BLOCK = size
    try:
        yield
    finally:
        PackedRecords.BLOCK = saved


def fast(cls: type[Any], records: list[Any], lines_per_write: int = 1024) -> str:
    out = io.StringIO()
    assert write_jsonl(PackedRecords(cls, records), out, lines_per_write) == len(records)
    return out.getvalue()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(providers, max_size=14))
def test_provider_lines_are_the_json_modules_bytes(records: list[ProviderRecord]) -> None:
    with small_blocks():
        assert fast(ProviderRecord, records) == dump_jsonl(records)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(outcomes, max_size=14))
def test_outcome_lines_are_the_json_modules_bytes(records: list[OutcomeRecord]) -> None:
    with small_blocks():
        assert fast(OutcomeRecord, records) == dump_jsonl(records)


@settings(max_examples=100, deadline=None)
@given(st.lists(floats, min_size=1, max_size=6), st.lists(texts, min_size=1, max_size=4))
def test_plain_records_holding_odd_floats_and_strings(fs: list[float], ts: list[str]) -> None:
    """Mostly ordinary records, a few odd values in them: the blocks without one keep orjson's text."""
    records = [provider(n) for n in range(12)]
    records[5] = provider(5, t=fs[0], ttfb_s=fs[-1], error_type=ts[0], fault=ts[-1])
    with small_blocks():
        assert fast(ProviderRecord, records) == dump_jsonl(records)


def provider(n: int, **kw: Any) -> ProviderRecord:
    values: dict[str, Any] = {
        "seq": n, "t": n * 0.37 + 0.001, "wall": 1.8e9 + n / 3, "client": "key:ab", "client_id": None,
        "request_id": f"req_{n}", "logical_id": f"L{n // 2}", "attempt": n % 2, "api": "openai.chat",
        "model": "gpt-4o-mini", "stream": n % 3 == 0, "status": 200, "ttfb_s": 0.25 + n / 1000,
        "cost_usd": f"0.0000{n:04d}",
    }  # fmt: skip
    values.update(kw)
    return ProviderRecord(**values)


def outcome(n: int) -> OutcomeRecord:
    tries = tuple(AttemptRecord(k, n + k, n + k + 0.5, "m", 429 if k else 200, wait_s=k / 7) for k in range(n % 3))
    return OutcomeRecord(f"L{n}", n % 2 == 0, "ok", n / 3, n / 3 + 0.25, "m", user="u", attempts=tries)


@pytest.mark.parametrize(
    ("cls", "make"),
    [(ProviderRecord, provider), (OutcomeRecord, outcome)],
)
def test_plain_records_take_the_fast_path(
    cls: type[Any], make: Callable[[int], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    records = [make(n) for n in range(PackedRecords.BLOCK * 3)]  # sealed blocks only: no tail
    expected = dump_jsonl(records)

    def refuse(_data: object) -> str:
        raise AssertionError("the json module was asked for a plain record")

    monkeypatch.setattr(records_module, "_compact_dumps", refuse)
    assert fast(cls, records, lines_per_write=100) == expected


@pytest.mark.parametrize(
    "odd",
    [
        {"t": 1e-05}, {"ttfb_s": 3e-07}, {"duration_s": -5e-05}, {"t": math.nan}, {"retry_after_s": math.inf},
        {"seq": 2**64}, {"error_type": "caf\u00e9"}, {"fault": "a\x7fb"}, {"finish": "\ud800"},
        {"error_type": "null"}, {"fault": ":0.00001"}, {"model": "1e-7"},
    ],
)  # fmt: skip
def test_each_difference_falls_back_for_its_block(odd: dict[str, Any]) -> None:
    records = [provider(n) for n in range(PackedRecords.BLOCK * 2)]
    records[7] = provider(7, **odd)
    assert fast(ProviderRecord, records) == dump_jsonl(records)


def test_the_guard_lets_plain_lines_through_and_stops_the_rest() -> None:
    assert not _orjson_may_differ(b'{"a":1.5,"b":null,"c":"claude-3"}', 1)
    assert _orjson_may_differ(b'{"a":1e-10}', 0)  # same text in both, but a digit's negative exponent stops it
    assert _orjson_may_differ(b'{"a":null}', 0)  # a NaN written as null
    assert _orjson_may_differ(b'{"a":0.00001}', 0)
    assert _orjson_may_differ(b'{"a":-0.00001}', 0)
    assert _orjson_may_differ('{"a":"é"}'.encode(), 0)
    assert _orjson_may_differ(b'{"a":"\x7f"}', 0)


def test_a_subclass_block_and_the_tail_are_written_by_the_json_module() -> None:
    class Tagged(ProviderRecord):
        __slots__ = ()

    records = [provider(n) for n in range(PackedRecords.BLOCK + 10)]
    records[3] = Tagged(*(getattr(provider(3), f) for f in ProviderRecord.__slots__))
    assert fast(ProviderRecord, records) == dump_jsonl(records)
