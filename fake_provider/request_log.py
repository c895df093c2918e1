"""The request log: one :class:`~harness.records.ProviderRecord` per attempt that reached the provider.

Records are kept in memory, in the order their attempts finished, each with a ``seq`` from 1; the
control API serves them as JSON lines after a ``?since=`` cursor, so a judge or a dashboard can
tail the log. Nothing is dropped: the judge needs every record of a run; :meth:`RequestLog.clear`
starts a new run.

On the hot path an attempt is stored as a flat tuple of plain values (:data:`Entry`: the record's
fields without ``seq`` and ``cost_usd``, then the configured model's name or ``None``, and whether the
attempt was billed). Such a tuple costs a fraction of a slotted record to build; the log keeps the
tuples in :class:`~harness.packed_rows.PackedRows`, which seals every 256 of them into one compressed
``bytes`` (about 40 bytes an attempt instead of 500, and nothing the garbage collector walks), so a
run of millions of attempts neither fills memory nor slows collections down. Records are
materialised when read; ``cost_usd`` is then computed exactly from the billed model's prices.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import fields
from typing import Any

from harness.packed_rows import PackedRows
from harness.records import ProviderRecord

__all__ = ["BILLED", "CACHE", "MODEL", "Entry", "RequestLog"]

_FIELDS = tuple(f.name for f in fields(ProviderRecord))

#: ProviderRecord's fields from ``t`` to ``finish`` (20 values), the configured model's name (or None)
#: and whether the attempt was billed
Entry = tuple[Any, ...]
_RECORD_VALUES = len(_FIELDS) - 2  # everything but seq and cost_usd
MODEL = _RECORD_VALUES  # index of the configured model's name in an entry
BILLED = _RECORD_VALUES + 1  # index of the billed flag
#: index of (cached, cache writes, of which 1 h, reasoning) tokens, or None when all are 0
CACHE = _RECORD_VALUES + 2
if _FIELDS[0] != "seq" or _FIELDS[-1] != "cost_usd":  # pragma: no cover - a contract change
    raise ImportError("harness.records.ProviderRecord changed its fields; update fake_provider.request_log")


def _no_cost(model: str, prompt: int, output: int, extra: tuple[int, int, int, int] | None = None) -> str:
    raise ValueError(f"the request log has no prices to bill model {model!r}")


class RequestLog:
    """Append-only log of attempts with a ``since`` cursor; records are built on read."""

    __slots__ = ("_cost", "_entries")

    def __init__(self, cost: Callable[[str, int, int, Any], str] = _no_cost) -> None:
        self._entries = PackedRows()  # record seq n sits at index n - 1
        self._cost = cost  # (billed model, prompt tokens, output tokens, cache tuple or None) → cost_usd text

    @property
    def entries(self) -> PackedRows:
        """The raw entries (shared, not copied: the accounts fold them into the ledger and metrics)."""
        return self._entries

    def next_seq(self) -> int:
        return len(self._entries) + 1

    def add(self, entry: Entry) -> int:
        """Store one finished attempt; returns its ``seq``."""
        self._entries.append(entry)
        return len(self._entries)

    def record(self, seq: int) -> ProviderRecord:
        """The record with this ``seq`` (from 1)."""
        if not 1 <= seq <= len(self._entries):
            raise IndexError(f"no record with seq {seq}; the log holds {len(self._entries)}")
        return self._materialise(seq, self._entries[seq - 1])

    def _materialise(self, seq: int, entry: Entry) -> ProviderRecord:
        cost = self._cost(entry[MODEL], entry[11], entry[13], entry[CACHE]) if entry[BILLED] else "0"
        return ProviderRecord(seq, *entry[:_RECORD_VALUES], cost)  # type: ignore[call-arg]

    def since(self, cursor: int = 0, limit: int | None = None) -> list[ProviderRecord]:
        """Records with ``seq > cursor`` (at most ``limit``), oldest first."""
        start = max(0, cursor)
        end = None if limit is None else start + max(0, limit)
        make = self._materialise
        return [make(seq, entry) for seq, entry in enumerate(self._entries.rows(start, end), start + 1)]

    def jsonl(self, cursor: int = 0, limit: int | None = None) -> str:
        """JSON lines in :func:`harness.records.dump_jsonl`'s format (keys in field order)."""
        dumps = json.JSONEncoder(separators=(",", ":")).encode
        start = max(0, cursor)
        end = None if limit is None else start + max(0, limit)
        lines = []
        for seq, entry in enumerate(self._entries.rows(start, end), start + 1):
            cost = self._cost(entry[MODEL], entry[11], entry[13], entry[CACHE]) if entry[BILLED] else "0"
            lines.append(dumps(dict(zip(_FIELDS, (seq, *entry[:_RECORD_VALUES], cost), strict=True))) + "\n")
        return "".join(lines)

    def clear(self) -> None:
        self._entries.clear()  # in place: the accounts hold the same rows

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[ProviderRecord]:
        make = self._materialise
        return (make(seq, entry) for seq, entry in enumerate(self._entries.rows(0, len(self._entries)), 1))

    def __repr__(self) -> str:
        return f"RequestLog(records={len(self._entries)})"
