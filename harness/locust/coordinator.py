"""The conductor of a ``harness load`` run inside Locust: on the master, or in the single local process.

Before the test, every process that runs users builds its client (a
:class:`~harness.locust.process.LoadProcess`; importing an SDK and building a client can take
seconds): the local process when Locust starts; each worker when, once connected, it asks for the
run (``harness_hello``) and receives the ``harness_run`` message with the
:class:`~harness.load.spec.RunSpec` (it answers ``harness_prepared``).

At the start of the test (Locust's ``test_start`` on the master or local runner) the coordinator:

1. waits until every connected worker is prepared (so no process's client is still being built while
   the run's clock runs);
2. resets the fake provider (``POST /_fake/reset``: a fresh request log and ledger, and the fault
   schedule's clock starts now; a provider given with ``--provider-url`` also gets the scenario's
   faults), and notes that moment as the run's origin;
3. deals the work: each worker gets a ``harness_start`` message with its tag (``w<index>``), its share
   (open-loop arrivals and ``max_requests`` are split by share) and the start time; a local run starts
   its own process. A worker that is prepared after the start gets no share of the arrivals or of
   ``max_requests``.

During the run it stores the records the workers send (``harness_records`` messages) with a
:class:`~harness.load.records.RecordStore`, and :meth:`Coordinator.done` tells the load shape when
every process has sent its final batch — or has gone missing (Locust's heartbeat) — so the test
ends as soon as the last request is accounted for. ``run.json`` in the records folder says when the
run started, on which clock, and which worker had which share; the judge reads it.
"""

from __future__ import annotations

import json
import logging
import socket
import time
import urllib.request
from pathlib import Path
from typing import Any

import gevent

from harness.control_api import control_headers
from harness.load.records import Batch, RecordStore, boot_id
from harness.load.spec import RunSpec
from harness.locust.process import LoadProcess

__all__ = ["HELLO_MESSAGE", "PREPARED_MESSAGE", "RECORDS_MESSAGE", "RUN_MESSAGE", "START_MESSAGE", "Coordinator"]

HELLO_MESSAGE = "harness_hello"  # worker → master, once its handlers are in place: send me the spec
RUN_MESSAGE = "harness_run"  # master → worker: the spec (the worker builds its client)
PREPARED_MESSAGE = "harness_prepared"  # worker → master: its client is built
START_MESSAGE = "harness_start"  # master → worker, at the start: its tag, its share, the start time
RECORDS_MESSAGE = "harness_records"  # worker → master: a batch of records
PREPARE_WAIT_S = 300.0  # the start waits this long, at most, for every connected worker to be prepared

logger = logging.getLogger("harness.load")


def _post(url: str, body: bytes) -> None:
    headers = {"content-type": "application/json", **control_headers()}  # HARNESS_CONTROL_TOKEN, when set
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


