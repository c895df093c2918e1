"""The request log: one :class:`~harness.records.ProviderRecord` per attempt that reached the provider.

Records are kept in memory, in the order their attempts finished, each with a ``seq`` from 1; the
control API serves them as JSON lines after a ``?since=`` cursor, so a judge or a dashboard can
tail the log. Nothing is dropped: the judge needs every record of a run (about 300 bytes each, so a
million attempts fit in a few hundred MB); :meth:`RequestLog.clear` starts a new run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import astuple, fields

from harness.records import ProviderRecord

__all__ = ["RequestLog"]

_FIELDS = tuple(f.name for f in fields(ProviderRecord))


class RequestLog:
    """Append-only list of provider records with a ``since`` cursor."""

    __slots__ = ("_records",)

    def __init__(self) -> None:
        self._records: list[ProviderRecord] = []  # record seq n sits at index n - 1

    def next_seq(self) -> int:
        return len(self._records) + 1

    def append(self, record: ProviderRecord) -> None:
        if record.seq != len(self._records) + 1:
            raise ValueError(f"record seq {record.seq} out of order; expected {len(self._records) + 1}")
        self._records.append(record)

    def since(self, cursor: int = 0, limit: int | None = None) -> list[ProviderRecord]:
        """Records with ``seq > cursor`` (at most ``limit``), oldest first."""
        start = max(0, cursor)
        end = None if limit is None else start + max(0, limit)
        return self._records[start:end]

    def jsonl(self, cursor: int = 0, limit: int | None = None) -> str:
        """JSON lines in :func:`harness.records.dump_jsonl`'s format (keys in field order)."""
        dumps = json.JSONEncoder(separators=(",", ":")).encode
        return "".join(dumps(dict(zip(_FIELDS, astuple(r), strict=True))) + "\n" for r in self.since(cursor, limit))

    def clear(self) -> None:
        self._records = []

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[ProviderRecord]:
        return iter(self._records)

    def __repr__(self) -> str:
        return f"RequestLog(records={len(self._records)})"
