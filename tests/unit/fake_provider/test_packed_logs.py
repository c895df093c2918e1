"""The request log and the ledger keep their rows packed as they grow: every value reads back exactly."""

from __future__ import annotations

from decimal import Decimal

from fake_provider.ledger import BillingLedger
from fake_provider.request_log import RequestLog
from harness.packed_rows import PackedRows
from harness.pricing import Usage

COSTS = [Decimal("0.000150"), Decimal("1E-7"), Decimal("-0"), Decimal("12.5000000000"), Decimal(0)]


def test_ledger_entries_read_back_exactly_once_sealed() -> None:
    ledger = BillingLedger()
    n = PackedRows.BLOCK * 2 + 3
    for seq in range(1, n + 1):
        cost = COSTS[seq % len(COSTS)]
        ledger.add_entry(seq, "m", f"key:{seq % 4}", seq, seq % 3, 2 * seq, cost, seq % 5, seq % 2, seq % 7)
    entries = ledger.entries
    assert len(entries) == n
    for e in entries:
        cost = COSTS[e.seq % len(COSTS)]
        assert e.cost_usd == cost
        assert e.cost_usd.as_tuple() == cost.as_tuple()  # digits, exponent and sign: the same Decimal
        assert e.usage == Usage(e.seq, 2 * e.seq, e.seq % 3, e.seq % 5, e.seq % 7, e.seq % 2)
    assert ledger.to_dict(entries=True)["entries"][1]["cost_usd"] == f"{COSTS[2]:f}"
    assert ledger.total.cost_usd == sum((COSTS[s % len(COSTS)] for s in range(1, n + 1)), Decimal(0))
    ledger.clear()
    assert ledger.entries == []


def test_request_log_reads_from_any_cursor_across_sealed_blocks() -> None:
    log = RequestLog(lambda model, prompt, output, extra: f"{prompt}.{output}")
    n = PackedRows.BLOCK + 10
    for i in range(n):
        entry = (i * 0.5, 1.8e9 + i, "key:a", None, f"req_{i}", f"L{i}", 0, "openai.chat", "m", i % 2 == 0, 200,
                 i, 64, i + 1, 0.25, 1.5, None, None, None, "stop", "m", i % 3 != 0, None)  # fmt: skip
        assert log.add(entry) == i + 1
    assert len(log) == n
    assert [r.seq for r in log.since(250, 10)] == list(range(251, 261))
    record = log.record(4)  # not billed
    assert (record.request_id, record.t, record.cost_usd) == ("req_3", 1.5, "0")
    assert log.record(2).cost_usd == "1.2"
    assert [r.request_id for r in log] == [f"req_{i}" for i in range(n)]
    assert log.jsonl(n - 1).count("\n") == 1
    log.clear()
    assert len(log) == 0
    assert log.next_seq() == 1
