"""The load driver on a virtual clock, with a scripted client."""

from __future__ import annotations

import asyncio

from harness.client.types import ChatRequest
from harness.records import OutcomeRecord
from harness.report.result import ClientEvent
from harness.runner.driver import DriveStats, Progress, drive
from harness.runner.workload import Workload
from harness.scenario.load import LoadSpec
from harness.validate import Table
from harness.vtime import run


class Scripted:
    """Answers after ``latency`` seconds; fails every request whose index is in ``fail``; may crash."""

    name = "scripted"

    def __init__(self, latency: float, crash_on: str | None = None) -> None:
        self.latency = latency
        self.crash_on = crash_on
        self.log: list[OutcomeRecord] = []
        self.starts: list[float] = []

    async def call(self, request: ChatRequest) -> bool:
        loop = asyncio.get_running_loop()
        start = loop.time()
        self.starts.append(start)
        if request.request_id == self.crash_on:
            raise RuntimeError("boom")
        await asyncio.sleep(self.latency)
        assert request.request_id is not None
        self.log.append(OutcomeRecord(request.request_id, True, "ok", start, loop.time(), request.model))
        return True

    def outcomes(self) -> list[OutcomeRecord]:
        return self.log

    def events(self) -> list[ClientEvent]:
        return []

    def state(self) -> str:
        return "closed"

    async def aclose(self) -> None:
        return None


def go(
    load: dict[str, object], client: Scripted, duration: float, drain: float = 5.0
) -> tuple[DriveStats, list[Progress]]:
    spec = LoadSpec.parse(Table(load, "load"))
    seen: list[Progress] = []

    async def main() -> DriveStats:
        loop = asyncio.get_running_loop()
        return await drive(
            spec,
            Workload(spec, 1, "gpt-4o-mini"),
            client,
            duration_s=duration,
            drain_s=drain,
            clock=loop.time,
            sleep=asyncio.sleep,
            seed=1,
            on_progress=lambda p: seen.append(Progress(p.t_s, p.issued, p.completed, p.ok, p.crashed, p.in_flight)),
        )

    return run(main()), seen


def test_closed_loop_users_wait_for_answers_and_think() -> None:
    client = Scripted(latency=1.0)
    stats, progress = go({"users": 3, "think_s": 1.0}, client, duration=10.0)
    # each user: request at 0, 2, 4, 6, 8 (1 s answer + 1 s think) → 5 each
    assert len(stats.issued_ids) == 15
    assert len(set(stats.issued_ids)) == 15
    assert sorted({round(s, 6) for s in client.starts}) == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert stats.t_end == 9.0
    assert progress[-1].completed == 15
    assert progress[-1].ok == 15


def test_open_loop_does_not_wait_for_answers() -> None:
    client = Scripted(latency=30.0)
    stats, _ = go({"mode": "open", "rate": 2.0}, client, duration=5.0, drain=60.0)
    assert len(stats.issued_ids) == 10
    assert [round(s, 6) for s in client.starts] == [i * 0.5 for i in range(10)]
    assert stats.cancelled == 0
    assert stats.t_end == 4.5 + 30.0


def test_requests_still_running_after_the_drain_are_cancelled() -> None:
    client = Scripted(latency=100.0)
    stats, _ = go({"mode": "open", "rate": 1.0}, client, duration=3.0, drain=10.0)
    assert stats.cancelled == 3
    assert stats.t_end == 13.0
    assert client.log == []


def test_a_crash_in_the_client_is_reported_not_fatal() -> None:
    client = Scripted(latency=0.5, crash_on="req-1-1")
    stats, progress = go({"mode": "open", "rate": 1.0}, client, duration=3.0)
    assert len(stats.crashes) == 1
    assert stats.crashes[0].startswith("req-1-1: RuntimeError: boom")
    assert progress[-1].crashed == 1
    assert len(client.log) == 2


def test_max_requests_bounds_the_run() -> None:
    client = Scripted(latency=0.1)
    stats, _ = go({"users": 4, "max_requests": 7}, client, duration=100.0)
    assert len(stats.issued_ids) == 7


def test_instant_answers_without_think_time_still_move_virtual_time() -> None:
    client = Scripted(latency=0.0)
    stats, _ = go({"users": 2}, client, duration=0.01)
    # 1 ms per cycle and user: ten cycles each in 10 ms, and the run ends instead of spinning at t = 0
    assert len(stats.issued_ids) == 20
    assert stats.t_end < 0.011
