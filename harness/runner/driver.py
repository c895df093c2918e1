"""The load driver: issues the scenario's logical requests to the client under test, on time.

It knows nothing about providers, transports or time itself: it is handed a ``clock`` and a ``sleep``
(the virtual-time loop's, or real ones) and a :class:`ClientUnderTest`. Each logical request is issued
exactly once; the client is responsible for recording exactly one terminal outcome for it (the judge
counts any request without exactly one as lost, so the driver never fabricates outcomes).

* closed loop: ``users`` tasks, each: request → await the answer → think → next, until the duration ends;
* open loop: requests start at the scheduled offsets whatever the answers do.

After the duration no new request starts; in-flight ones get ``drain_s`` to finish, then are cancelled.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from harness.client.types import ChatRequest
from harness.clock import Clock, Sleep
from harness.records import OutcomeRecord
from harness.report.result import ClientEvent
from harness.runner.workload import Workload
from harness.scenario.load import LoadSpec, open_loop_arrivals
from harness.scenario.questions import question_of

__all__ = ["MIN_CYCLE_S", "ClientUnderTest", "DriveStats", "Progress", "drive"]

#: a closed-loop user whose answer took no time and who does not think waits this long before the next
#: request (at most 1000 requests per second per user), so that virtual time always moves forward
MIN_CYCLE_S = 0.001


class ClientUnderTest(Protocol):
    """A client the harness can drive and judge (the reference client, or an SDK behind an adapter)."""

    name: str

    async def call(self, request: ChatRequest) -> bool:
        """Send one logical request; True when a complete answer came back. Records one outcome."""
        ...

    def outcomes(self) -> list[OutcomeRecord]:
        """Every terminal outcome recorded so far, one per logical request."""
        ...

    def events(self) -> list[ClientEvent]:
        """Breaker changes, budget warnings, key rotations …"""
        ...

    def state(self) -> str:
        """A short live status for progress displays (e.g. the breaker state)."""
        ...

    async def aclose(self) -> None: ...


@dataclass(slots=True)
class Progress:
    """Live counters, updated as the run goes; read by progress displays."""

    t_s: float = 0.0  # seconds since the run started (virtual or real)
    issued: int = 0
    completed: int = 0
    ok: int = 0
    crashed: int = 0  # calls that raised out of the client (a client bug: the request is likely lost)
    in_flight: int = 0


@dataclass(slots=True)
class DriveStats:
    """What the driver did."""

    t0: float  # run start on the clock
    t_end: float = 0.0  # when the last request finished (or was cancelled)
    issued_ids: list[str] = field(default_factory=list)
    cancelled: int = 0  # requests still in flight after the drain period
    crashes: list[str] = field(default_factory=list)  # one line per exception that escaped the client
    questions: dict[str, str] = field(default_factory=dict)  # id → the pool question it asks (questions_share)


async def drive(
    load: LoadSpec,
    workload: Workload,
    client: ClientUnderTest,
    *,
    duration_s: float,
    drain_s: float,
    clock: Clock,
    sleep: Sleep,
    seed: int,
    on_progress: Callable[[Progress], None] | None = None,
    progress_every_s: float = 1.0,
) -> DriveStats:
    """Run the load against ``client``; returns the issued ids and timings."""
    t0 = clock()
    stats = DriveStats(t0=t0)
    progress = Progress()
    end = t0 + duration_s
    limit = load.max_requests if load.max_requests is not None else float("inf")
    tasks: set[asyncio.Task[None]] = set()
    asks_questions = load.questions_share > 0

    async def one(request: ChatRequest) -> None:
        progress.in_flight += 1
        try:
            ok = await client.call(request)
            progress.ok += int(ok)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a client bug; the judge will count the request as lost
            progress.crashed += 1
            stats.crashes.append(f"{request.request_id}: {type(exc).__name__}: {exc}"[:300])
        finally:
            progress.in_flight -= 1
            progress.completed += 1

    def issue(request: ChatRequest) -> None:
        assert request.request_id is not None
        stats.issued_ids.append(request.request_id)
        progress.issued += 1
        if asks_questions:
            question = question_of(request.messages[-1].content)
            if question is not None:
                stats.questions[request.request_id] = question

    async def user(slot: int, start_offset: float) -> None:
        rng = random.Random((seed << 20) ^ slot)
        if start_offset > 0:
            await sleep(start_offset)
        k = 0
        while clock() < end and progress.issued < limit:
            if load.requests_per_user is not None and k >= load.requests_per_user:
                return
            request = workload.request(k * load.users + slot, user_slot=slot)
            issue(request)
            began = clock()
            await one(request)
            k += 1
            think = load.think_s.sample(rng)
            if think <= 0 and clock() == began:
                # an instant answer and no think time: without a floor, virtual time would never move
                think = MIN_CYCLE_S
            if clock() + think >= end:
                return  # no time left for another request: do not hold the run open thinking
            if think > 0:
                await sleep(think)

    async def reporter() -> None:
        while True:
            progress.t_s = clock() - t0
            if on_progress is not None:
                on_progress(progress)
            await sleep(progress_every_s)

    reporting = asyncio.create_task(reporter()) if on_progress is not None else None
    try:
        if load.mode == "closed":
            spread_rng = random.Random(seed ^ 0x5EED)
            for slot in range(load.users):
                offset = spread_rng.uniform(0, load.start_spread_s) if load.start_spread_s > 0 else 0.0
                task = asyncio.create_task(user(slot, offset))
                tasks.add(task)
        else:
            arrivals = open_loop_arrivals(load, duration_s, random.Random(seed ^ 0xA11))
            for index, offset in enumerate(arrivals):
                wait = t0 + offset - clock()
                if wait > 0:
                    await sleep(wait)
                request = workload.request(index)
                issue(request)
                task = asyncio.create_task(one(request))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        await _drain(tasks, end + drain_s, clock, stats)
    finally:
        if reporting is not None:
            reporting.cancel()
            progress.t_s = clock() - t0
            if on_progress is not None:
                on_progress(progress)
    stats.t_end = clock()
    return stats


async def _drain(tasks: set[asyncio.Task[None]], deadline: float, clock: Clock, stats: DriveStats) -> None:
    """Wait for every task until ``deadline``; cancel what is left."""
    pending = {t for t in tasks if not t.done()}
    if pending:
        timeout = max(0.0, deadline - clock())
        _, pending = await asyncio.wait(pending, timeout=timeout)
    for task in pending:
        task.cancel()
    if pending:
        stats.cancelled = len(pending)
        await asyncio.gather(*pending, return_exceptions=True)
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            stats.crashes.append(f"{type(exc).__name__}: {exc}"[:300])
