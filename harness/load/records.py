"""What each Locust process that runs users records, how it travels, and where it lands.

Every process that runs users (the single process of a local run, or each worker) keeps three
streams: the logical request ids it **issued** (before sending them), the client's **outcomes** (one
per logical request) and the client's **events**; with a paraphrase load (``[load] questions_share``)
also the **question** each issued request asked, the semantic cache's ground truth: a hit served in
one process may reuse an answer another process stored (a Redis-backed cache), so the judge reads
both requests' questions from the merged records. A :class:`ProcessLog` collects them and hands them
over as a :class:`Batch` about once a second, and a last one (``final``) after the drain.

Batches travel as **Locust custom messages** from a worker to the master (``harness_records``; the
master-worker transport Locust already has, so workers on other machines need no shared disk), or go
straight to disk in a local run. On the master (or the local process) a :class:`RecordStore` appends
each batch to files, one set per process, in the run's records folder::

    records/w0.issued          one logical id per line
    records/w0.questions       "<logical id> <question id>" per line (paraphrase loads only)
    records/w0.outcomes.jsonl  OutcomeRecords (harness.records), as written
    records/w0.events.jsonl    ClientEvents
    records/w0.meta.json       who the process was (host, boot id, clock offset), its counters, final?

A worker that dies mid-run leaves what its last batch carried, and no ``final``: the judge counts its
issued requests without an outcome as lost and names the worker (:mod:`harness.load.collect`).
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import orjson

from harness.records import ClientEvent, OutcomeRecord, load_jsonl

__all__ = ["Batch", "ProcessLog", "ProcessMeta", "ProcessRecords", "RecordStore", "boot_id", "read_records"]


def boot_id() -> str:
    """This machine's boot id: processes that share it share one monotonic clock."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return f"host:{socket.gethostname()}"


@dataclass(slots=True)
class ProcessMeta:
    """Who a process was and what it counted (the ``*.meta.json`` file)."""

    tag: str  # "p0" for a local run, "w<index>" for a worker: the middle of its request ids
    role: str  # "local" or "worker"
    node: str = ""  # Locust's client id of the process (host_uuid)
    host: str = field(default_factory=socket.gethostname)
    boot: str = field(default_factory=boot_id)
    wall_minus_mono: float = field(default_factory=lambda: time.time() - time.monotonic())
    pid: int = field(default_factory=os.getpid)
    final: bool = False  # its last batch arrived (it drained and stopped cleanly)
    issued: int = 0
    outcomes: int = 0
    cancelled: int = 0  # in flight when the drain ended: cancelled (the client records them)
    crashes: list[str] = field(default_factory=list)  # exceptions that escaped the client
    arrivals_late: int = 0  # open loop: arrivals that found no free user and waited for one
    arrivals_dropped: int = 0  # open loop: arrivals still waiting for a user when the run ended
    arrival_lag_max_s: float = 0.0
    last_batch_mono: float | None = None  # when its last batch was made (its own clock)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProcessMeta:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(slots=True)
class Batch:
    """What a process recorded since its last batch (a Locust message's data, as a dict)."""

    tag: str
    issued: list[str]
    outcomes: bytes  # JSON lines
    events: bytes  # JSON lines
    meta: dict[str, Any]
    final: bool = False
    questions: list[tuple[str, str]] = field(default_factory=list)  # (logical id, question id) of pool requests

    def to_message(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "issued": "\n".join(self.issued),
            "questions": "\n".join(f"{rid} {qid}" for rid, qid in self.questions),
            "outcomes": self.outcomes,
            "events": self.events,
            "meta": self.meta,
            "final": self.final,
        }

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> Batch:
        issued = data.get("issued") or ""
        return cls(
            questions=_pairs(str(data.get("questions") or "")),
            tag=str(data["tag"]),
            issued=issued.split("\n") if issued else [],
            outcomes=bytes(data.get("outcomes") or b""),
            events=bytes(data.get("events") or b""),
            meta=dict(data.get("meta") or {}),
            final=bool(data.get("final")),
        )


