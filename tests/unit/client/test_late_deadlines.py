"""A deadline timer that runs late (a paused loop) lets bytes that already arrived win; one on time does not wait.

The pause is made with ``time.sleep`` on the loop's thread (what a garbage collection or a descheduled
process looks like to the loop): the peer's bytes reach the socket while the loop is stopped, so when it
resumes, the read and the passed deadline fall in the same turn.
"""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from harness import vtime
from harness.client.streaming import Deadline, DeadlineWatch


async def _read_through_a_pause(make: str, send: bool) -> str:
    loop = asyncio.get_running_loop()
    ours, theirs = socket.socketpair()
    reader, writer = await asyncio.open_connection(sock=ours)
    watch = DeadlineWatch()
    try:

        async def read() -> str:
            timer = watch.deadline() if make == "watch" else Deadline()
            timer.arm(loop.time() + 0.05, "stall")
            try:
                return (await reader.read(10)).decode()
            except asyncio.CancelledError:
                assert timer.expired()
                return "stalled"
            finally:
                timer.disarm()

        task = asyncio.create_task(read())
        await asyncio.sleep(0)  # the read is waiting, its deadline armed
        if send:
            theirs.sendall(b"hi")
        # the loop stopped past the deadline (on purpose: a pause), the bytes (if any) waiting in the socket
        time.sleep(0.2)  # noqa: ASYNC251
        return await task
    finally:
        writer.close()
        theirs.close()


@pytest.mark.parametrize("make", ["watch", "own timer"])
def test_bytes_that_arrived_during_a_pause_beat_the_late_deadline(make: str) -> None:
    assert asyncio.run(_read_through_a_pause(make, send=True)) == "hi"


@pytest.mark.parametrize("make", ["watch", "own timer"])
def test_a_late_deadline_with_nothing_to_read_still_cancels(make: str) -> None:
    assert asyncio.run(_read_through_a_pause(make, send=False)) == "stalled"


def test_in_virtual_time_a_deadline_cancels_at_its_time() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        timer = DeadlineWatch().deadline()
        timer.arm(loop.time() + 2.0, "stall")
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            assert timer.expired()
            return loop.time()
        finally:
            timer.disarm()
        return -1.0

    assert vtime.run(main()) == 2.0
