"""Records shipped by Locust's processes, stored, read back and merged onto the provider's clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.load.collect import merge_records
from harness.load.records import Batch, ProcessLog, ProcessMeta, RecordStore, read_records
from harness.records import AttemptRecord, ClientEvent, OutcomeRecord, ProviderRecord

PREFIX = "req-1-abcdef01-"


def _outcome(rid: str, t: float, ok: bool = True) -> OutcomeRecord:
    attempt = AttemptRecord(0, t, t + 0.5, "gpt-4o-mini", 200 if ok else 429, None if ok else "RateLimited", "p-" + rid)
    return OutcomeRecord(
        rid, ok, "ok" if ok else "RateLimited", t, t + 0.5, "gpt-4o-mini", cost_usd="0.001", attempts=(attempt,)
    )


def _provider(rid: str, t: float, wall_minus_mono: float = 1000.0) -> ProviderRecord:
    return ProviderRecord(
        1, t, t + wall_minus_mono, "key:x", None, "p-" + rid, rid, 0, "openai.chat", "gpt-4o-mini", False, 200
    )


def _ship(store: RecordStore, tag: str, issued: list[str], outcomes: list[OutcomeRecord], *, final: bool,
          boot: str = "boot-a", offset: float = 1000.0) -> None:  # fmt: skip
    log = ProcessLog(ProcessMeta(tag, "worker", node=f"node-{tag}", boot=boot, wall_minus_mono=offset))
    for rid in issued:
        log.issue(rid)
    for o in outcomes:
        log.outcome(o)
    log.event(ClientEvent(outcomes[0].t_end if outcomes else 0.0, "breaker", "gpt-4o-mini", "closed→open"))
    batch = log.batch(final=final)
    store.add(Batch.from_message(batch.to_message()), node=f"node-{tag}")  # through a Locust message and back


def test_batches_round_trip_through_a_message_and_the_files(tmp_path: Path) -> None:
    store = RecordStore(tmp_path)
    ids = [f"{PREFIX}w0-{n}" for n in range(3)]
    _ship(store, "w0", ids[:2], [_outcome(ids[0], 1.0)], final=False)
    _ship(store, "w0", ids[2:], [_outcome(ids[1], 2.0), _outcome(ids[2], 3.0, ok=False)], final=True)
    assert store.finals == {"w0"}
    [records] = read_records(tmp_path)
    assert records.issued == ids
    assert [o.id for o in records.outcomes] == ids
    assert records.outcomes[2] == _outcome(ids[2], 3.0, ok=False)  # every field, attempts included
    assert records.meta.final is True
    assert [e.detail for e in records.events] == ["closed→open", "closed→open"]
    with pytest.raises(ValueError):
        store.add(Batch("../escape", [], b"", b"", {}))


def test_a_process_that_died_is_named_and_its_requests_counted_lost(tmp_path: Path) -> None:
    store = RecordStore(tmp_path)
    done = [f"{PREFIX}w0-{n}" for n in range(4)]
    _ship(store, "w0", done, [_outcome(rid, float(n)) for n, rid in enumerate(done)], final=True)
    died = [f"{PREFIX}w1-{n}" for n in range(5)]
    _ship(store, "w1", died[:3], [_outcome(died[0], 0.5)], final=False)  # then killed
    provider = [_provider(rid, 1.0) for rid in [*done, *died[:4]]]  # w1-3 reached the provider, never reported
    run = {"origin_mono": 0.0, "origin_wall": 1000.0, "boot": "boot-a", "assigned": {"w0": "node-w0", "w1": "node-w1"},
           "workers_at_end": {"w0": "final", "w1": "missing"}}  # fmt: skip
    merged = merge_records(run, read_records(tmp_path), provider, provider_boot="boot-a", id_prefix=PREFIX)
    assert sorted(merged.issued_ids) == sorted([*done, *died[:4]])
    by_tag = {p.tag: p for p in merged.processes}
    assert by_tag["w0"].without_outcome == 0
    assert (by_tag["w1"].issued, by_tag["w1"].outcomes, by_tag["w1"].without_outcome) == (4, 1, 3)
    assert (by_tag["w1"].unreported, by_tag["w1"].state, by_tag["w1"].final) == (1, "missing", False)
    [finding] = merged.findings
    assert "w1" in finding
    assert "node-w1" in finding
    assert "3 of its 4 requests ended without an outcome" in finding
    assert merged.extra["locust_processes"] == 2.0
    assert merged.extra["locust_processes_lost"] == 1.0


def test_a_process_that_sent_nothing_is_known_from_the_providers_log(tmp_path: Path) -> None:
    provider = [_provider(f"{PREFIX}w2-0", 1.0), _provider("req-1-otherrun-w2-0", 1.0)]
    run = {"origin_mono": 0.0, "origin_wall": 1000.0, "boot": "b", "assigned": {"w2": "node-w2"}}
    merged = merge_records(run, [], provider, provider_boot="b", id_prefix=PREFIX)
    assert merged.issued_ids == [f"{PREFIX}w2-0"]  # another run's ids are not this run's
    [finding] = merged.findings
    assert "w2" in finding
    assert "1 of its 1 requests ended without an outcome" in finding


def test_a_process_on_another_machine_is_moved_onto_the_providers_clock(tmp_path: Path) -> None:
    store = RecordStore(tmp_path)
    # the provider's monotonic clock reads 1000 s behind the wall; the remote worker's 5000 s behind
    _ship(store, "w0", [f"{PREFIX}w0-0"], [_outcome(f"{PREFIX}w0-0", 4010.0)], final=True, boot="other", offset=5000.0)
    _ship(store, "w1", [f"{PREFIX}w1-0"], [_outcome(f"{PREFIX}w1-0", 10.0)], final=True, boot="here", offset=1000.0)
    provider = [_provider(f"{PREFIX}w0-0", 10.0), _provider(f"{PREFIX}w1-0", 10.0)]
    run = {"origin_mono": 9.0, "origin_wall": 1009.0, "boot": "here"}
    merged = merge_records(run, read_records(tmp_path), provider, provider_boot="here", id_prefix=PREFIX)
    assert merged.origin == 9.0
    starts = {o.id: (o.t_start, o.attempts[0].t_start) for o in merged.outcomes}
    assert starts[f"{PREFIX}w0-0"] == (8010.0, 8010.0)  # 4010 + (5000 − 1000): shifted, attempts too
    assert starts[f"{PREFIX}w1-0"] == (10.0, 10.0)  # same boot: the same clock, untouched
    assert merged.findings == []


def test_late_and_dropped_arrivals_are_reported(tmp_path: Path) -> None:
    store = RecordStore(tmp_path)
    log = ProcessLog(ProcessMeta("p0", "local", arrivals_late=3, arrivals_dropped=2, arrival_lag_max_s=1.5))
    store.add(log.batch(final=True))
    merged = merge_records({"boot": "x"}, read_records(tmp_path), [], provider_boot="x", id_prefix=PREFIX)
    assert merged.extra["arrivals_late"] == 3.0
    assert merged.extra["arrivals_dropped"] == 2.0
    assert any("raise --users" in f for f in merged.findings)


def test_each_request_s_question_travels_with_it_and_is_merged_across_processes(tmp_path: Path) -> None:
    """A paraphrase load's ground truth: each process reports the question of each request it issued,
    through a Locust message and the files, and the merge gives the judge every process's questions
    (a hit in w1 may reuse an answer w0 stored, through a Redis-backed cache)."""
    store = RecordStore(tmp_path)
    for tag, asked in (("w0", ["cancel-order", None]), ("w1", ["cancel-order", "reset-password"])):
        log = ProcessLog(ProcessMeta(tag, "worker", node=f"node-{tag}", boot="boot-a", wall_minus_mono=1000.0))
        for n, question in enumerate(asked):
            log.issue(f"{PREFIX}{tag}-{n}", question)  # None: a one-off question, outside the pool
        store.add(Batch.from_message(log.batch(final=True).to_message()), node=f"node-{tag}")
    records = read_records(tmp_path)
    assert [r.questions for r in records] == [
        {f"{PREFIX}w0-0": "cancel-order"},
        {f"{PREFIX}w1-0": "cancel-order", f"{PREFIX}w1-1": "reset-password"},
    ]
    assert [r.issued for r in records] == [[f"{PREFIX}w0-0", f"{PREFIX}w0-1"], [f"{PREFIX}w1-0", f"{PREFIX}w1-1"]]
    run = {"origin_mono": 0.0, "origin_wall": 1000.0, "boot": "boot-a"}
    merged = merge_records(run, records, [], provider_boot="boot-a", id_prefix=PREFIX)
    assert merged.questions == {
        f"{PREFIX}w0-0": "cancel-order", f"{PREFIX}w1-0": "cancel-order", f"{PREFIX}w1-1": "reset-password",
    }  # fmt: skip
    # a process of a load without a paraphrase pool writes no questions file at all
    assert sorted(p.name for p in tmp_path.glob("*.questions")) == ["w0.questions", "w1.questions"]
    assert Batch.from_message({"tag": "w2", "questions": "no-question-here\n"}).questions == []
