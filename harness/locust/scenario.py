"""A scenario's load as Locust users and a load shape: what ``harness load`` puts in its locustfile.

* :class:`ScenarioUser`: closed loop — send, wait for the answer, think (``think_s`` is its
  ``wait_time``), until the run time, ``requests_per_user`` or the process's share of ``max_requests``;
  open loop — take the next arrival as it falls due (in ``wait_time``, where Locust may stop an idle
  user without losing the arrival) and send it.
* :class:`ScenarioShape`: ``users_at(t)`` from the plan (:mod:`harness.load.plan`) until the run time;
  the test ends when every process has drained and sent its final records (or went missing), or at
  the latest ``drain_s`` + :data:`GIVE_UP_S` after the run time.
* :func:`install`: the event hooks — the coordinator on the master / local process, the
  ``harness_run`` and ``harness_start`` messages on workers, the final flush when Locust quits.

The spec comes from the file named by ``HARNESS_LOAD_SPEC`` (local and master) or from the master's
``harness_run`` message (workers, which check it against ``HARNESS_LOAD_DIGEST`` when that is set).
See :mod:`harness.locust.coordinator` for the order of the messages.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import gevent.event
from locust import LoadTestShape, User, task
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner

from harness.load.plan import LoadPlan
from harness.load.records import Batch
from harness.load.spec import SPEC_ENV, RunSpec
from harness.locust.coordinator import (
    HELLO_MESSAGE,
    PREPARED_MESSAGE,
    RECORDS_MESSAGE,
    RUN_MESSAGE,
    START_MESSAGE,
    Coordinator,
)
from harness.locust.process import LoadProcess, user_rng

__all__ = ["DIGEST_ENV", "GIVE_UP_S", "ScenarioShape", "ScenarioUser", "install"]

DIGEST_ENV = "HARNESS_LOAD_DIGEST"  # a worker started by `harness load --worker`: the scenario it expects
GIVE_UP_S = 15.0  # after run time + drain, a process that has not sent its final records is given up
READY_WAIT_S = 60.0  # a user waits this long for its process's share of the run

logger = logging.getLogger("harness.load")


class _State:
    coordinator: Coordinator | None = None  # master or local process
    process: LoadProcess | None = None  # local process or worker
    plan: LoadPlan | None = None
    ready = gevent.event.Event()  # the process exists (users may start sending)


def current_process() -> LoadProcess | None:
    """This Locust process's part of the run (None on a master, or before the run started)."""
    return _State.process


class ScenarioUser(User):
    """One simulated user (closed loop) or one sender of arrivals (open loop); see the module docstring."""

    def on_start(self) -> None:
        _State.ready.wait(READY_WAIT_S)
        self.process = _State.process
        self.slot = self.process.user_started() if self.process is not None else 0
        seed = self.process.scenario.seed if self.process is not None else 0
        self.rng = user_rng(seed, self.process.number if self.process is not None else 0, self.slot)
        self.requests = 0
        self.arrival: tuple[int, float] | None = None

    def wait_time(self) -> float:
        process = self.process
        if process is None:
            raise StopUser()
        if process.arrivals is None:
            think: float = process.plan.load.think_s.sample(self.rng)
            if process.closing or time.monotonic() + think >= process.end:
                raise StopUser()  # no time left for another request: do not hold the run open thinking
            return think
        while self.arrival is None:
            if process.closing or process.arrivals.closed:
                raise StopUser()
            self.arrival = process.arrivals.take()
        return 0.0

    @task
    def send(self) -> None:
        process = self.process
        if process is None:
            logger.error("no harness run reached this process within %.0f s; the user stops", READY_WAIT_S)
            raise StopUser()
        if process.arrivals is None:
            per_user = process.plan.load.requests_per_user
            if not process.may_send() or (per_user is not None and self.requests >= per_user):
                raise StopUser()
            self.requests += 1
            process.send(user_slot=self.slot)
            return
        arrival, self.arrival = self.arrival, None
        if arrival is not None:  # the first run of the task has none yet: wait_time takes the first
            process.send(index=arrival[0])

    def on_stop(self) -> None:
        process = self.process
        if process is None:
            return
        if self.arrival is not None and process.arrivals is not None:
            process.arrivals.give_back(self.arrival)
            self.arrival = None
        process.user_stopped()


