"""One Locust process's part of a ``harness load`` run: its client, its requests, its records, its drain.

A :class:`LoadProcess` lives in every process that runs users (the single process of a local run, or
each worker). It builds the scenario's client on the process's asyncio loop (:mod:`harness.locust.bridge`)
— the reference client, shared by the process or one per app instance (``instances = "per_user"``), or
the SDK the scenario names — and sends the requests Locust's users ask it to send:

* each request is the asyncio runner's request for its index (:class:`harness.runner.workload.Workload`),
  with an id that names the run and the process (``req-<seed>-<run>-<process>-<n>``), recorded as
  issued before it is sent;
* its terminal outcome comes back through the client's outcome log and is reported to Locust's stats
  (:mod:`harness.locust.stats`) and to the process's records (:mod:`harness.load.records`), which are
  shipped about once a second;
* at the run time no request starts any more; requests in flight get the scenario's ``drain_s``, then
  are cancelled (the client records them as ``Cancelled``); then the final batch goes out.

Open loop: the process's share of the arrival schedule falls due in an :class:`ArrivalQueue`; a user
takes the next arrival in its ``wait_time`` (so Locust may stop an idle user without losing one) and
sends it; an arrival that found no user waiting for it is counted late, one never taken is counted
dropped.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import random
import time
import zlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import gevent
import gevent.event
import gevent.queue

from harness.client import OutcomeLog
from harness.client.types import ChatRequest
from harness.load.plan import arrivals_for, share_of
from harness.load.records import Batch, ProcessLog, ProcessMeta
from harness.load.spec import RunSpec
from harness.locust.bridge import bridge
from harness.locust.stats import report, report_outcome
from harness.records import OutcomeRecord
from harness.runner.clients import build_client
from harness.runner.run import _default_model
from harness.runner.workload import Workload
from harness.scenario.questions import question_of

__all__ = ["ArrivalQueue", "LoadProcess", "user_rng"]

FLUSH_EVERY_S = 1.0  # records are shipped this often
CANCEL_WAIT_S = 10.0  # after the drain, cancelled requests get this long to record their outcome


class ArrivalQueue:
    """The arrivals of one process, put in a queue as they fall due; users take them in order."""

    def __init__(self, arrivals: list[tuple[int, float]], origin: float) -> None:
        self._queue: gevent.queue.PriorityQueue[tuple[int, float]] = gevent.queue.PriorityQueue()
        self._origin = origin  # the run's start on this process's monotonic clock
        self.total = len(arrivals)
        self.fed = False  # every arrival has been put in the queue
        self.closed = False  # the run ended: nothing more is handed out
        self.late = 0  # arrivals that found no user waiting for them (they waited for one to be free)
        self.lag_max_s = 0.0  # the longest any arrival waited past its time (includes scheduling jitter)
        self._waiting = 0  # users blocked in take()
        self._unserved: set[int] = set()  # indices of arrivals put while no user was waiting
        self._feeder = gevent.spawn(self._feed, arrivals)

    def _feed(self, arrivals: list[tuple[int, float]]) -> None:
        for index, offset in arrivals:
            due = self._origin + offset
            # gevent's timers count from the loop's cached time, which lags after a busy stretch of the
            # hub: a timer may fire early, so sleep again until the arrival is really due
            while (wait := due - time.monotonic()) > 0:
                gevent.sleep(wait)
            if self.closed:
                return
            if self._waiting <= self._queue.qsize():
                self._unserved.add(index)
            self._queue.put((index, offset))
        self.fed = True

    def take(self, timeout_s: float = 0.5) -> tuple[int, float] | None:
        """The next due arrival, waiting up to ``timeout_s`` for one; None when there is none (yet)."""
        self._waiting += 1
        try:
            item: tuple[int, float] = self._queue.get(timeout=timeout_s)
        except gevent.queue.Empty:
            return None
        finally:
            self._waiting -= 1
        if self.closed:
            self._queue.put(item)
            return None
        if item[0] in self._unserved:
            self._unserved.discard(item[0])
            self.late += 1
        self.lag_max_s = max(self.lag_max_s, time.monotonic() - (self._origin + item[1]))
        return item

    def give_back(self, item: tuple[int, float]) -> None:
        """An arrival taken by a user that was stopped before it could send it."""
        self._unserved.add(item[0])
        self._queue.put(item)

    @property
    def exhausted(self) -> bool:
        return self.fed and self._queue.empty()

    def close(self) -> int:
        """Stop handing out arrivals; returns how many were due but never taken (dropped)."""
        self.closed = True
        self._feeder.kill(block=False)
        left: int = self._queue.qsize()
        return left


class LoadProcess:
    """See the module docstring. Built on the gevent thread; its client lives on the asyncio loop."""

    def __init__(self, spec: RunSpec, *, role: str, node: str, events: Any, target_users: Callable[[], int]) -> None:
        """Prepare: read the scenario and build the client (before the run starts: it may take seconds)."""
        self.spec = spec
        self.scenario = scenario = spec.scenario()
        self.plan = spec.plan(scenario)
        self.role = role
        self.node = node
        self.events = events  # Locust's events (request reports go there)
        self.bridge = bridge()
        self._target_users = target_users
        self._apis = {name: m.api for m in scenario.provider.models for name in m.names}
        self._tap: dict[str, OutcomeRecord] = {}  # outcomes of requests whose sender has not read them yet
        self._logs: list[OutcomeLog] = []  # every reference client's outcome log (for its events)
        self._event_cursor: dict[int, int] = {}
        self._sdk_cursor = 0
        self._tasks: set[asyncio.Task[Any]] = set()  # requests in flight, on the loop
        # each process its own jitter (a local run keeps the scenario's, as harness run has it)
        self._client_seed = scenario.seed if role == "local" else scenario.seed ^ zlib.crc32(node.encode())
        self.cut, self._sdk = self.bridge.call(self._build)
        self.log = ProcessLog(ProcessMeta("p0", role, node))
        self.started = gevent.event.Event()  # start() was called: users may send
        self.sent = 0
        self.in_flight = 0
        self.users_started = 0
        self.users_done = 0
        self.closing = False  # no new request starts
        self._finishing = False
        self.finished = gevent.event.Event()  # the final batch is out
        self.arrivals: ArrivalQueue | None = None
        self.number = 0
        self.origin = self.end = self.drain_end = math.inf
        self.quota: int | None = None

    def start(
        self, *, tag: str, share: int | None, shares: int, run_started_wall: float, ship: Callable[[Batch], None]
    ) -> None:
        """The run started at ``run_started_wall`` (the coordinator's wall clock); this process is ``tag``.

        ``share`` of ``shares``: which open-loop arrivals and which part of ``max_requests`` are this
        process's; None: none (a worker that joined after the start).
        """
        scenario, plan = self.scenario, self.plan
        self.tag = tag
        self.log.meta.tag = tag
        self._ship = ship
        self.number = number = int("".join(c for c in tag if c.isdigit()) or "0")
        self._index_base = number << 40  # closed loop: this process's request indices
        self._prefix = f"req-{scenario.seed}-{self.spec.run_id[:8]}-{tag}-"
        self.workload = Workload(plan.load, scenario.seed, _default_model(scenario), client_id=f"harness-{tag}")
        self._asks_questions = plan.load.questions_share > 0  # record each request's question (wrong hits)
        # the run's start on this process's clock (through the wall clock: the master may be elsewhere)
        self.origin = time.monotonic() - (time.time() - run_started_wall)
        self.end = self.origin + plan.run_time_s
        self.drain_end = self.end + plan.drain_s
        max_requests = plan.load.max_requests
        self.quota = share_of(max_requests, share, shares) if share is not None else (0 if max_requests else None)
        if not plan.closed:
            mine = arrivals_for(plan, scenario.seed, share=share, shares=shares) if share is not None else []
            self.arrivals = ArrivalQueue(mine, self.origin)
        self._flusher = gevent.spawn(self._flush_loop)
        gevent.spawn(self._finish_at_end)
        self.started.set()

    # ------------------------------------------------------------------------------------ the client
    def _build(self) -> tuple[Any, bool]:
        """On the loop's thread: the client under test pointed at the provider."""

        def outcome_log() -> OutcomeLog:
            log = OutcomeLog(keep=False, sinks=[self._on_outcome])  # the records ship them; memory stays flat
            self._logs.append(log)
            return log

        scenario = replace(self.scenario, seed=self._client_seed)
        cut = build_client(
            scenario,
            base_url=self.spec.provider_url,
            core=None,
            clock=time.monotonic,
            sleep=asyncio.sleep,
            wall=time.time,
            outcome_log=outcome_log,
        )
        return cut, scenario.client_kind != "reference"

    def _on_outcome(self, record: OutcomeRecord) -> None:
        self._tap[record.id] = record
        self.log.outcome(record)

    def _pull_sdk_outcomes(self) -> None:
        outcomes = self.cut.outcomes()  # an SDK adapter's own list, appended to
        for record in outcomes[self._sdk_cursor :]:
            self._on_outcome(record)
        self._sdk_cursor = len(outcomes)

    def _pull_events(self) -> None:
        for log in list(self._logs):
            events = log.events
            start = self._event_cursor.get(id(log), 0)
            for event in events[start:]:
                self.log.event(event)
            self._event_cursor[id(log)] = len(events)

    async def _call(self, request: ChatRequest) -> tuple[OutcomeRecord | None, str | None]:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            try:
                await self.cut.call(request)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # escaped the client: a client bug; the judge counts the request lost
                return None, f"{request.request_id}: {type(exc).__name__}: {exc}"[:300]
            finally:
                if self._sdk:
                    self._pull_sdk_outcomes()
            return self._tap.pop(request.request_id or "", None), None
        finally:
            self._tasks.discard(task)

    async def _cancel_in_flight(self) -> int:
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=CANCEL_WAIT_S)
        return len(tasks)

    # ------------------------------------------------------------------------------------ requests
    def may_send(self) -> bool:
        """Whether a new request may start now (closed loop: also within this process's quota)."""
        if self.closing or time.monotonic() >= self.end:
            return False
        return self.quota is None or self.sent < self.quota

    def send(self, *, index: int | None = None, user_slot: int | None = None) -> None:
        """Send one logical request from the calling greenlet and report it to Locust when it ends.

        ``index``: the open-loop arrival's index; None: the next closed-loop request of this process.
        """
        n = self.sent
        self.sent += 1
        number = index if index is not None else n
        request = self.workload.request(number if index is not None else self._index_base | n, user_slot=user_slot)
        request = replace(request, request_id=f"{self._prefix}{number}")
        rid = request.request_id or ""
        self.log.issue(rid, question_of(request.messages[-1].content) if self._asks_questions else None)
        self.in_flight += 1
        started = time.monotonic()
        crash: str | None = None
        outcome: OutcomeRecord | None = None
        try:
            outcome, crash = self.bridge.run(self._call(request))
        except (concurrent.futures.CancelledError, asyncio.CancelledError):
            outcome = self._tap.pop(rid, None)  # cancelled after the drain: the client recorded it
        finally:
            self.in_flight -= 1
        api = self._apis.get(request.model, "openai")
        if outcome is not None:
            report_outcome(self.events, outcome, api)
            return
        if crash is not None:
            self.log.meta.crashes.append(crash)
        error = crash.split(": ")[1] if crash else "NoOutcome"
        report(
            self.events,
            api=api,
            model=request.model,
            latency_s=time.monotonic() - started,
            output_tokens=0,
            error=error,
        )

    def user_started(self) -> int:
        """A new user; returns its slot (attribution and ``x-client-id`` follow it)."""
        slot = self.users_started
        self.users_started += 1
        return slot

    def user_stopped(self) -> None:
        self.users_done += 1

    # ------------------------------------------------------------------------------------ the end
    def _work_done(self) -> bool:
        if self.arrivals is not None:
            return self.arrivals.exhausted and self.in_flight == 0
        if self.quota is not None and self.sent >= self.quota:
            return True
        target = self._target_users()
        return target > 0 and self.users_done >= target and self.users_started >= target

    def _finish_at_end(self) -> None:
        while time.monotonic() < self.end and not self._work_done() and not self._finishing:
            gevent.sleep(0.05)
        self.finish(drain_until=self.drain_end)

    def finish(self, *, drain_until: float) -> None:
        """Start no more requests; give the ones in flight until ``drain_until``; ship the final batch."""
        if self._finishing or not self.started.is_set():
            return
        self._finishing = True
        self.closing = True
        if self.arrivals is not None:
            self.log.meta.arrivals_dropped = self.arrivals.close()
        while self.in_flight and time.monotonic() < drain_until:
            gevent.sleep(0.05)
        if self._tasks:
            self.log.meta.cancelled = self.bridge.run(self._cancel_in_flight())
            deadline = time.monotonic() + CANCEL_WAIT_S
            while self.in_flight and time.monotonic() < deadline:
                gevent.sleep(0.01)  # the senders read their cancelled outcomes
        self._flusher.kill(block=True)
        self._ship(self._batch(final=True))
        self.finished.set()

    def _batch(self, *, final: bool = False) -> Batch:
        self._pull_events()
        if self.arrivals is not None:
            self.log.meta.arrivals_late = self.arrivals.late
            self.log.meta.arrival_lag_max_s = round(self.arrivals.lag_max_s, 4)
        return self.log.batch(final=final)

    def _flush_loop(self) -> None:
        while True:
            gevent.sleep(FLUSH_EVERY_S)
            self._ship(self._batch())

    def abandon(self) -> None:
        """The process is quitting before the run ended (stopped from the UI, or signalled): ship what there is."""
        if self.started.is_set() and not self.finished.is_set():
            self._flusher.kill(block=False)
            self._ship(self._batch(final=False))

    def close(self) -> None:
        """Close the client and stop the loop (at process exit)."""
        try:
            self.bridge.run(self.cut.aclose())
        finally:
            self.bridge.close()


def user_rng(seed: int, tag_number: int, slot: int) -> random.Random:
    """A user's think-time generator: its own stream per (seed, process, user)."""
    return random.Random((seed << 20) ^ (tag_number << 48) ^ slot)
