"""Request coalescing (single flight), off by default: identical in-flight requests share one call.

The first caller of a key becomes the leader and makes the call; callers of the same key that
arrive while it is in flight wait for the leader's answer (or its error) instead of sending their
own. A follower's answer is the leader's, with ``source = "coalesced"``, zero cost and zero attempts:
the provider billed one request. If the leader is cancelled (its caller went away), the followers do
not inherit the cancellation: the next one in line becomes the leader and calls again.

Only plain (``chat``) calls coalesce; a stream belongs to its one caller.

Example::

    flight = SingleFlight()
    response = await flight.run(request_key(request), lambda: client_call(request))
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["SingleFlight"]

_T = TypeVar("_T")


class _LeaderGone(Exception):
    """The leader was cancelled: a follower must call for itself."""


class SingleFlight(Generic[_T]):
    """At most one call in flight per key; the others wait for its result."""

    def __init__(self) -> None:
        self._flights: dict[Hashable, asyncio.Future[_T]] = {}
        self.coalesced = 0  # callers served by another caller's call

    def in_flight(self, key: Hashable) -> bool:
        return key in self._flights

    async def run(self, key: Hashable, call: Callable[[], Awaitable[_T]]) -> tuple[_T, bool]:
        """The call's result and whether it was another caller's (True: coalesced)."""
        while True:
            flight = self._flights.get(key)
            if flight is None:
                break
            try:
                result = await asyncio.shield(flight)
            except _LeaderGone:
                continue
            self.coalesced += 1
            return result, True
        future: asyncio.Future[_T] = asyncio.get_running_loop().create_future()
        self._flights[key] = future
        try:
            result = await call()
        except asyncio.CancelledError:
            future.set_exception(_LeaderGone())
            raise
        except BaseException as exc:
            future.set_exception(exc)
            raise
        else:
            future.set_result(result)
            return result, False
        finally:
            del self._flights[key]
            if future.done() and not future.cancelled():
                future.exception()  # retrieved: no "exception was never retrieved" warning without followers

    def __repr__(self) -> str:
        return f"SingleFlight(in_flight={len(self._flights)}, coalesced={self.coalesced})"