class ProcessLog:
    """Collects a process's issued ids, outcomes and events; :meth:`batch` hands over what is new.

    ``issue`` is called on the process's gevent thread; ``outcome`` and ``event`` on its asyncio
    thread (the client's outcome log sinks): deques make both sides safe without a lock.
    """

    def __init__(self, meta: ProcessMeta) -> None:
        self.meta = meta
        self._issued: deque[str] = deque()
        self._questions: deque[tuple[str, str]] = deque()
        self._outcomes: deque[OutcomeRecord] = deque()
        self._events: deque[ClientEvent] = deque()

    def issue(self, request_id: str, question: str | None = None) -> None:
        """``request_id`` is about to be sent; ``question``: the pool question it asks, if any."""
        if question is not None:
            self._questions.append((request_id, question))
        self._issued.append(request_id)
        self.meta.issued += 1

    def outcome(self, record: OutcomeRecord) -> None:
        self._outcomes.append(record)

    def event(self, event: ClientEvent) -> None:
        self._events.append(event)

    def batch(self, *, final: bool = False) -> Batch:
        """Everything recorded since the last batch (``final``: the process is done)."""
        issued = _drain(self._issued)
        questions = _drain(self._questions)
        outcomes = _drain(self._outcomes)
        events = _drain(self._events)
        self.meta.outcomes += len(outcomes)
        self.meta.final = final
        self.meta.last_batch_mono = time.monotonic()
        return Batch(
            tag=self.meta.tag,
            issued=issued,
            outcomes=b"".join(orjson.dumps(o) + b"\n" for o in outcomes),
            events=b"".join(orjson.dumps(e) + b"\n" for e in events),
            meta=self.meta.to_dict(),
            final=final,
            questions=questions,
        )


def _pairs(text: str) -> list[tuple[str, str]]:
    """``"<id> <question>"`` lines as pairs (a malformed line is skipped: it judges nothing)."""
    pairs = []
    for line in text.splitlines():
        rid, _, qid = line.partition(" ")
        if rid and qid:
            pairs.append((rid, qid))
    return pairs


def _drain(queue: deque[Any]) -> list[Any]:
    out = []
    while queue:
        out.append(queue.popleft())
    return out


class RecordStore:
    """Appends batches to the records folder, one set of files per process (see the module docstring)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.finals: set[str] = set()  # tags whose final batch arrived
        self.seen: dict[str, str] = {}  # tag → the Locust node that sent it

    def add(self, batch: Batch, node: str = "") -> None:
        tag = _safe_tag(batch.tag)
        if batch.issued:
            with (self.folder / f"{tag}.issued").open("a", encoding="utf-8") as f:
                f.write("".join(rid + "\n" for rid in batch.issued))
        if batch.questions:
            with (self.folder / f"{tag}.questions").open("a", encoding="utf-8") as f:
                f.write("".join(f"{rid} {qid}\n" for rid, qid in batch.questions))
        if batch.outcomes:
            with (self.folder / f"{tag}.outcomes.jsonl").open("ab") as fb:
                fb.write(batch.outcomes)
        if batch.events:
            with (self.folder / f"{tag}.events.jsonl").open("ab") as fb:
                fb.write(batch.events)
        meta = dict(batch.meta)
        if node:
            meta["node"] = node
        (self.folder / f"{tag}.meta.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        self.seen[tag] = node
        if batch.final:
            self.finals.add(tag)


def _safe_tag(tag: str) -> str:
    if not tag or not all(c.isalnum() or c in "-_" for c in tag):
        raise ValueError(f"a process tag is letters, digits, '-' or '_', got {tag!r}")
    return tag


@dataclass(slots=True)
class ProcessRecords:
    """One process's files, read back."""

    meta: ProcessMeta
    issued: list[str]
    outcomes: list[OutcomeRecord]
    events: list[ClientEvent]
    questions: dict[str, str] = field(default_factory=dict)  # logical id → the pool question it asked


def _events(text: str) -> Iterable[ClientEvent]:
    for line in text.splitlines():
        if line.strip():
            data = json.loads(line)
            yield ClientEvent(float(data["t"]), str(data["kind"]), str(data["name"]), str(data.get("detail", "")))


def read_records(folder: Path) -> list[ProcessRecords]:
    """Every process's records in ``folder``, in tag order."""
    found = []
    for meta_file in sorted(folder.glob("*.meta.json")):
        tag = meta_file.name[: -len(".meta.json")]
        meta = ProcessMeta.from_dict(json.loads(meta_file.read_text(encoding="utf-8")))

        def text(suffix: str, tag: str = tag) -> str:
            path = folder / f"{tag}{suffix}"
            return path.read_text(encoding="utf-8") if path.exists() else ""

        issued = [line for line in text(".issued").splitlines() if line]
        outcomes = list(load_jsonl(OutcomeRecord, text(".outcomes.jsonl")))
        questions = dict(_pairs(text(".questions")))
        found.append(ProcessRecords(meta, issued, outcomes, list(_events(text(".events.jsonl"))), questions))
    return found
