"""An exact-match response cache (off by default).

Keyed by the requested model, the messages and every parameter that shapes the answer (max_tokens,
temperature, stop); by default only requests with ``temperature == 0`` are cached, since at any
other temperature the provider would not give the same answer twice. Entries expire after ``ttl_s``
on the injected clock; beyond ``max_entries`` the least recently used one goes. A hit costs nothing:
the answer is returned with ``source = "cache"``, zero cost and zero attempts.

Example::

    cache = ResponseCache(CacheConfig(enabled=True, ttl_s=60), clock=loop_clock())
    key = request_key(request)
    cache.get(key) or cache.put(key, response)
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

from harness.client.config import CacheConfig
from harness.client.types import ChatRequest, ChatResponse
from harness.clock import Clock

__all__ = ["ResponseCache", "request_key"]


def request_key(request: ChatRequest) -> Hashable:
    """What makes two requests ask for the same answer (not who asks, nor whether it is streamed)."""
    return (request.model, request.messages, request.max_tokens, request.temperature, request.stop)


class ResponseCache:
    """Answers by request key, with a time to live and an LRU bound."""

    def __init__(self, config: CacheConfig, *, clock: Clock) -> None:
        self.config = config  # ttl, size, eligibility
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, ChatResponse]] = OrderedDict()  # key → (stored at, answer)
        self.hits = 0
        self.misses = 0

    def eligible(self, request: ChatRequest) -> bool:
        return not self.config.temperature_zero_only or request.temperature == 0

    def get(self, key: Hashable) -> ChatResponse | None:
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        stored_at, response = entry
        if self._clock() - stored_at > self.config.ttl_s:
            del self._entries[key]
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return response

    def put(self, key: Hashable, response: ChatResponse) -> None:
        self._entries[key] = (self._clock(), response)
        self._entries.move_to_end(key)
        while len(self._entries) > self.config.max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"ResponseCache({len(self._entries)} entries, hits={self.hits}, misses={self.misses})"
