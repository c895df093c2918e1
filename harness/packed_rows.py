"""Rows of plain values kept compact as a log grows: the storage under the run's long-lived logs.

A run keeps one row per attempt in the provider's request log, one per billed attempt in its ledger
and one per logical request in the client's outcome log. As tuples of Python objects (each float,
each string its own object) a row costs 200 to 500 bytes, and every full collection of the garbage
collector walks every one of them. :class:`PackedRows` seals each :attr:`PackedRows.BLOCK` rows
into one ``bytes`` (``marshal``, then ``zlib`` at its fastest level): about 40 bytes a row, in an
object the collector never looks at. Values come back exactly (``marshal`` keeps floats to the
bit); a block ``marshal`` cannot hold (a value of an unusual type, such as an ``Enum``) is kept as
its tuples.

Reading is by index or in order from a position (:meth:`PackedRows.rows`); the last block read is
kept unpacked, so reading in order, or near the end (a log's newest rows), unpacks each block once.

Example::

    log = PackedRows()
    log.append((1.25, "req_1", 200))
    assert log[0] == (1.25, "req_1", 200) and list(log.rows(0)) == [(1.25, "req_1", 200)]
"""

from __future__ import annotations

import marshal
import operator
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["PackedRows", "Row"]

#: a row: a tuple of str, int, float, bool, None, bytes and tuples of them
Row = tuple[Any, ...]


class PackedRows:
    """An append-only sequence of rows, sealed into compressed blocks as it grows."""

    __slots__ = ("_blocks", "_cached", "_len", "_tail")

    BLOCK = 256  # rows per sealed block

    def __init__(self, rows: Iterable[Row] = ()) -> None:
        self._blocks: list[bytes | tuple[Row, ...]] = []  # sealed: packed, or kept as they are
        self._tail: list[Row] = []  # the block being filled
        self._len = 0
        self._cached: tuple[int, list[Row] | tuple[Row, ...]] = (-1, ())  # the last block unpacked
        for row in rows:
            self.append(row)

    def append(self, row: Row) -> None:
        tail = self._tail
        tail.append(row)
        self._len += 1
        if len(tail) >= self.BLOCK:
            self._seal()

    def _seal(self) -> None:
        rows = tuple(self._tail)
        self._tail = []
        try:
            self._blocks.append(zlib.compress(marshal.dumps(rows), 1))
        except ValueError:  # a value marshal cannot hold: keep the rows as they are
            self._blocks.append(rows)

    def _block(self, index: int) -> list[Row] | tuple[Row, ...]:
        if self._cached[0] == index:
            return self._cached[1]
        block = self._blocks[index]
        rows: list[Row] | tuple[Row, ...]
        if type(block) is bytes:
            rows = marshal.loads(zlib.decompress(block))
        else:
            assert isinstance(block, tuple)
            rows = block
        self._cached = (index, rows)
        return rows

    def rows(self, start: int = 0, stop: int | None = None) -> Iterator[Row]:
        """The rows from index ``start`` to ``stop`` (default: the end as it is now), in order."""
        end = self._len if stop is None else max(0, min(stop, self._len))
        i = max(0, start)
        block_size = self.BLOCK
        while i < end:
            block, at = divmod(i, block_size)
            if block < len(self._blocks):
                rows = self._block(block)
                take = min(block_size, at + end - i)
                yield from rows[at:take]
                i += take - at
            else:
                yield from self._tail[at : at + end - i]
                return

    def __iter__(self) -> Iterator[Row]:
        return self.rows()

    def __getitem__(self, index: int) -> Row:
        i = operator.index(index)
        if i < 0:
            i += self._len
        if not 0 <= i < self._len:
            raise IndexError("row index out of range")
        block, at = divmod(i, self.BLOCK)
        if block < len(self._blocks):
            return self._block(block)[at]
        return self._tail[at]

    def __len__(self) -> int:
        return self._len

    def clear(self) -> None:
        self._blocks = []
        self._tail = []
        self._len = 0
        self._cached = (-1, ())

    def __repr__(self) -> str:
        return f"PackedRows({self._len} rows, {len(self._blocks)} sealed blocks)"
