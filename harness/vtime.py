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
import heapq
import importlib.util
import selectors
import sys
from asyncio import base_events, events
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from contextvars import Context
from typing import Any, TypeVar, TypeVarTuple, Unpack

__all__ = ["VirtualTimeLoop", "run"]

_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")

# Real seconds to block when nothing is scheduled: lets executor threads wake the loop.
_IDLE_REAL_WAIT_S = 0.05

#: the Pythons whose ``BaseEventLoop._run_once``, ``call_soon``, ``call_at`` and ``call_later`` the loop's
#: own versions of them were written from (line by line: see VirtualTimeLoop._run_once); on any other
#: the loop uses asyncio's, unchanged
_LEAN_PYTHONS = ((3, 11), (3, 12), (3, 13))
_LEAN = sys.version_info[:2] in _LEAN_PYTHONS
_Handle, _TimerHandle = events.Handle, events.TimerHandle
_heappush, _heappop = heapq.heappush, heapq.heappop
_MAXIMUM_SELECT_TIMEOUT = base_events.MAXIMUM_SELECT_TIMEOUT  # type: ignore[attr-defined]
_MIN_SCHEDULED_TIMER_HANDLES = base_events._MIN_SCHEDULED_TIMER_HANDLES  # type: ignore[attr-defined]
_MIN_CANCELLED_TIMER_HANDLES_FRACTION = base_events._MIN_CANCELLED_TIMER_HANDLES_FRACTION  # type: ignore[attr-defined]


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

    # -- the loop's hot paths ------------------------------------------------------------------------------
    # A virtual run is nothing but callbacks and timers: every request of a simulation costs a few loop
    # turns, a few call_soon and two call_later (a sleep each). asyncio's versions of these do work a
    # virtual loop without sockets never needs: the selector asked for events that cannot come, the events
    # processed, _check_closed and the debug checks as calls. The versions below do the same steps in the
    # same order without those calls, and only while that holds (not in debug mode, no socket registered,
    # no thread at work, no purge of cancelled timers due): otherwise asyncio's own code runs. Callbacks
    # run in exactly asyncio's order, the clock jumps exactly as the selector jumps it
    # (tests/unit/test_i19_runner_vtime.py holds them to asyncio's versions on random programs).

    def call_soon(
        self, callback: Callable[[Unpack[_Ts]], object], *args: *_Ts, context: Context | None = None
    ) -> asyncio.Handle:
        if self._debug or not _LEAN:  # type: ignore[attr-defined]
            return super().call_soon(callback, *args, context=context)
        if self._closed:  # type: ignore[attr-defined]  # _check_closed
            raise RuntimeError("Event loop is closed")
        handle = _Handle(callback, args, self, context)
        self._ready.append(handle)  # type: ignore[attr-defined]
        return handle

    def call_later(
        self,
        delay: float,
        callback: Callable[[Unpack[_Ts]], object],
        *args: *_Ts,
        context: Context | None = None,
    ) -> asyncio.TimerHandle:
        if delay is None or self._debug or not _LEAN:  # type: ignore[attr-defined]
            return super().call_later(delay, callback, *args, context=context)
        return self.call_at(self.time() + delay, callback, *args, context=context)

    def call_at(
        self,
        when: float,
        callback: Callable[[Unpack[_Ts]], object],
        *args: *_Ts,
        context: Context | None = None,
    ) -> asyncio.TimerHandle:
        if when is None or self._debug or not _LEAN:  # type: ignore[attr-defined]
            return super().call_at(when, callback, *args, context=context)
        if self._closed:  # type: ignore[attr-defined]  # _check_closed
            raise RuntimeError("Event loop is closed")
        timer = _TimerHandle(when, callback, args, self, context)
        _heappush(self._scheduled, timer)  # type: ignore[attr-defined]
        timer._scheduled = True  # type: ignore[attr-defined]
        return timer

    def _run_once(self) -> None:
        """asyncio's ``BaseEventLoop._run_once``, step by step, with the selector's no-socket path inline."""
        scheduled: list[asyncio.TimerHandle] = self._scheduled  # type: ignore[attr-defined]
        sched_count = len(scheduled)
        if (
            self._debug  # type: ignore[attr-defined]
            or not _LEAN
            or self.threads_busy
            or self._selector._files > 1  # type: ignore[attr-defined]
            or (
                sched_count > _MIN_SCHEDULED_TIMER_HANDLES
                and self._timer_cancelled_count / sched_count > _MIN_CANCELLED_TIMER_HANDLES_FRACTION  # type: ignore[attr-defined]
            )
        ):
            super()._run_once()  # type: ignore[misc]
            return
        # Remove delayed calls that were cancelled from head of queue.
        while scheduled and scheduled[0]._cancelled:
            self._timer_cancelled_count -= 1  # type: ignore[attr-defined]
            handle = _heappop(scheduled)
            handle._scheduled = False  # type: ignore[attr-defined]
        ready: deque[asyncio.Handle] = self._ready  # type: ignore[attr-defined]
        if ready or self._stopping:  # type: ignore[attr-defined]
            pass  # timeout 0: the selector returns at once, the clock stays
        elif scheduled:
            timeout = scheduled[0]._when - self.time()  # type: ignore[attr-defined]
            if timeout > _MAXIMUM_SELECT_TIMEOUT:
                timeout = _MAXIMUM_SELECT_TIMEOUT
            # what _VirtualSelector.select does without a socket or a thread at work; a callback a thread
            # handed over meanwhile keeps the clock where it is
            if timeout > 0 and not ready:
                self.advance(timeout)
        else:  # nothing scheduled: the selector waits in real time for a thread or a signal
            self._process_events(self._selector.select(None))  # type: ignore[attr-defined]
        # Handle 'later' callbacks that are ready.
        end_time = self.time() + self._clock_resolution  # type: ignore[attr-defined]
        while scheduled:
            timer = scheduled[0]
            if timer._when >= end_time:  # type: ignore[attr-defined]
                break
            timer = _heappop(scheduled)
            timer._scheduled = False  # type: ignore[attr-defined]
            ready.append(timer)
        timer = None  # type: ignore[assignment]
        # Run the callbacks ready now, not those they schedule (they are for the next turn).
        popleft = ready.popleft
        callback: asyncio.Handle | None
        for _ in range(len(ready)):
            callback = popleft()
            if callback._cancelled:
                continue
            if self._debug:  # type: ignore[attr-defined]  # turned on by a callback of this turn
                self._run_debug(callback)
            else:
                callback._run()
        callback = None  # Needed to break cycles when an exception occurs.

    def _run_debug(self, handle: asyncio.Handle) -> None:
        """A callback run as asyncio's loop runs it in debug mode (timed, a slow one logged)."""
        try:
            self._current_handle = handle
            t0 = self.time()
            handle._run()
            dt = self.time() - t0
            if dt >= self.slow_callback_duration:
                base_events.logger.warning("Executing %s took %.3f seconds", base_events._format_handle(handle), dt)  # type: ignore[attr-defined]
        finally:
            self._current_handle = None  # type: ignore[assignment]

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
