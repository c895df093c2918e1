"""Running asyncio code from Locust's greenlets: one event loop on its own OS thread per process.

Locust runs on gevent; the reference client (and aiohttp, redis.asyncio, the SDKs) on asyncio. A
greenlet hands its coroutine to the loop with :func:`asyncio.run_coroutine_threadsafe` and waits on a
gevent *async watcher* that the loop thread fires when the coroutine ends, so while one user waits the
gevent hub keeps running every other user, Locust's runner and its web UI.

Locust monkey-patches the standard library on import (``gevent.monkey.patch_all``), and three of those
patches would reach into the loop's thread, so the bridge takes the originals back for it:

* the thread itself: a patched ``threading.Thread`` is a greenlet; the loop gets a real OS thread
  (``_thread.start_new_thread`` as it was before patching);
* the selector: the patched ``selectors.DefaultSelector`` waits through a gevent hub; the loop gets the
  original epoll selector;
* the loop's default executor (``run_in_executor(None, …)``: name resolution for host names, file I/O
  of some libraries): ``concurrent.futures.ThreadPoolExecutor`` would start greenlets that never run on
  the loop's thread; the bridge gives the loop a small pool of real threads fed by the original queue.

Sockets stay gevent's (the patched ``socket.socket`` class); in non-blocking mode, as asyncio uses
them, they behave as plain sockets. ``tests/integration/test_locust_bridge.py`` drives aiohttp, name
resolution and redis.asyncio through the bridge under a monkey-patched Locust process.

Example (in a locustfile)::

    from harness.locust import bridge
    status = bridge().run(fetch_status(url))      # blocks this greenlet only
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import gevent
from gevent import monkey

__all__ = ["AsyncBridge", "bridge"]

T = TypeVar("T")


def _original(module: str, name: str) -> Any:
    """The standard library's ``module.name`` as it was before gevent patched it."""
    return monkey.get_original(module, name)


class _NativeThreadPool(concurrent.futures.ThreadPoolExecutor):
    """A minimal executor on real OS threads (the loop's default executor under monkey-patching).

    A ``ThreadPoolExecutor`` by type only (asyncio insists on one): it starts no thread of that class.
    """

    def __init__(self, workers: int = 4) -> None:
        super().__init__(max_workers=workers, thread_name_prefix="harness-bridge")
        start = _original("_thread", "start_new_thread")
        self._queue: Any = _original("queue", "SimpleQueue")()  # the C queue: blocks the OS thread only
        self._workers = workers
        self._closed = False
        for _ in range(workers):
            start(self._work, ())

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            future, fn, args, kwargs = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        if self._closed:
            raise RuntimeError("the bridge's executor is shut down")
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._queue.put((future, fn, args, kwargs))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if not self._closed:
            self._closed = True
            for _ in range(self._workers):
                self._queue.put(None)


class AsyncBridge:
    """An asyncio loop on a real OS thread; greenlets run coroutines on it without blocking the hub."""

    def __init__(self) -> None:
        lock = _original("_thread", "allocate_lock")()
        lock.acquire()
        holder: list[asyncio.AbstractEventLoop] = []

        problems: list[BaseException] = []

        def serve() -> None:
            try:
                selector = _original("selectors", "DefaultSelector")()
                loop = asyncio.SelectorEventLoop(selector)
                loop.set_default_executor(_NativeThreadPool())
                asyncio.set_event_loop(loop)
                holder.append(loop)
            except BaseException as exc:
                problems.append(exc)
                self._stopped.release()
                return
            finally:
                lock.release()
            try:
                loop.run_forever()
            finally:
                loop.close()
                self._stopped.release()

        self._stopped = _original("_thread", "allocate_lock")()
        self._stopped.acquire()
        _original("_thread", "start_new_thread")(serve, ())
        lock.acquire()  # the thread is up and its loop exists (or it failed to make one)
        if problems:
            raise RuntimeError("the asyncio loop's thread could not start") from problems[0]
        self.loop = holder[0]  # the process's asyncio loop (runs on its own thread)

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start ``coro`` on the loop; the future completes on the loop's thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and wait for it, blocking only the calling greenlet.

        Killing the greenlet while it waits (Locust stopping a user) cancels the coroutine.
        """
        return self.wait(self.submit(coro))

    def wait(self, future: concurrent.futures.Future[T]) -> T:
        """Wait for a future completed by another thread, letting the hub run everything else meanwhile."""
        if not future.done():
            hub = gevent.get_hub()
            watcher = hub.loop.async_()
            future.add_done_callback(lambda _: watcher.send())  # thread-safe: wakes the hub
            try:
                while not future.done():
                    hub.wait(watcher)
            except BaseException:
                future.cancel()
                raise
            finally:
                watcher.close()
        return future.result()

    def call(self, fn: Callable[[], T]) -> T:
        """Run a plain function on the loop's thread (to build objects that belong to the loop)."""

        async def call() -> T:
            return fn()

        return self.run(call())

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop the loop (pending callbacks are dropped) and wait for its thread."""
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        # the stopped-lock is released by the loop's thread; poll it without blocking the hub
        deadline = time.monotonic() + timeout_s
        while not self._stopped.acquire(False):
            if time.monotonic() > deadline:
                return
            gevent.sleep(0.01)


_bridge: AsyncBridge | None = None


def bridge() -> AsyncBridge:
    """This process's bridge (started on first use)."""
    global _bridge
    if _bridge is None:
        _bridge = AsyncBridge()
    return _bridge
