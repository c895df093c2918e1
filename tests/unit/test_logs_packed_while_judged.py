"""Logs packed as the judge reads them: the same packed logs, the same metrics, the same columns.

:func:`harness.runner.run.judged_result` used to pack a log handed over unpacked, then have the judge
read every record again, rebuilt from its block. It now packs each log while the judge's single pass
reads it (:meth:`PackedRecords.packing`); the path of record is packing first and judging the packed
logs. Both must give the same result, with logs that can be read only once (a generator), with a
semantic cache's hits (the one metric that reads the outcome log a second time), and for a whole run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.judge.metrics import compute_metrics, judge_logs
from harness.records import OutcomeRecord, PackedRecords, ProviderRecord
from harness.runner.driver import DriveStats
from harness.runner.run import judged_result, run_scenario
from harness.scenario.model import load_scenario
from tests.unit.judge.test_one_pass_judge import random_logs
from tests.unit.report.test_report_reads_logs_once import _assert_columns_equal

ROOT = Path(__file__).resolve().parents[2]
_T = TypeVar("_T")


def _once(items: list[_T]) -> Iterator[_T]:
    """The items as a log that can be read only once."""
    yield from items


def _with_semantic_hits(outcomes: list[OutcomeRecord]) -> list[OutcomeRecord]:
    """Every fifth outcome a semantic-cache hit on an earlier one (the judge reads their costs again)."""
    return [
        dataclasses.replace(o, source="semantic-cache", cached_from=outcomes[i // 2].id, embedding_cost_usd="0.00002")
        if i % 5 == 4
        else o
        for i, o in enumerate(outcomes)
    ]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 700))
def test_packing_hands_on_each_record_and_packs_the_log_it_reads(seed: int, cut: int) -> None:
    _, records, outcomes, _ = random_logs(seed)
    logs: list[tuple[type[ProviderRecord | OutcomeRecord], list[ProviderRecord | OutcomeRecord]]] = [
        (ProviderRecord, list(records[:cut])),
        (OutcomeRecord, list(outcomes[:cut])),
    ]
    for cls, items in logs:
        log = PackedRecords(cls)
        assert list(log.packing(_once(items))) == items
        packed = PackedRecords(cls, items)
        assert len(log) == len(items)
        assert log == packed
        assert list(log.blocks()) == list(packed.blocks())  # the same blocks, as the report's writer reads them


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("hits", [False, True])
def test_the_judge_reading_as_it_packs_gives_the_packed_logs_numbers(seed: int, hits: bool) -> None:
    facts, records, outcomes, events = random_logs(seed)
    if hits:
        outcomes = _with_semantic_hits(outcomes)
    packed_records, packed_outcomes = PackedRecords(ProviderRecord, records), PackedRecords(OutcomeRecord, outcomes)
    want, want_cols = judge_logs(facts, packed_records, packed_outcomes, events)
    if hits:
        assert want["semantic_cache_hits"]
        assert want["semantic_cache_savings_estimate_usd"] != "0"

    provider_log, outcome_log = PackedRecords(ProviderRecord), PackedRecords(OutcomeRecord)
    reading = (provider_log.packing(_once(records)), outcome_log.packing(_once(outcomes)))
    got, got_cols = judge_logs(facts, provider_log, outcome_log, events, reading=reading)
    assert got == want == compute_metrics(facts, records, outcomes, events)
    assert provider_log == packed_records
    assert outcome_log == packed_outcomes
    _assert_columns_equal(got_cols, want_cols)
    assert got_cols.reads(provider_log, outcome_log)


@pytest.mark.parametrize("seed", [1, 4])
def test_judged_result_packs_unpacked_logs_as_it_judges_them(seed: int) -> None:
    facts, records, outcomes, events = random_logs(seed)
    scenario = load_scenario(ROOT / "scenarios" / "smoke.toml")
    stats = DriveStats(t0=facts.t0, t_end=facts.t_end, issued_ids=list(facts.issued_ids))
    common = {"mode": "virtual", "wall_s": 1.0, "schedule_origin": 0.0, "ledger": {}, "events": events,
              "client_name": "reference", "extra": {}}  # fmt: skip
    want = judged_result(
        scenario, stats, records=PackedRecords(ProviderRecord, records),
        outcomes=PackedRecords(OutcomeRecord, outcomes), **common,  # type: ignore[arg-type]
    )  # fmt: skip
    got = judged_result(scenario, stats, records=_once(records), outcomes=_once(outcomes), **common)  # type: ignore[arg-type]
    assert got.metrics == want.metrics
    assert isinstance(got.provider_records, PackedRecords)
    assert isinstance(got.outcomes, PackedRecords)
    assert got.provider_records == want.provider_records
    assert got.outcomes == want.outcomes
    assert got.columns is not None
    assert want.columns is not None
    _assert_columns_equal(got.columns, want.columns)
    assert got.columns.reads(got.provider_records, got.outcomes)


@pytest.mark.parametrize("name", ["smoke", "semantic_cache"])
def test_a_run_keeps_its_whole_logs_packed(name: str) -> None:
    # smoke: the logs are packed as the judge reads them; semantic_cache: packed before its baseline run
    result = run_scenario(load_scenario(ROOT / "scenarios" / f"{name}.toml"))
    assert isinstance(result.provider_records, PackedRecords)
    assert isinstance(result.outcomes, PackedRecords)
    assert len(result.provider_records) == result.metrics["attempts"] + (result.metrics["embedding_calls"] or 0)
    assert len(result.outcomes) == result.metrics["requests_logical"]
    assert result.columns is not None
    assert result.columns.reads(result.provider_records, result.outcomes)
