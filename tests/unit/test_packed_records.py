"""PackedRecords: a compact log that reads like a list, with every value back to the bit."""

from __future__ import annotations

import io
import marshal
import math
import zlib

import pytest

from harness.packed_rows import PackedRows
from harness.records import AttemptRecord, OutcomeRecord, PackedRecords, ProviderRecord, _row, dump_jsonl, write_jsonl


def provider(n: int, **kw: object) -> ProviderRecord:
    values: dict[str, object] = {
        "seq": n, "t": n * 0.1 + 1e-9, "wall": 1.8e9 + n / 3, "client": "key:ab", "client_id": None,
        "request_id": f"req_{n}", "logical_id": f"L{n // 2}", "attempt": n % 2, "api": "openai.chat",
        "model": "m", "stream": n % 3 == 0, "status": 200, "ttfb_s": None, "cost_usd": f"0.{n:04d}",
    }  # fmt: skip
    values.update(kw)
    return ProviderRecord(**values)  # type: ignore[arg-type]


def outcome(n: int) -> OutcomeRecord:
    attempts = tuple(AttemptRecord(k, n + k, n + k + 0.5, "m", 503 if k else 200, wait_s=k / 7) for k in range(n % 3))
    return OutcomeRecord(f"L{n}", n % 2 == 0, "ok", n / 3, n / 3 + 0.25, "m", user="u", attempts=attempts)


@pytest.mark.parametrize("count", [0, 1, PackedRecords.BLOCK, PackedRecords.BLOCK * 2 + 7])
def test_it_reads_like_the_list_it_packed(count: int) -> None:
    records = [provider(n) for n in range(count)]
    packed = PackedRecords(ProviderRecord, records)
    assert len(packed) == count
    assert list(packed) == records
    assert packed == records
    if count:
        assert packed[count - 1] == records[-1]
        assert packed[-1] == records[-1]
        assert packed[0] == records[0]
        assert packed[1:4] == records[1:4]
        with pytest.raises(IndexError):
            packed[count]


def test_outcomes_with_attempts_and_odd_floats_round_trip() -> None:
    odd = [provider(1, t=math.inf, duration_s=-0.0, retry_after_s=1 / 3), provider(2, t=-5e-324)]
    outcomes = [outcome(n) for n in range(600)]
    assert list(PackedRecords(OutcomeRecord, outcomes)) == outcomes
    back = list(PackedRecords(ProviderRecord, odd))
    assert back == odd
    assert math.copysign(1.0, back[0].duration_s) == -1.0


def test_a_record_subclass_is_kept_as_it_is() -> None:
    class Tagged(ProviderRecord):
        __slots__ = ()

    records = [provider(n) for n in range(5)] + [Tagged(*(getattr(provider(9), f) for f in ProviderRecord.__slots__))]
    packed = PackedRecords(ProviderRecord, records * 60)
    assert list(packed) == records * 60
    assert type(packed[5]) is Tagged


def test_only_the_two_log_records_are_packed() -> None:
    with pytest.raises(TypeError, match="ProviderRecord or OutcomeRecord"):
        PackedRecords(AttemptRecord, [])  # type: ignore[type-var]


def test_write_jsonl_writes_dump_jsonls_text_in_chunks() -> None:
    records = [provider(n) for n in range(2500)]
    out = io.StringIO()
    assert write_jsonl(PackedRecords(ProviderRecord, records), out, lines_per_write=1000) == 2500
    assert out.getvalue() == dump_jsonl(records)
    empty = io.StringIO()
    assert write_jsonl([], empty) == 0
    assert empty.getvalue() == ""


def test_a_sealed_block_is_the_marshalled_rows_of_its_records() -> None:
    """The bytes PackedRecords seals are those of the rows of the records' values (one format with
    PackedRows: the blocks are its blocks, the records only turned into rows and back)."""
    records = [outcome(n) for n in range(PackedRecords.BLOCK * 2 + 3)]
    packed = PackedRecords(OutcomeRecord, records)
    assert len(packed._blocks) == 2
    for at, block in enumerate(packed._blocks):
        assert type(block) is bytes
        chunk = records[at * PackedRecords.BLOCK : (at + 1) * PackedRecords.BLOCK]
        assert marshal.loads(zlib.decompress(block)) == tuple([_row(r) for r in chunk])
    assert [_row(r) for r in packed] == list(PackedRows([_row(r) for r in records]))


def test_iteration_stops_at_the_length_it_began_with_and_reads_the_tail() -> None:
    packed = PackedRecords(ProviderRecord, [provider(n) for n in range(PackedRecords.BLOCK + 3)])
    reading = iter(packed)
    first = next(reading)
    packed.append(provider(999))
    assert [first.seq] + [r.seq for r in reading] == list(range(PackedRecords.BLOCK + 3))
    assert packed[-1] is packed._tail[-1]  # the block being filled holds the records themselves


def test_the_sequence_methods_work_across_blocks() -> None:
    records = [provider(n) for n in range(PackedRecords.BLOCK + 10)]
    packed = PackedRecords(ProviderRecord, records)
    assert records[265] in packed
    assert provider(10_000) not in packed
    assert packed.index(records[260]) == 260
    assert packed.count(records[3]) == 1
    assert list(reversed(packed)) == records[::-1]
    assert packed != records[:-1]
    assert packed == PackedRecords(ProviderRecord, records)
    assert packed.__eq__(object()) is NotImplemented
    assert repr(packed) == f"PackedRecords(ProviderRecord, {len(records)} records)"
    with pytest.raises(IndexError):
        packed[-len(records) - 1]
