"""The virtual-time loop: sleeps and timeouts jump the clock; order is what real time would give."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from harness.vtime import VirtualTimeLoop, run


def test_sleep_jumps_the_clock() -> None:
    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.sleep(3600)
        return start, loop.time()

    start, end = run(main(), start=100.0)
    assert start == 100.0
    assert end == pytest.approx(3700.0)


def test_timeouts_fire_in_virtual_time() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(5):
                await asyncio.sleep(1000)
        return loop.time()

    assert run(main()) == pytest.approx(5.0)


def test_concurrent_sleepers_wake_in_deadline_order() -> None:
    async def main() -> list[tuple[int, float]]:
        loop = asyncio.get_running_loop()
        woke: list[tuple[int, float]] = []

        async def sleeper(i: int, delay: float) -> None:
            await asyncio.sleep(delay)
            woke.append((i, loop.time()))

        delays = [0.3, 0.1, 0.2, 0.1, 5.0]
        await asyncio.gather(*(sleeper(i, d) for i, d in enumerate(delays)))
        return woke

    woke = run(main())
    assert [i for i, _ in woke] == [1, 3, 2, 0, 4]
    assert [t for _, t in woke] == pytest.approx([0.1, 0.1, 0.2, 0.3, 5.0])


def test_executor_threads_still_wake_the_loop() -> None:
    async def main() -> int:
        return await asyncio.get_running_loop().run_in_executor(None, lambda: 42)

    assert run(main()) == 42


def test_clock_cannot_go_back() -> None:
    loop = VirtualTimeLoop()
    try:
        with pytest.raises(ValueError, match="cannot go back"):
            loop.advance(-1)
    finally:
        loop.close()


def _slow_thread_work() -> str:
    import time

    time.sleep(0.05)  # real time on a real thread
    return "done"


@pytest.mark.parametrize("via", ["run_in_executor", "to_thread", "anyio"])
def test_thread_work_takes_no_virtual_time(via: str) -> None:
    # a timer one virtual second away must not fire while a thread works: the loop waits for the thread
    # instead of jumping the clock (a library resolving its config on a thread would otherwise see its
    # own deadline pass at once)
    import anyio.to_thread

    async def main() -> tuple[str, float]:
        loop = asyncio.get_running_loop()
        if via == "run_in_executor":
            work = loop.run_in_executor(None, _slow_thread_work)
        elif via == "to_thread":
            work = asyncio.ensure_future(asyncio.to_thread(_slow_thread_work))
        else:
            work = asyncio.ensure_future(anyio.to_thread.run_sync(_slow_thread_work))
        async with asyncio.timeout(1.0):
            result = await work
        return result, loop.time()

    result, elapsed = run(main())
    assert result == "done"
    assert elapsed == 0.0
    assert asyncio.run(_on_a_plain_loop()) == "done"  # the anyio hook passes through elsewhere


async def _on_a_plain_loop() -> str:
    import anyio.to_thread

    return await anyio.to_thread.run_sync(_slow_thread_work)


def test_no_system_call_while_nothing_but_timers_can_happen(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without sockets or threads at work the selector is not asked (the clock still jumps exactly);
    with a socket registered it is asked again."""
    polls: list[float | None] = []

    async def main() -> float:
        loop = asyncio.get_running_loop()
        selector = loop._selector  # type: ignore[attr-defined]
        real_select = selector._real.select

        def counted(timeout: float | None = None) -> list[object]:
            polls.append(timeout)
            return real_select(timeout)  # type: ignore[no-any-return]

        monkeypatch.setattr(selector._real, "select", counted)
        for _ in range(5):
            await asyncio.sleep(2)
        assert polls == []
        reader, writer = socket.socketpair()
        loop.add_reader(reader.fileno(), lambda: None)
        await asyncio.sleep(1)
        loop.remove_reader(reader.fileno())
        reader.close()
        writer.close()
        assert polls  # a socket could be ready: polled
        return loop.time()

    assert run(main()) == pytest.approx(11.0)


def test_a_callback_a_thread_hands_over_is_run_before_the_clock_jumps() -> None:
    async def main() -> list[tuple[str, float]]:
        loop = asyncio.get_running_loop()
        seen: list[tuple[str, float]] = []
        done = threading.Event()

        def from_thread() -> None:
            loop.call_soon_threadsafe(lambda: seen.append(("thread", loop.time())))
            done.set()

        thread = threading.Thread(target=from_thread)
        thread.start()
        done.wait()
        thread.join()
        await asyncio.sleep(10)
        seen.append(("slept", loop.time()))
        return seen

    assert run(main()) == [("thread", 0.0), ("slept", 10.0)]
