"""The runner takes the client's outcome log as it is packed: its sealed blocks shared, not encoded again.

The reference client keeps its outcomes as rows in sealed blocks (:class:`~harness.client.OutcomeLog`);
the rows are exactly what :class:`~harness.records.PackedRecords` packs for their records, so
:meth:`OutcomeLog.packed_records` hands the blocks over as they are. Every reader must still see the
same records and the same JSON lines as from a log packed anew; a log holding a row short of a field
(its record takes the field's default, so the row is not its record's) is packed anew instead.
"""

from __future__ import annotations

import enum
import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.client import OutcomeLog
from harness.records import AttemptRecord, OutcomeRecord, PackedRecords, _row, dump_jsonl, write_jsonl
from harness.runner.run import RunOptions, run_scenario
from harness.scenario.model import load_scenario

ROOT = Path(__file__).resolve().parents[2]


def outcome(n: int) -> OutcomeRecord:
    attempts = tuple(
        AttemptRecord(k, n + k, n + k + 0.5, "m", 503 if k else 200, "Overloaded" if k else None, f"r{k}", None, k / 7)
        for k in range(n % 3)
    )
    return OutcomeRecord(
        f"L{n}", n % 2 == 0, "ok" if n % 2 == 0 else "Overloaded", n / 3, n / 3 + 0.25, "m",
        model="m" if n % 2 == 0 else None, user=f"u{n % 4}", stream=n % 3 == 0, ttft_s=0.1 if n % 3 == 0 else None,
        cost_usd="0" if n % 5 == 0 else f"0.{n:05d}", attempts=attempts, similarity=None if n % 7 else 0.93,
    )  # fmt: skip


def _sealed_bytes(blocks: list[Any]) -> list[int]:
    return [id(block) for block in blocks if type(block) is bytes]


def _assert_same_log(packed: PackedRecords[OutcomeRecord], records: list[OutcomeRecord]) -> None:
    anew = PackedRecords(OutcomeRecord, records)
    assert len(packed) == len(records)
    assert list(packed) == records
    assert [packed[i] for i in range(-len(records), 0)] == records
    assert list(packed.blocks()) == list(anew.blocks())  # as the report's writer reads them
    out = io.StringIO()
    assert write_jsonl(packed, out) == len(records)
    assert out.getvalue() == dump_jsonl(records)


@pytest.mark.parametrize("count", [0, 5, PackedRecords.BLOCK, PackedRecords.BLOCK * 2 + 7])
def test_a_log_hands_over_its_records_in_its_own_sealed_blocks(count: int) -> None:
    records = [outcome(n) for n in range(count)]
    log = OutcomeLog()
    for record in records:
        log.write(record)
    packed = log.packed_records()
    _assert_same_log(packed, records)
    assert all(_row(r) == row for r, row in zip(records, log._rows, strict=True))  # the rows are the records'
    shared = _sealed_bytes(packed._blocks)
    assert len(shared) == count // PackedRecords.BLOCK
    assert shared == _sealed_bytes(log._rows._blocks)  # the very same bytes: not copied, not packed again
    log.write(outcome(count + 1))  # a later record stays the log's own
    assert len(packed) == count


def test_a_row_short_of_a_field_is_packed_anew() -> None:
    records = [outcome(n) for n in range(PackedRecords.BLOCK + 3)]
    log = OutcomeLog()
    log.append(_row(records[0])[:-1])  # no degradation_step: its record takes the default
    for record in records[1:]:
        log.write(record)
    assert log.records == records
    _assert_same_log(log.packed_records(), records)


def test_an_attempt_row_short_of_a_field_is_packed_anew() -> None:
    records = [outcome(n) for n in range(1, PackedRecords.BLOCK * 2)]
    first = _row(records[0])
    attempts = tuple(a[:-1] for a in first[19])  # no cost_usd: the attempts take the default
    assert attempts
    log = OutcomeLog()
    log.append((*first[:19], attempts, *first[20:]))
    for record in records[1:]:
        log.write(record)
    assert log.records == records
    _assert_same_log(log.packed_records(), records)


class Tier(enum.StrEnum):
    GOLD = "gold"


def test_a_block_marshal_could_not_pack_is_handed_over_as_records() -> None:
    records = [outcome(n) for n in range(PackedRecords.BLOCK * 2 + 3)]
    records[PackedRecords.BLOCK + 1] = replace(records[PackedRecords.BLOCK + 1], feature=Tier.GOLD)
    log = OutcomeLog()
    for record in records:
        log.write(record)
    packed = log.packed_records()
    assert [type(b) is bytes for b in packed._blocks] == [True, False]
    _assert_same_log(packed, records)


def test_a_run_judges_the_clients_blocks_without_packing_its_outcomes_again(monkeypatch: pytest.MonkeyPatch) -> None:
    encoded: list[type] = []
    encode = PackedRecords._encode

    def spy(self: PackedRecords[Any], items: tuple[Any, ...]) -> Any:
        encoded.append(self.cls)
        return encode(self, items)

    monkeypatch.setattr(PackedRecords, "_encode", spy)
    scenario = load_scenario(ROOT / "bench" / "scenarios" / "storm_10000_users.toml", allow_large=True)
    scenario = replace(scenario, load=replace(scenario.load, users=20))
    clients: list[Any] = []
    result = run_scenario(scenario, RunOptions(state_probe=lambda state: clients.append(state.__self__)))
    log = clients[0].client.log
    assert len(result.outcomes) == len(log) > PackedRecords.BLOCK
    assert OutcomeRecord not in encoded  # the provider's log is packed by the runner; the outcomes were already
    assert result.outcomes == log.records
    assert isinstance(result.outcomes, PackedRecords)
    assert _sealed_bytes(result.outcomes._blocks) == _sealed_bytes(log._rows._blocks)
    assert result.columns is not None
    assert result.columns.reads(result.provider_records, result.outcomes)
