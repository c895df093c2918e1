"""Injected time.

Every policy and the provider core take a ``clock: Clock`` (a zero-argument callable returning seconds
on a monotonic scale) instead of calling ``time.monotonic`` themselves. Under the virtual-time runner
the clock is the event loop's ``time``; in unit tests it is a :class:`ManualClock` moved by hand.
Waiting goes through one ``Sleep`` function, so nothing in the cores ever blocks.

Example::

    clock = ManualClock()
    bucket = TokenBucket(rate_per_s=1.0, capacity=5, clock=clock)
    clock.advance(2.5)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

__all__ = ["Clock", "ManualClock", "Sleep", "loop_clock", "monotonic", "wall"]

#: seconds on a monotonic scale
Clock = Callable[[], float]
#: awaitable sleep of the given number of seconds (asyncio.sleep, or a virtual one)
Sleep = Callable[[float], Awaitable[None]]

monotonic: Clock = time.monotonic
wall: Clock = time.time


def loop_clock() -> Clock:
    """The running event loop's clock: virtual under the virtual-time loop, monotonic otherwise."""
    return asyncio.get_running_loop().time


class ManualClock:
    """A clock that moves only when told to; for tests and simulations.

    >>> c = ManualClock(10.0)
    >>> c.advance(0.5); c()
    10.5
    """

    __slots__ = ("now",)

    def __init__(self, start: float = 0.0) -> None:
        self.now = start  # current reading in seconds

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"a clock cannot go back: advance({seconds})")
        self.now += seconds

    def set(self, now: float) -> None:
        if now < self.now:
            raise ValueError(f"a clock cannot go back: set({now}) from {self.now}")
        self.now = now

    def __repr__(self) -> str:
        return f"ManualClock(now={self.now})"
