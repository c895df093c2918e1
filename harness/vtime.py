"""Virtual time: an asyncio event loop whose clock jumps to the next timer when nothing is runnable.

Under :class:`VirtualTimeLoop`, ``asyncio.sleep(60)`` returns at once with ``loop.time()`` 60 seconds
later, timeouts (``asyncio.timeout``, ``wait_for``) fire in virtual time, and the order of events is
exactly what real time would give with infinitely fast code. A twenty-second outage with a thousand
clients is simulated in the time it takes to run its callbacks.

How: asyncio's ``_run_once`` asks the selector to wait up to the delay before the next scheduled
timer. Our selector never blocks for I/O that cannot come (there are no sockets in a virtual run): it
polls with a zero timeout and, if nothing is ready, advances the virtual clock by the requested
delay. Work handed to a thread with ``run_in_executor`` (``asyncio.to_thread``) takes no virtual
time, and neither does work on anyio's worker threads (``anyio.to_thread.run_sync``, which the
official SDKs and LiteLLM use): while any is in flight the loop waits for it in real time instead of
jumping — otherwise every
timer would fire before the thread returns (a library that resolves its config on a thread would see
its own deadline pass at once). When nothing is scheduled at all (a deadlock in virtual time, or a
wait on some other real thread) it falls back to a real, short wait so that threads can still wake
the loop.

Example::

    result = run(main(), start=0.0)      # like asyncio.run, in virtual time

Code that reads ``time.monotonic()`` directly sees real time; pass ``loop.time`` (see
:func:`harness.clock.loop_clock`) to anything that must follow the virtual clock.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import selectors
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar, TypeVarTuple, Unpack

__all__ = ["VirtualTimeLoop", "run"]

_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")

# Real seconds to block when nothing is scheduled: lets executor threads wake the loop.
_IDLE_REAL_WAIT_S = 0.05


class _VirtualSelector(selectors.BaseSelector):
    """Wraps a real selector; turns every blocking wait into a jump of the virtual clock."""

    def __init__(self, loop_ref: list[VirtualTimeLoop]) -> None:
        self._real = selectors.DefaultSelector()
        self._loop_ref = loop_ref
        self._files = 0  # registered files; the loop's own wake-up pipe is the first

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        key = self._real.register(fileobj, events, data)
        self._files += 1
        return key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        key = self._real.unregister(fileobj)
        self._files -= 1
        return key

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        loop = self._loop_ref[0]
        if timeout is not None and self._files <= 1 and not loop.threads_busy:
            # no socket, no thread at work: only the wake-up pipe could be ready, and what a thread or a
            # signal hands the loop is in its ready queue already (the pipe only wakes a blocked select):
            # no system call; the clock jumps unless a callback arrived meanwhile
            if timeout > 0 and not loop.ready_queue:
                loop.advance(timeout)
            return []
        ready = self._real.select(0)
        if ready:
            return ready
        if loop.threads_busy:
            # a thread the loop is waiting for is still working: it takes no virtual time
            return self._real.select(_IDLE_REAL_WAIT_S if timeout is None else min(timeout, _IDLE_REAL_WAIT_S))
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
        self.threads_busy = 0  # run_in_executor calls still running
        self.ready_queue: deque[asyncio.Handle] = self._ready  # type: ignore[attr-defined]  # callbacks due now

    def run_in_executor(
        self, executor: concurrent.futures.Executor | None, func: Callable[[Unpack[_Ts]], _T], *args: *_Ts
    ) -> asyncio.Future[_T]:
        future = super().run_in_executor(executor, func, *args)
        self.threads_busy += 1
        future.add_done_callback(self._thread_done)
        return future

    def _thread_done(self, _: asyncio.Future[Any]) -> None:
        self.threads_busy -= 1

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


def _count_anyio_threads() -> None:
    """Make anyio's worker-thread calls count as thread work on a :class:`VirtualTimeLoop`.

    anyio runs ``to_thread.run_sync`` on its own threads and reports back with
    ``call_soon_threadsafe``, not through ``run_in_executor``; its asyncio backend's one entry point is
    wrapped (once per process) to keep :attr:`VirtualTimeLoop.threads_busy` while the thread works. On
    any other loop the wrapper is a plain pass-through. Without anyio, or with a layout this does not
    know, nothing is patched.
    """
    if importlib.util.find_spec("anyio") is None:
        return
    try:
        from anyio._backends._asyncio import AsyncIOBackend
    except ImportError:
        return
    original = AsyncIOBackend.__dict__.get("run_sync_in_worker_thread")
    func = getattr(original, "__func__", None)
    if not isinstance(original, classmethod) or func is None or getattr(func, "_vtime_counted", False):
        return

    async def counted(cls: type, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        if not isinstance(loop, VirtualTimeLoop):
            return await func(cls, *args, **kwargs)
        loop.threads_busy += 1
        try:
            return await func(cls, *args, **kwargs)
        finally:
            loop.threads_busy -= 1

    counted._vtime_counted = True  # type: ignore[attr-defined]
    AsyncIOBackend.run_sync_in_worker_thread = classmethod(counted)  # type: ignore[method-assign,assignment]


def run(main: Coroutine[Any, Any, _T], *, start: float = 0.0, debug: bool = False) -> _T:
    """Run a coroutine to completion on a fresh :class:`VirtualTimeLoop` (cf. ``asyncio.run``)."""
    _count_anyio_threads()
    with asyncio.Runner(debug=debug, loop_factory=lambda: VirtualTimeLoop(start)) as runner:
        return runner.run(main)
