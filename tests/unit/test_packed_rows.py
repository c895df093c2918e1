"""PackedRows: the rows of a long-lived log sealed into compressed blocks, every value back to the bit."""

from __future__ import annotations

import enum
import gc
import math

import pytest

from harness.packed_rows import PackedBlocks, PackedRows


def row(n: int) -> tuple[object, ...]:
    return (n, n / 3 + 1e-9, f"req_{n}", None, (n, 2.5, ("nested", None)) if n % 3 else None, n % 2 == 0)


@pytest.mark.parametrize("count", [0, 1, PackedRows.BLOCK - 1, PackedRows.BLOCK, PackedRows.BLOCK * 3 + 7])
def test_it_reads_like_the_list_it_packed(count: int) -> None:
    rows = [row(n) for n in range(count)]
    packed = PackedRows(rows)
    assert len(packed) == count
    assert list(packed) == rows
    if count:
        assert packed[0] == rows[0]
        assert packed[-1] == rows[-1]
        assert packed[count // 2] == rows[count // 2]
    with pytest.raises(IndexError):
        packed[count]


def test_rows_from_any_position_to_any_stop() -> None:
    rows = [row(n) for n in range(PackedRows.BLOCK * 2 + 40)]
    packed = PackedRows(rows)
    for start in (0, 1, 255, 256, 257, 511, 512, 530, len(rows), len(rows) + 5):
        for stop in (None, start, start + 1, start + 300, len(rows) + 9):
            assert list(packed.rows(start, stop)) == rows[start:stop], (start, stop)


def test_rows_stop_at_the_length_when_asked() -> None:
    packed = PackedRows([row(n) for n in range(10)])
    reading = packed.rows(0, len(packed))
    packed.append(row(10))
    assert len(list(reading)) == 10


def test_sealed_blocks_are_bytes_the_collector_does_not_track() -> None:
    packed = PackedRows([row(n) for n in range(PackedRows.BLOCK * 2)])
    assert packed._blocks
    assert all(type(b) is bytes and not gc.is_tracked(b) for b in packed._blocks)
    assert packed._tail == []
    packed.append(row(1))
    assert len(packed._tail) == 1  # the next block is filling


def test_floats_round_trip_to_the_bit() -> None:
    odd = [(math.inf, -0.0, 5e-324, 1 / 3, math.nan)] * (PackedRows.BLOCK + 1)
    back = PackedRows(odd)[0]
    assert back[:4] == odd[0][:4]
    assert math.copysign(1.0, back[1]) == -1.0
    assert math.isnan(back[4])


def test_a_block_marshal_cannot_hold_is_kept_as_its_rows() -> None:
    class Kind(enum.IntEnum):
        OK = 200

    rows = [(n, Kind.OK if n == 3 else 200) for n in range(PackedRows.BLOCK * 2)]
    packed = PackedRows(rows)
    assert list(packed) == rows
    assert type(packed[3][1]) is Kind  # the value itself, not a copy of another type
    assert type(packed._blocks[0]) is tuple
    assert type(packed._blocks[1]) is bytes


def test_clear_starts_over() -> None:
    packed = PackedRows([row(n) for n in range(300)])
    assert packed[299] == row(299)
    packed.clear()
    assert len(packed) == 0
    assert list(packed) == []
    packed.append(row(7))
    assert packed[0] == row(7)


def test_a_subclass_changes_only_what_a_block_holds() -> None:
    """PackedBlocks is the one implementation of the blocks: a subclass encodes and decodes a block."""

    class Doubled(PackedBlocks[int]):
        __slots__ = ()

        def _encode(self, items: tuple[int, ...]) -> object:
            if any(i < 0 for i in items):
                raise ValueError("negative")  # kept as the items themselves
            return tuple(i * 2 for i in items)

        def _decode(self, value: object) -> list[int]:
            assert isinstance(value, tuple)
            return [i // 2 for i in value]

    values = [*range(PackedBlocks.BLOCK), -1, *range(PackedBlocks.BLOCK * 2)]
    packed = Doubled(values)
    assert list(packed) == values
    assert [type(b) for b in packed._blocks] == [bytes, tuple, bytes]
    assert packed[PackedBlocks.BLOCK + 1] == 0
    assert repr(PackedRows([row(1)])) == "PackedRows(1 rows, 0 sealed blocks)"
