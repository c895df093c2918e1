"""From the files a Locust run left to one judged run: every process's records merged, on one clock.

The judge (:func:`harness.runner.run.judged_result`) compares the provider's request log with the
client's outcome log. Under Locust the outcome log is in pieces, one per process that ran users
(:mod:`harness.load.records`); this module puts them back together:

* **one clock**: outcome times are the process's monotonic clock, the provider log's its own. A process
  on the provider's machine (same boot id) shares its clock; one elsewhere is moved onto it through the
  wall clocks (``t + (wall − mono)_process − (wall − mono)_provider``, the provider's offset read off
  its own log, where each record carries both), which assumes the machines' wall clocks are in sync;
* **every issued request counted**: the ids each process reported as issued; and, for a process that
  died before reporting its last ones, the logical ids the provider saw with that process's prefix
  (``req-<seed>-<run>-<process>-``), so a request that reached the provider is never missed;
* **the ground truth**: the question each request of a paraphrase load asked, from every process (a
  hit in one process may reuse an answer stored by another), for the semantic cache's wrong hits;
* **findings**: for each process that did not drain and send its final records, which one it was
  and how many of its requests ended without an outcome — they are counted in ``lost_requests``,
  and named here.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.load.records import ProcessRecords, read_records
from harness.records import ClientEvent, OutcomeRecord, ProviderRecord

__all__ = ["MergedRun", "ProcessSummary", "merge_records", "read_run"]


@dataclass(frozen=True, slots=True)
class ProcessSummary:
    """One process's part, for the findings and the terminal table."""

    tag: str
    node: str
    host: str
    final: bool
    issued: int  # ids it reported, plus ids the provider saw from it that it never reported
    outcomes: int
    without_outcome: int  # issued, no outcome: lost
    unreported: int  # seen at the provider, never reported as issued (it died first)
    state: str  # "final", "missing" (Locust lost its heartbeat) or "unfinished"


@dataclass(slots=True)
class MergedRun:
    """The records of every process, on the provider's clock."""

    origin: float  # the run's start on the provider's clock
    issued_ids: list[str]
    outcomes: list[OutcomeRecord]
    events: list[ClientEvent]
    processes: list[ProcessSummary]
    findings: list[str] = field(default_factory=list)
    extra: dict[str, float] = field(default_factory=dict)
    crashes: list[str] = field(default_factory=list)
    cancelled: int = 0
    questions: dict[str, str] = field(default_factory=dict)  # logical id → its pool question, every process


def read_run(folder: Path) -> tuple[dict[str, Any], list[ProcessRecords]]:
    """``run.json`` (the coordinator's notes) and every process's records in the records folder."""
    run_file = folder / "run.json"
    run: dict[str, Any] = json.loads(run_file.read_text(encoding="utf-8")) if run_file.exists() else {}
    return run, read_records(folder)


def _provider_offset(records: list[ProviderRecord]) -> float | None:
    """The provider's wall − monotonic, read off its own log."""
    if not records:
        return None
    return statistics.median(r.wall - r.t for r in records)


def _shift_outcome(o: OutcomeRecord, dt: float) -> OutcomeRecord:
    if dt == 0.0:
        return o
    attempts = tuple(replace(a, t_start=a.t_start + dt, t_end=a.t_end + dt) for a in o.attempts)
    return replace(o, t_start=o.t_start + dt, t_end=o.t_end + dt, attempts=attempts)


