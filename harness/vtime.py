"""Virtual time: an asyncio event loop whose clock jumps to the next timer when nothing is runnable.

Under :class:`VirtualTimeLoop`, ``asyncio.sleep(60)`` returns at once with ``loop.time()`` 60 seconds
later, timeouts (``asyncio.timeout``, ``wait_for``) fire in virtual time, and the order of events is
exactly what real time would give with infinitely fast code. A twenty-second outage with a thousand
clients is simulated in the time it takes to run its callbacks.

How: asyncio's ``_run_once`` asks the selector to wait up to the delay before the next scheduled
timer. Our selector never blocks for I/O that cannot come (there are no sockets in a virtual run): it
polls with a zero timeout and, if nothing is ready, advances the virtual clock by the requested
delay. When nothing is scheduled at all (a deadlock in virtual time, or a wait on a real thread) it
falls back to a real, short wait so that threads (``run_in_executor``) can still wake the loop.

Example::

    result = run(main(), start=0.0)      # like asyncio.run, in virtual time

Code that reads ``time.monotonic()`` directly sees real time; pass ``loop.time`` (see
:func:`harness.clock.loop_clock`) to anything that must follow the virtual clock.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

__all__ = ["VirtualTimeLoop", "run"]

_T = TypeVar("_T")

# Real seconds to block when nothing is scheduled: lets executor threads wake the loop.
_IDLE_REAL_WAIT_S = 0.05


class _VirtualSelector(selectors.BaseSelector):
    """Wraps a real selector; turns every blocking wait into a jump of the virtual clock."""

    def __init__(self, loop_ref: list[VirtualTimeLoop]) -> None:
        self._real = selectors.DefaultSelector()
        self._loop_ref = loop_ref

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._real.select(0)
        if ready:
            return ready
        loop = self._loop_ref[0]
        if timeout is None:
            # Nothing scheduled: only another thread (or a signal) can make progress.
            return self._real.select(_IDLE_REAL_WAIT_S)
        if timeout > 0:
            loop.advance(timeout)
        return ready

    def close(self) -> None:
        self._real.close()

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._real.get_map()


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop on a virtual clock that starts at ``start`` seconds."""

    def __init__(self, start: float = 0.0) -> None:
        ref: list[VirtualTimeLoop] = []
        super().__init__(selector=_VirtualSelector(ref))
        ref.append(self)
        self._virtual_now = float(start)  # the loop's clock, in seconds
        self._jumps = 0  # how many times the clock was advanced (idle jumps)

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        """Move the clock forward; called by the selector when the loop would otherwise sleep."""
        if seconds < 0:
            raise ValueError(f"virtual time cannot go back: advance({seconds})")
        self._virtual_now += seconds
        self._jumps += 1

    def __repr__(self) -> str:
        return f"<VirtualTimeLoop t={self._virtual_now:.6f} jumps={self._jumps} running={self.is_running()}>"


def run(main: Coroutine[Any, Any, _T], *, start: float = 0.0, debug: bool = False) -> _T:
    """Run a coroutine to completion on a fresh :class:`VirtualTimeLoop` (cf. ``asyncio.run``)."""
    with asyncio.Runner(debug=debug, loop_factory=lambda: VirtualTimeLoop(start)) as runner:
        return runner.run(main)
