"""The conductor of a ``harness load`` run inside Locust: on the master, or in the single local process.

At the start of the test (Locust's ``test_start`` on the master or local runner) the coordinator:

1. resets the fake provider (``POST /_fake/reset``: a fresh request log and ledger, and the fault
   schedule's clock starts now; a provider given with ``--provider-url`` also gets the scenario's
   faults), and notes that moment as the run's origin;
2. deals the work: a local run builds its :class:`~harness.locust.process.LoadProcess` here; a master
   sends each connected worker a ``harness_run`` message with the :class:`~harness.load.spec.RunSpec`,
   the worker's share (``w<index>``; open-loop arrivals and ``max_requests`` are split by share) and
   the start time. A worker that connects later gets no share of the arrivals or of ``max_requests``.

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

from harness.load.records import Batch, RecordStore, boot_id
from harness.load.spec import RunSpec
from harness.locust.process import LoadProcess

__all__ = ["RECORDS_MESSAGE", "RUN_MESSAGE", "Coordinator"]

RUN_MESSAGE = "harness_run"  # master → worker: the spec and the worker's share
RECORDS_MESSAGE = "harness_records"  # worker → master: a batch of records

logger = logging.getLogger("harness.load")


def _post(url: str, body: bytes) -> None:
    request = urllib.request.Request(url, data=body, method="POST", headers={"content-type": "application/json"})
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
        self.started_wall: float | None = None
        self.local: LoadProcess | None = None
        self._run: dict[str, Any] = {}
        if master:
            environment.runner.register_message(RECORDS_MESSAGE, self._on_records)
            environment.events.worker_connect.add_listener(self._on_worker_connect)

    @property
    def runner(self) -> Any:
        return self.environment.runner

    # ------------------------------------------------------------------------------------ start
    def start(self) -> None:
        """Locust's test_start: reset the provider, note the origin, deal the shares."""
        if self.started_wall is not None:
            logger.warning("harness load runs one test per process; a second start is ignored")
            return
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
        if self.master:
            workers = sorted(self._active_workers(), key=self.runner.get_worker_index)
            for share, node in enumerate(workers):
                self._send_run(node, share, len(workers))
        else:
            self.assigned["p0"] = self.runner.client_id
            self.local = LoadProcess(
                self.spec,
                tag="p0",
                role="local",
                node=self.runner.client_id,
                share=0,
                shares=1,
                run_started_wall=self.started_wall,
                ship=self.store.add,
                events=self.environment.events,
                target_users=lambda: int(getattr(self.runner, "target_user_count", 0) or 0),
            )
        self._write_run()

    def _active_workers(self) -> list[str]:
        clients = self.runner.clients
        return [w.id for w in (*clients.ready, *clients.spawning, *clients.running)]

    def _send_run(self, node: str, share: int | None, shares: int) -> None:
        tag = f"w{self.runner.get_worker_index(node)}"
        self.assigned[tag] = node
        data = {"spec": self.spec.to_json(), "tag": tag, "share": share, "shares": shares, "started": self.started_wall}
        self.runner.send_message(RUN_MESSAGE, data, client_id=node)

    def _on_worker_connect(self, client_id: str, **_: Any) -> None:
        if self.started_wall is not None and client_id not in self.assigned.values():
            logger.warning("worker %s joined after the start: it runs users but no share of arrivals", client_id)
            self._send_run(client_id, None, 1)
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