def merge_records(
    run: dict[str, Any],
    processes: list[ProcessRecords],
    provider_records: list[ProviderRecord],
    *,
    provider_boot: str | None,
    id_prefix: str,
) -> MergedRun:
    """Merge every process's records onto the provider's clock (see the module docstring).

    ``provider_boot``: the boot id of the provider's machine when known (we started it, or it is on
    loopback); ``id_prefix``: ``req-<seed>-<run8>-``, the start of every request id of this run.
    """
    offset = _provider_offset(provider_records)

    def shift(boot: str, wall_minus_mono: float) -> float:
        if provider_boot is not None and boot == provider_boot:
            return 0.0
        if offset is None:
            return 0.0  # nothing reached the provider: no clock to align with, nothing to compare
        return wall_minus_mono - offset

    master_boot = str(run.get("boot", provider_boot or ""))
    origin_mono = float(run.get("origin_mono", 0.0))
    origin_wall = float(run.get("origin_wall", 0.0))
    origin = origin_mono + shift(master_boot, origin_wall - origin_mono)

    states: dict[str, str] = dict(run.get("workers_at_end") or {})
    at_provider: dict[str, set[str]] = {}
    for r in provider_records:
        rid = r.logical_id
        if rid is not None and rid.startswith(id_prefix):
            tag = rid[len(id_prefix) :].split("-", 1)[0]
            at_provider.setdefault(tag, set()).add(rid)

    merged = MergedRun(origin=origin, issued_ids=[], outcomes=[], events=[], processes=[])
    seen_tags = set()
    for p in processes:
        meta = p.meta
        seen_tags.add(meta.tag)
        dt = shift(meta.boot, meta.wall_minus_mono)
        reported = set(p.issued)
        unreported = sorted(at_provider.get(meta.tag, set()) - reported)
        issued = [*p.issued, *unreported]
        outcome_ids = {o.id for o in p.outcomes}
        missing = sum(1 for rid in issued if rid not in outcome_ids)
        merged.issued_ids.extend(issued)
        merged.questions.update(p.questions)
        merged.outcomes.extend(_shift_outcome(o, dt) for o in p.outcomes)
        merged.events.extend(replace(e, t=e.t + dt) for e in p.events)
        merged.crashes.extend(meta.crashes)
        merged.cancelled += meta.cancelled
        state = "final" if meta.final else states.get(meta.tag, "unfinished")
        summary = ProcessSummary(
            meta.tag, meta.node, meta.host, meta.final, len(issued), len(p.outcomes), missing, len(unreported), state
        )
        merged.processes.append(summary)
        if not meta.final:
            merged.findings.append(_lost_process(summary, meta.pid))
    # a process that died before its first batch reached the master: only the provider knows its requests
    for tag in sorted(set(at_provider) - seen_tags):
        ids = sorted(at_provider[tag])
        merged.issued_ids.extend(ids)
        node = str((run.get("assigned") or {}).get(tag, "?"))
        summary = ProcessSummary(tag, node, "?", False, len(ids), 0, len(ids), len(ids), states.get(tag, "missing"))
        merged.processes.append(summary)
        merged.findings.append(_lost_process(summary, None))
    for tag, node in sorted((run.get("assigned") or {}).items()):
        if tag not in seen_tags and tag not in at_provider:
            merged.findings.append(f"process {tag} ({node}) was given a share of the run but sent nothing")
    merged.outcomes.sort(key=lambda o: (o.t_end, o.id))
    merged.events.sort(key=lambda e: e.t)
    late = sum(p.meta.arrivals_late for p in processes)
    dropped = sum(p.meta.arrivals_dropped for p in processes)
    lag = max((p.meta.arrival_lag_max_s for p in processes), default=0.0)
    merged.extra = {
        "locust_processes": float(len(merged.processes)),
        "locust_processes_lost": float(sum(1 for p in merged.processes if not p.final)),
        "client_crashes": float(len(merged.crashes)),
        "cancelled_requests": float(merged.cancelled),
    }
    if any(p.meta.arrivals_late or p.meta.arrivals_dropped or p.meta.arrival_lag_max_s for p in processes):
        merged.extra |= {"arrivals_late": float(late), "arrivals_dropped": float(dropped), "arrival_lag_max_s": lag}
    if late or dropped:
        merged.findings.append(
            f"{late} arrivals found no free Locust user and waited for one (the longest wait past an arrival's "
            f"time: {lag:.2f} s); {dropped} were never sent: raise --users so the schedule is kept"
        )
    return merged


def _lost_process(p: ProcessSummary, pid: int | None) -> str:
    who = f"process {p.tag} ({p.node or 'node unknown'} on {p.host}{f', pid {pid}' if pid else ''})"
    how = "went missing (Locust lost its heartbeat)" if p.state == "missing" else "did not finish the run"
    unreported = f", {p.unreported} of them known only from the provider's log" if p.unreported else ""
    return (
        f"{who} {how}: {p.without_outcome} of its {p.issued} requests ended without an outcome{unreported} "
        "(counted in lost_requests)"
    )
