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
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

__all__ = ["PackedBlocks", "PackedRows", "Row"]

#: a row: a tuple of str, int, float, bool, None, bytes and tuples of them
Row = tuple[Any, ...]

_T = TypeVar("_T")


class PackedBlocks(Generic[_T]):
    """An append-only sequence of items, sealed into compressed blocks as it grows: the one
    implementation of the blocks, under :class:`PackedRows` (rows kept as they are) and
    :class:`harness.records.PackedRecords` (records kept as rows of their values).

    A subclass changes what a sealed block holds by overriding :meth:`_encode` (the block's items
    into a value ``marshal`` can hold, raising ``ValueError`` when it cannot) and :meth:`_decode`
    (that value back into items); the block logic itself (sealing, the last block kept unpacked,
    reading by index or in order) stays here.
    """

    __slots__ = ("_blocks", "_cached", "_len", "_tail")

    BLOCK = 256  # items per sealed block

    def __init__(self, items: Iterable[_T] = ()) -> None:
        self._blocks: list[bytes | tuple[_T, ...]] = []  # sealed: packed, or kept as they are
        self._tail: list[_T] = []  # the block being filled
        self._len = 0
        self._cached: tuple[int, list[_T] | tuple[_T, ...]] = (-1, ())  # the last block unpacked
        for item in items:
            self.append(item)

    def append(self, item: _T) -> None:
        tail = self._tail
        tail.append(item)
        self._len += 1
        if len(tail) >= self.BLOCK:
            self._seal()

    def _encode(self, items: tuple[_T, ...]) -> Any:
        """What is marshalled for a sealed block: here the items themselves (rows)."""
        return items

    def _decode(self, value: Any) -> list[_T] | tuple[_T, ...]:
        """A sealed block's items from what :meth:`_encode` gave (after ``marshal`` read it back)."""
        decoded: list[_T] | tuple[_T, ...] = value
        return decoded

    def adopt(self, source: PackedBlocks[Any], item_of: Callable[[Any], _T]) -> None:
        """Hold ``source``'s items from now on, its sealed blocks shared instead of encoded again.

        For a subclass whose :meth:`_encode` of the items ``item_of`` makes from ``source``'s items gives
        back exactly those items (a :class:`~harness.records.PackedRecords` of records whose rows
        ``source`` holds): a block packed by ``source`` then reads back here as what this sequence would
        have packed itself, so the ``bytes`` are taken as they are (not copied, not unpacked). A block
        ``source`` kept as its items, and the block it is filling, are turned into items by ``item_of``.
        What this sequence held before is dropped; later appends to either sequence stay its own.
        """
        if type(source).BLOCK != type(self).BLOCK:  # the blocks' boundaries are where index reads look
            raise ValueError(f"blocks of {type(source).BLOCK} items cannot be read as blocks of {self.BLOCK}")
        self._blocks = [block if type(block) is bytes else tuple(map(item_of, block)) for block in source._blocks]
        self._tail = list(map(item_of, source._tail))
        self._len = source._len
        self._cached = (-1, ())

    def _seal(self) -> None:
        items = tuple(self._tail)
        self._tail = []
        try:
            self._blocks.append(zlib.compress(marshal.dumps(self._encode(items)), 1))
        except ValueError:  # a value marshal cannot hold: keep the items as they are
            self._blocks.append(items)

    def _block(self, index: int) -> list[_T] | tuple[_T, ...]:
        if self._cached[0] == index:
            return self._cached[1]
        block = self._blocks[index]
        items: list[_T] | tuple[_T, ...]
        if type(block) is bytes:
            items = self._decode(marshal.loads(zlib.decompress(block)))
        else:
            assert isinstance(block, tuple)
            items = block
        self._cached = (index, items)
        return items

    def blocks(self) -> Iterator[tuple[bool, Any]]:
        """Every block in order as ``(encoded, values)``, for a reader that wants a sealed block's rows
        as :meth:`_encode` made them rather than the items rebuilt from them (writing a log out, say):
        a block ``marshal`` holds comes as ``(True, what _encode gave)``; a block kept as its items,
        and the block being filled, as ``(False, the items)``."""
        for block in self._blocks:
            if type(block) is bytes:
                yield True, marshal.loads(zlib.decompress(block))
            else:
                yield False, block
        if self._tail:
            yield False, tuple(self._tail)

    def rows(self, start: int = 0, stop: int | None = None) -> Iterator[_T]:
        """The items from index ``start`` to ``stop`` (default: the end as it is now), in order."""
        end = self._len if stop is None else max(0, min(stop, self._len))
        i = max(0, start)
        block_size = self.BLOCK
        while i < end:
            block, at = divmod(i, block_size)
            if block < len(self._blocks):
                items = self._block(block)
                take = min(block_size, at + end - i)
                yield from items[at:take]
                i += take - at
            else:
                yield from self._tail[at : at + end - i]
                return

    def __iter__(self) -> Iterator[_T]:
        return self.rows()

    def __getitem__(self, index: int) -> _T:
        i = operator.index(index)
        if i < 0:
            i += self._len
        if not 0 <= i < self._len:
            raise IndexError(f"{type(self).__name__} index out of range")
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


class PackedRows(PackedBlocks[Row]):
    """An append-only sequence of rows, sealed into compressed blocks as it grows."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"PackedRows({self._len} rows, {len(self._blocks)} sealed blocks)"
