"""A report draws from the judge's single pass over each log: the charts read neither log again.

The judge reads the provider's log into columns and the outcome log in one pass (:func:`judge_logs`);
the report's charts take those columns, so writing a report decodes each packed log once (for its
JSON lines) instead of once per chart. The columns must be exactly the logs read again, and must not
be used for other logs than the ones they were read from.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.judge import compute_metrics
from harness.judge.columns import LogColumns, attempts_per_request, log_columns
from harness.judge.metrics import judge_logs
from harness.records import OutcomeRecord, PackedRecords, ProviderRecord
from harness.report import RunResult, write_report
from harness.report.charts import render_charts
from harness.report.series import run_columns, run_span
from tests.unit.judge.test_one_pass_judge import random_logs
from tests.unit.report.synthetic import outage_run


def _same(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
    return a == b


def _assert_columns_equal(got: LogColumns, want: LogColumns) -> None:
    for f in fields(want):
        if f.name != "outcomes":
            assert _same(getattr(got, f.name), getattr(want, f.name)), f.name
    for f in fields(want.outcomes):
        assert _same(getattr(got.outcomes, f.name), getattr(want.outcomes, f.name)), f.name


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_judges_columns_are_the_logs_read_again_and_its_metrics_unchanged(seed: int) -> None:
    facts, records, outcomes, events = random_logs(seed)
    metrics, cols = judge_logs(facts, records, outcomes, events)
    assert metrics == compute_metrics(facts, records, outcomes, events)
    _assert_columns_equal(cols, log_columns(records, outcomes, facts.issued_ids))
    assert cols.reads(records, outcomes)
    # the bill: every record, model listings included, in the log's order
    assert cols.bill_usd == [r.cost_usd for r in records]
    assert cols.bill_end.tolist() == [r.t + max(0.0, r.duration_s) for r in records]
    answers = sorted((r for r in records if r.api != "openai.models"), key=lambda r: r.t)
    assert cols.t.tolist() == [r.t for r in answers]
    assert cols.status.tolist() == [r.status for r in answers]
    timed = [o.stream and o.ttft_s is not None for o in outcomes]
    assert cols.outcomes.timed.tolist() == timed
    assert cols.outcomes.attempts.tolist() == [len(o.attempts) for o in outcomes]
    # attempts per logical request at the provider; requests it never saw took 0
    per_id = Counter(r.logical_id for r in answers if r.logical_id is not None)
    want = Counter(per_id.values())
    want[0] += len({*facts.issued_ids, *(o.id for o in outcomes)} - set(per_id))
    assert cols.provider_attempts == {k: v for k, v in want.items() if v}


def test_attempts_per_request_without_logical_ids_is_unknown() -> None:
    assert attempts_per_request([None, None], ["a"]) is None
    assert attempts_per_request(["a", "a", None, "b"], ["a", "b", "c", "d"]) == {2: 1, 1: 1, 0: 2}


def test_a_negative_or_nan_duration_ends_the_bill_at_arrival_as_max_does() -> None:
    records = [
        ProviderRecord(1, 5.0, 0.0, "k", None, "r1", "a", 0, "openai.chat", "m", False, 200, duration_s=-1.0),
        ProviderRecord(2, 6.0, 0.0, "k", None, "r2", "b", 0, "openai.chat", "m", False, 200, duration_s=float("nan")),
        ProviderRecord(3, 7.0, 0.0, "k", None, "r3", None, 0, "openai.models", None, False, 200, duration_s=0.5),
    ]
    cols = log_columns(records, [])
    assert cols.bill_end.tolist() == [5.0, 6.0, 7.5]
    assert cols.t.tolist() == [5.0, 6.0]  # the model listing is billed, not an answer's attempt


class CountedRecords(PackedRecords):  # type: ignore[type-arg]
    """A packed log that counts how often it is read through."""

    def __init__(self, cls: type, records: list[ProviderRecord] | list[OutcomeRecord]) -> None:
        super().__init__(cls, records)
        self.reads = 0
        self.lookups = 0

    def __iter__(self) -> Iterator:  # type: ignore[type-arg]
        self.reads += 1
        return super().__iter__()

    def blocks(self) -> Iterator[tuple[bool, Any]]:  # a read too: the JSON lines are written from the blocks
        self.reads += 1
        return super().blocks()

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        self.lookups += 1
        return super().__getitem__(index)


def test_writing_a_report_reads_each_log_once(tmp_path: Path) -> None:
    base = outage_run(clients=40, duration_s=40.0, outage=(10.0, 20.0))
    records = CountedRecords(ProviderRecord, list(base.provider_records))
    outcomes = CountedRecords(OutcomeRecord, list(base.outcomes))
    metrics, cols = judge_logs(base.facts, records, outcomes, base.events)
    assert records.reads == 1
    result = replace(base, metrics=metrics, provider_records=records, outcomes=outcomes, columns=cols)
    records.reads = outcomes.reads = 0
    files = write_report(result, tmp_path)
    assert "chart: Arrivals at the provider" in files
    # once each: the JSON lines of the raw logs; every chart drew from the judge's columns
    assert (records.reads, outcomes.reads) == (1, 1)
    assert (records.lookups, outcomes.lookups) == (0, 0)


def test_charts_from_the_judges_columns_are_the_charts_read_from_the_logs() -> None:
    run = outage_run(clients=60, duration_s=40.0, outage=(10.0, 20.0))
    _, cols = judge_logs(run.facts, run.provider_records, run.outcomes, run.events)
    judged = replace(run, columns=cols)
    assert run_columns(judged) is cols
    from_judge = render_charts(judged)
    from_logs = render_charts(run)  # no columns: the logs read once, here
    assert [c.png for c in from_judge] == [c.png for c in from_logs]
    assert [c.caption for c in from_judge] == [c.caption for c in from_logs]


def test_columns_of_other_logs_are_not_used() -> None:
    run = outage_run(clients=30, duration_s=30.0, outage=(10.0, 15.0))
    _, cols = judge_logs(run.facts, run.provider_records, run.outcomes, run.events)
    judged = replace(run, columns=cols)
    fewer = replace(judged, outcomes=list(run.outcomes)[:5], provider_records=list(run.provider_records)[:7])
    read = run_columns(fewer)
    assert read is not cols
    assert (len(read.outcomes), len(read.bill_end)) == (5, 7)
    assert run_span(fewer) <= run_span(judged)
    # a log appended to after the judge read it is read again as it is now
    packed = PackedRecords(OutcomeRecord, run.outcomes)
    _, cols = judge_logs(run.facts, run.provider_records, packed, run.events)
    packed.append(replace(run.outcomes[0], id="late", t_end=run.outcomes[0].t_end + 1e4))
    late = replace(run, outcomes=packed, columns=cols)
    assert run_columns(late) is not cols
    assert run_span(late) > run_span(judged) + 9e3


def test_the_result_does_not_compare_or_show_its_columns() -> None:
    run: RunResult = outage_run(clients=20, duration_s=20.0, outage=(5.0, 10.0))
    _, cols = judge_logs(run.facts, run.provider_records, run.outcomes, run.events)
    assert replace(run, columns=cols) == run
    assert "LogColumns" not in repr(replace(run, columns=cols))
