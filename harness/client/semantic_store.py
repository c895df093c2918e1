"""Where the semantic cache keeps its entries: in memory, or shared through Redis.

:class:`VectorIndex` is the in-memory store (no I/O; time is passed in): unit vectors in one float32
matrix, searched by brute force (one matrix-vector product: about a millisecond for 10,000 entries of
1,536 dimensions), with a scope per entry (only entries of the asking request's scope match), a time
to live, and a size bound that evicts the least recently used entry.

:class:`RedisVectorStore` shares entries between processes through Redis. The Redis here may lack
the search module (``FT.SEARCH`` vector queries), so the store does not depend on it: every entry is
appended to one Redis stream (``<name>:semcache``, trimmed to about ``max_entries``, expiring
``ttl_s`` after the last write), and each process mirrors the stream into its own
:class:`VectorIndex`, reading only what was appended since its last read (one ``XRANGE`` per lookup,
usually empty), then searches the mirror. A new entry is visible to every process at its next lookup.
Eviction in Redis is oldest-first (stream trimming), in each mirror least-recently-used; the time to
live is judged on the writer's wall clock, carried in the entry. When Redis fails (down, slow, full,
restarted) a lookup is a miss and a store is skipped: the request goes to the provider, never an
error (:class:`~harness.client.redis_support.RedisLink` classifies the failure and reports
``semantic_cache.fallback``).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from harness.client.redis_support import RedisLink, RedisUnavailable, text

__all__ = ["Entry", "RedisVectorStore", "VectorIndex"]


@dataclass(frozen=True, slots=True)
class Entry:
    """A cached answer: the payload the cache serves, under its scope, stored at a wall-clock time."""

    scope: str  # what else the request must match (model, system prompt, parameters): a digest
    stored_at: float  # wall-clock seconds
    payload: dict[str, Any]  # JSON-able: the answer


class VectorIndex:
    """Unit vectors with their entries; nearest-neighbour search by cosine within a scope."""

    def __init__(self, max_entries: int, ttl_s: float) -> None:
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._matrix: NDArray[np.float32] | None = None  # one row per slot, grown by doubling
        self._stored = np.zeros(0)  # per slot: stored_at (-inf: free)
        self._scopes: list[str | None] = []  # per slot
        self._entries: list[Entry | None] = []  # per slot
        self._slots: OrderedDict[Hashable, int] = OrderedDict()  # entry id → slot, least recently used first
        self._ids: list[Hashable | None] = []  # per slot: its entry id
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._slots)

    def __contains__(self, entry_id: Hashable) -> bool:
        return entry_id in self._slots

    def add(self, entry_id: Hashable, vector: NDArray[np.float32], entry: Entry) -> None:
        """Keep ``entry`` under ``vector`` (a unit vector); the least recently used goes beyond the bound."""
        if entry_id in self._slots:
            return
        if self._matrix is not None and self._matrix.shape[1] != vector.shape[0]:
            self.clear()  # the embeddings changed size: old entries cannot be compared
        if len(self._slots) >= self.max_entries:
            _, freed = self._slots.popitem(last=False)
            self._free(freed)
            self.evictions += 1
        slot = self._free_slot(vector.shape[0])
        assert self._matrix is not None
        self._matrix[slot] = vector
        self._stored[slot] = entry.stored_at
        self._scopes[slot] = entry.scope
        self._entries[slot] = entry
        self._ids[slot] = entry_id
        self._slots[entry_id] = slot

    def nearest(self, scope: str, vector: NDArray[np.float32], now: float) -> tuple[float, Entry] | None:
        """The most similar live entry of ``scope`` and its cosine (None: no live entry in the scope).

        Entries past their time to live are dropped on the way.
        """
        if self._matrix is None or not self._slots:
            return None
        if self._matrix.shape[1] != vector.shape[0]:
            return None
        stale = (self._stored < now - self.ttl_s) & (self._stored > -np.inf)
        for slot in np.flatnonzero(stale).tolist():
            self._forget(slot)
        candidates = [s for s in self._slots.values() if self._scopes[s] == scope]
        if not candidates:
            return None
        rows = np.asarray(candidates)
        similarities = self._matrix[rows] @ vector
        best = int(np.argmax(similarities))
        slot = candidates[best]
        entry = self._entries[slot]
        assert entry is not None
        entry_id = self._ids[slot]
        self._slots.move_to_end(entry_id)
        return float(similarities[best]), entry

    def clear(self) -> None:
        self._matrix = None
        self._stored = np.zeros(0)
        self._scopes, self._entries, self._ids = [], [], []
        self._slots.clear()

    def _free_slot(self, dimensions: int) -> int:
        if self._matrix is None:
            self._matrix = np.zeros((16, dimensions), dtype=np.float32)
            self._stored = np.full(16, -np.inf)
            self._scopes, self._entries, self._ids = [None] * 16, [None] * 16, [None] * 16
        free = np.flatnonzero(self._stored == -np.inf)
        if free.size:
            first: int = free[0].item()
            return first
        size = int(self._matrix.shape[0])
        grown = min(max(size * 2, 16), max(self.max_entries, size + 1))
        self._matrix = np.vstack([self._matrix, np.zeros((grown - size, dimensions), dtype=np.float32)])
        self._stored = np.concatenate([self._stored, np.full(grown - size, -np.inf)])
        pad: list[Any] = [None] * (grown - size)
        self._scopes += pad
        self._entries += pad
        self._ids += pad
        return size

    def _forget(self, slot: int) -> None:
        entry_id = self._ids[slot]
        self._slots.pop(entry_id, None)
        self._free(slot)

    def _free(self, slot: int) -> None:
        self._stored[slot] = -np.inf
        self._scopes[slot] = None
        self._entries[slot] = None
        self._ids[slot] = None


# KEYS[1]: the stream. ARGV: max entries, ttl ms, scope, stored_at, vector bytes, payload JSON
_APPEND = r"""
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',
  's', ARGV[3], 't', ARGV[4], 'v', ARGV[5], 'p', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return id