class Coordinator:
    """See the module docstring. ``runner`` is Locust's MasterRunner or LocalRunner."""

    def __init__(self, environment: Any, spec: RunSpec, *, master: bool) -> None:
        self.environment = environment
        self.spec = spec
        self.master = master
        self.scenario = spec.scenario()
        self.plan = spec.plan(self.scenario)
        assert spec.records_dir is not None
        self.folder = Path(spec.records_dir)
        self.store = RecordStore(self.folder)
        self.assigned: dict[str, str] = {}  # process tag → Locust node id
        self.prepared: set[str] = set()  # workers whose client is built
        self.started_wall: float | None = None
        self.local: LoadProcess | None = None
        self._run: dict[str, Any] = {}
        if master:
            environment.runner.register_message(RECORDS_MESSAGE, self._on_records)
            environment.runner.register_message(PREPARED_MESSAGE, self._on_prepared)
            environment.runner.register_message(HELLO_MESSAGE, self._on_hello)
        else:
            runner = environment.runner
            self.local = LoadProcess(
                spec,
                role="local",
                node=runner.client_id,
                events=environment.events,
                target_users=lambda: int(getattr(runner, "target_user_count", 0) or 0),
            )

    @property
    def runner(self) -> Any:
        return self.environment.runner

    # ------------------------------------------------------------------------------------ start
    def start(self) -> None:
        """Locust's test_start: reset the provider, note the origin, deal the shares."""
        if self.started_wall is not None:
            logger.warning("harness load runs one test per process; a second start is ignored")
            return
        if self.master:
            self._wait_for_workers()
        url = self.spec.provider_url.rstrip("/")
        if self.spec.push_faults:
            _post(f"{url}/_fake/faults", json.dumps(self.scenario.faults.to_dict()).encode())
        _post(f"{url}/_fake/reset", b"{}")
        origin_mono, self.started_wall = time.monotonic(), time.time()
        self._run = {
            "run_id": self.spec.run_id,
            "origin_mono": origin_mono,
            "origin_wall": self.started_wall,
            "boot": boot_id(),
            "host": socket.gethostname(),
            "users": self.plan.users,
            "run_time_s": self.plan.run_time_s,
            "assigned": self.assigned,
        }
        if self.local is not None:
            self.assigned["p0"] = self.runner.client_id
            self.local.start(tag="p0", share=0, shares=1, run_started_wall=self.started_wall, ship=self.store.add)
        else:
            workers = sorted(self.prepared & set(self._active_workers()), key=self.runner.get_worker_index)
            for share, node in enumerate(workers):
                self._send_start(node, share, len(workers))
        self._write_run()

    def _active_workers(self) -> list[str]:
        clients = self.runner.clients
        return [w.id for w in (*clients.ready, *clients.spawning, *clients.running)]

    def _wait_for_workers(self) -> None:
        deadline = time.monotonic() + PREPARE_WAIT_S
        while not set(self._active_workers()) <= self.prepared and time.monotonic() < deadline:
            gevent.sleep(0.05)
        missing = set(self._active_workers()) - self.prepared
        if missing:
            logger.warning("workers not prepared after %.0f s start without a share: %s", PREPARE_WAIT_S, missing)

    def _send_start(self, node: str, share: int | None, shares: int) -> None:
        tag = f"w{self.runner.get_worker_index(node)}"
        self.assigned[tag] = node
        data = {"tag": tag, "share": share, "shares": shares, "started": self.started_wall}
        self.runner.send_message(START_MESSAGE, data, client_id=node)

    def _on_hello(self, environment: Any, msg: Any, **_: Any) -> None:
        self.runner.send_message(RUN_MESSAGE, {"spec": self.spec.to_json()}, client_id=str(msg.node_id))

    def _on_prepared(self, environment: Any, msg: Any, **_: Any) -> None:
        node = str(msg.node_id)
        self.prepared.add(node)
        if self.started_wall is not None and node not in self.assigned.values():
            logger.warning("worker %s was prepared after the start: it runs users but no share of arrivals", node)
            self._send_start(node, None, 1)
            self._write_run()

    def _on_records(self, environment: Any, msg: Any, **_: Any) -> None:
        self.store.add(Batch.from_message(msg.data), node=str(msg.node_id))

    # ------------------------------------------------------------------------------------ end
    def _gone(self, node: str) -> bool:
        worker = self.runner.clients.get(node)
        return worker is None or worker.state == "missing"

    def done(self) -> bool:
        """Every process sent its final batch (or went missing): nothing more will come."""
        if self.started_wall is None:
            return False
        if not self.master:
            return self.local is not None and self.local.finished.is_set()
        if not self.assigned:
            return True
        return all(tag in self.store.finals or self._gone(node) for tag, node in self.assigned.items())

    def elapsed(self) -> float:
        return 0.0 if self.started_wall is None else time.time() - self.started_wall

    def close(self) -> None:
        """At quitting: note which processes finished, for the judge."""
        if self.started_wall is None:
            return
        if self.master:
            self._run["workers_at_end"] = {
                tag: ("final" if tag in self.store.finals else "missing" if self._gone(node) else "unfinished")
                for tag, node in self.assigned.items()
            }
        self._write_run()

    def _write_run(self) -> None:
        (self.folder / "run.json").write_text(json.dumps(self._run, indent=1) + "\n", encoding="utf-8")