class ScenarioShape(LoadTestShape):
    """Users over time from the plan; ends when the last process has reported (see the module docstring)."""

    def tick(self) -> tuple[int, float] | None:
        coordinator, plan = _State.coordinator, _State.plan
        if coordinator is None or plan is None:
            return None
        if coordinator.done():
            return None
        elapsed = coordinator.elapsed()
        if elapsed > plan.run_time_s + plan.drain_s + GIVE_UP_S:
            logger.warning("giving up on processes that did not report their final records")
            return None
        return plan.users_at(elapsed), plan.spawn_rate


def _read_spec() -> RunSpec:
    path = os.environ.get(SPEC_ENV)
    if not path:
        raise RuntimeError(f"{SPEC_ENV} is not set: this locustfile is run by `harness load`")
    return RunSpec.from_json(Path(path).read_text(encoding="utf-8"))


def _on_run(environment: Any, msg: Any, **_: Any) -> None:
    """Worker: the master's ``harness_run`` message (the spec): build the client, say so."""
    runner = environment.runner
    spec = RunSpec.from_json(msg.data["spec"])
    expected = os.environ.get(DIGEST_ENV)
    if expected and expected != spec.digest:
        logger.error("the master runs another scenario than this worker's file (digest %s, expected %s)",
                     spec.digest, expected)  # fmt: skip
        environment.process_exit_code = 2
        runner.quit()
        return
    if _State.process is None:
        _State.process = LoadProcess(
            spec,
            role="worker",
            node=runner.client_id,
            events=environment.events,
            target_users=lambda: int(getattr(runner, "target_user_count", 0) or 0),
        )
    runner.send_message(PREPARED_MESSAGE, {})


def _on_start(environment: Any, msg: Any, **_: Any) -> None:
    """Worker: the master's ``harness_start`` message (this worker's tag and share, the start time)."""
    runner = environment.runner
    process = _State.process
    if process is None or process.started.is_set():
        logger.warning("a start reached this worker %s; it is ignored", "twice" if process else "before its spec")
        return
    data = msg.data

    def ship(batch: Batch) -> None:
        if batch.final:
            # Locust's own stats go to the master every 3 s; send the last ones now, ahead of the final
            # records (messages keep their order): the master may end the test as soon as those arrive
            send_stats = getattr(runner, "_send_stats", None)
            if send_stats is not None:
                send_stats()
        runner.send_message(RECORDS_MESSAGE, batch.to_message())

    process.start(
        tag=str(data["tag"]),
        share=data["share"],
        shares=int(data["shares"]),
        run_started_wall=float(data["started"]),
        ship=ship,
    )
    _State.ready.set()


def install(events: Any) -> None:
    """Hook the run into Locust's events (called once, by the locustfile, at import)."""

    def on_init(environment: Any, **_: Any) -> None:
        runner = environment.runner
        for name in ("httpx", "httpx2", "LiteLLM", "openai", "anthropic"):
            logging.getLogger(name).setLevel(logging.WARNING)  # an SDK under test logs every request at INFO
        if isinstance(runner, WorkerRunner):
            runner.register_message(RUN_MESSAGE, _on_run)
            runner.register_message(START_MESSAGE, _on_start)
            runner.send_message(HELLO_MESSAGE, {})  # now that the handlers are in place: the run, please
            return
        spec = _read_spec()
        coordinator = Coordinator(environment, spec, master=isinstance(runner, MasterRunner))
        _State.coordinator = coordinator
        _State.plan = coordinator.plan

    def on_test_start(environment: Any, **_: Any) -> None:
        coordinator = _State.coordinator
        if coordinator is None:
            return  # a worker: its share arrives in the harness_run message
        coordinator.start()
        if coordinator.local is not None:
            _State.process = coordinator.local
            _State.ready.set()

    def on_test_stop(environment: Any, **_: Any) -> None:
        process = _State.process
        if process is not None and not process.finished.is_set():
            # stopped before the run's end (the web UI's stop button): the users are gone, finish now
            gevent.spawn(process.finish, drain_until=time.monotonic())

    def on_quitting(environment: Any, **_: Any) -> None:
        process = _State.process
        if process is not None:
            process.abandon()
        if _State.coordinator is not None:
            _State.coordinator.close()

    events.init.add_listener(on_init)
    events.test_start.add_listener(on_test_start)
    events.test_stop.add_listener(on_test_stop)
    events.quitting.add_listener(on_quitting)
