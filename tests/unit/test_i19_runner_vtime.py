"""The virtual-time loop's own ``_run_once``, ``call_soon``, ``call_later`` and ``call_at`` run any program
exactly as asyncio's do on the same loop: the same callbacks in the same order at the same virtual times.

:class:`harness.vtime.VirtualTimeLoop` replaces asyncio's versions of these four (the path of record)
with versions that skip what a loop without sockets never needs (see the comment above them). Random
programs of sleeps (ties included), callbacks soon, later and at a time, cancelled timers (enough of
them for asyncio's purge of its timer heap), timeouts, ``wait_for``, futures resolved by timers, tasks
spawned and cancelled, debug mode switched on and off mid-run and a socket registered for a while
(both hand the turn back to asyncio's code) are run on both; their traces must be identical.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import vtime
from harness.vtime import VirtualTimeLoop

pytestmark = pytest.mark.skipif(not vtime._LEAN, reason="asyncio's own loop code runs on this Python")


class AsyncioLoop(VirtualTimeLoop):
    """The virtual clock with asyncio's own versions: the path of record."""

    call_soon = asyncio.SelectorEventLoop.call_soon
    call_later = asyncio.SelectorEventLoop.call_later
    call_at = asyncio.SelectorEventLoop.call_at
    _run_once = asyncio.SelectorEventLoop._run_once  # type: ignore[attr-defined]


DELAYS = (0, 0.0, -1.0, 0.1, 0.1 + 0.2, 0.3, 1.0, 2.5, 1e-9, 7.0)
delay = st.sampled_from(DELAYS)
op = st.one_of(
    st.tuples(st.just("sleep"), delay),
    st.tuples(st.just("soon"), st.integers(0, 3)),
    st.tuples(st.just("later"), delay),
    st.tuples(st.just("at"), delay),
    st.tuples(st.just("cancel"), st.integers(0, 50)),
    st.tuples(st.just("timeout"), delay, delay),
    st.tuples(st.just("wait_for"), delay, delay),
    st.tuples(st.just("future"), delay),
    st.tuples(st.just("spawn"), delay, st.booleans()),
    st.tuples(st.just("herd"), st.integers(90, 160), st.integers(0, 100)),
    st.tuples(st.just("debug"), st.booleans()),
    st.tuples(st.just("socket"), delay),
)
program = st.lists(st.lists(op, max_size=12), min_size=1, max_size=6)


def run_program(loop_class: type[VirtualTimeLoop], actors: list[list[tuple[Any, ...]]]) -> list[tuple[Any, ...]]:
    trace: list[tuple[Any, ...]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        assert type(loop) is loop_class
        handles: list[asyncio.TimerHandle] = []

        def note(*what: object) -> Callable[..., None]:
            return lambda *_: trace.append((*what, loop.time()))

        async def actor(a: int, ops: list[tuple[Any, ...]]) -> None:
            for i, (kind, *args) in enumerate(ops):
                trace.append((a, i, kind, loop.time()))
                if kind == "sleep":
                    await asyncio.sleep(args[0])
                elif kind == "soon":
                    for k in range(args[0]):
                        loop.call_soon(note(a, i, "soon", k))
                elif kind == "later":
                    handles.append(loop.call_later(args[0], note(a, i, "later")))
                elif kind == "at":
                    handles.append(loop.call_at(loop.time() + args[0], note(a, i, "at")))
                elif kind == "cancel" and handles:
                    handles[args[0] % len(handles)].cancel()
                elif kind in ("timeout", "wait_for"):
                    try:
                        if kind == "timeout":
                            async with asyncio.timeout(args[0]):
                                await asyncio.sleep(args[1])
                        else:
                            await asyncio.wait_for(asyncio.sleep(args[1]), args[0])
                    except TimeoutError:
                        trace.append((a, i, "timed out", loop.time()))
                elif kind == "future":
                    future = loop.create_future()
                    loop.call_later(args[0], future.set_result, (a, i))
                    trace.append((a, i, "resolved", await future, loop.time()))
                elif kind == "spawn":
                    task = asyncio.create_task(asyncio.sleep(args[0]))
                    task.add_done_callback(note(a, i, "spawned done"))
                    if args[1]:
                        loop.call_soon(task.cancel)
                elif kind == "herd":  # enough timers, most cancelled, for asyncio's purge of its heap
                    herd = [loop.call_later(5.0 + k / 7, note(a, i, "herd", k)) for k in range(args[0])]
                    for k, timer in enumerate(herd):
                        if k % 100 < args[1]:
                            timer.cancel()
                elif kind == "debug":
                    loop.set_debug(args[0])
                elif kind == "socket":  # a socket registered: the turn is asyncio's again
                    reader, writer = socket.socketpair()
                    loop.add_reader(reader.fileno(), note(a, i, "readable"))  # never readable: nothing is sent
                    await asyncio.sleep(args[0])
                    loop.remove_reader(reader.fileno())
                    reader.close()
                    writer.close()
            trace.append((a, "done", loop.time()))

        await asyncio.gather(*(actor(a, ops) for a, ops in enumerate(actors)))
        await asyncio.sleep(60)  # every timer left fires
        trace.append(("end", loop.time(), loop._jumps, len(loop._scheduled)))  # type: ignore[attr-defined]

    with asyncio.Runner(loop_factory=lambda: loop_class(100.0)) as runner:
        runner.run(main())
    return trace


@settings(max_examples=300, deadline=None)
@given(program)
def test_the_loop_runs_any_program_as_asyncios_code_does(actors: list[list[tuple[Any, ...]]]) -> None:
    assert run_program(VirtualTimeLoop, actors) == run_program(AsyncioLoop, actors)


def test_the_programs_reach_every_path() -> None:
    """The ties, the purge of cancelled timers and a debug turn happen in the programs above."""
    actors = [
        [("herd", 150, 80), ("sleep", 0.3), ("later", 0.3), ("debug", True), ("sleep", 0.1), ("debug", False)],
        [("sleep", 0.1 + 0.2), ("at", 0.0), ("soon", 2), ("timeout", 0.1, 1.0), ("cancel", 3), ("sleep", 7.0)],
        [("socket", 0.1), ("future", 0.3), ("wait_for", 1.0, 0.1), ("spawn", 0.3, True), ("spawn", 0.3, False)],
    ]
    purges: list[int] = []
    original = asyncio.SelectorEventLoop._run_once  # type: ignore[attr-defined]

    def counting(loop: asyncio.AbstractEventLoop) -> None:
        purges.append(loop._timer_cancelled_count)  # type: ignore[attr-defined]
        original(loop)

    lean = run_program(VirtualTimeLoop, actors)
    assert lean == run_program(AsyncioLoop, actors)
    assert sum(1 for event in lean if event[2:3] == ("herd",) and len(event) == 5) == 20  # k % 100 < 80 cancelled
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(asyncio.SelectorEventLoop, "_run_once", counting)
        assert run_program(VirtualTimeLoop, actors) == lean
    assert any(count > 50 for count in purges)  # the purge ran on asyncio's code, as it must
    assert sys.version_info[:2] in vtime._LEAN_PYTHONS