"""
# KEYS[1]: the stream. ARGV[1]: the last id read ("-": none yet), ARGV[2]: how many at most
_READ = r"""
local first = ARGV[1]
if first ~= '-' then first = '(' .. first end
return redis.call('XRANGE', KEYS[1], first, '+', 'COUNT', ARGV[2])
"""


class RedisVectorStore:
    """Entries shared through a Redis stream, mirrored into a local :class:`VectorIndex` (module docstring)."""

    def __init__(self, link: RedisLink, name: str, max_entries: int, ttl_s: float) -> None:
        self.link = link  # runs the scripts, classifies failures
        self.key = f"{name}:semcache"
        self.index = VectorIndex(max_entries, ttl_s)  # this process's mirror
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._last = "-"  # the last stream id mirrored
        self._append = link.script(_APPEND)
        self._read = link.script(_READ)

    async def nearest(self, scope: str, vector: NDArray[np.float32], now_wall: float) -> tuple[float, Entry] | None:
        """Mirror what was appended since the last read, then search; a Redis failure is a miss."""
        try:
            while True:
                batch = await self.link.run(self._read, [self.key], [self._last, 1000])
                for raw_id, fields in batch:
                    self._mirror(text(raw_id), fields)
                if len(batch) < 1000:
                    break
        except RedisUnavailable:
            return None
        return self.index.nearest(scope, vector, now_wall)

    async def add(self, vector: NDArray[np.float32], entry: Entry) -> bool:
        """Append the entry for every process (False: Redis failed, nothing stored)."""
        args = [
            self.max_entries, max(1, int(self.ttl_s * 1000)), entry.scope, repr(entry.stored_at),
            vector.astype("<f4").tobytes(), json.dumps(entry.payload, separators=(",", ":")),
        ]  # fmt: skip
        try:
            await self.link.run(self._append, [self.key], args)
        except RedisUnavailable:
            return False
        return True

    def _mirror(self, entry_id: str, flat: list[Any]) -> None:
        self._last = entry_id
        fields = {text(flat[i]): flat[i + 1] for i in range(0, len(flat) - 1, 2)}
        try:
            vector = np.frombuffer(fields["v"], dtype="<f4").astype(np.float32)
            entry = Entry(text(fields["s"]), float(text(fields["t"])), json.loads(fields["p"]))
        except (KeyError, ValueError, TypeError):
            return  # not an entry this store wrote: ignored
        self.index.add(entry_id, vector, entry)
