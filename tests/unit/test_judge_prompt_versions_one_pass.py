"""The judge's one pass keeps what its per-prompt table needs: the table is ``prompt_versions`` of the
whole outcome log (the path of record), for lists and packed logs alike.

The judge used to read the outcome log a second time for ``prompt_versions``; it now hands it only
the outcomes that named a prompt, gathered in its single pass. Outcomes with and without prompts,
answered or not, with any costs, in any order, must give the same table and ratio.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.judge.facts import RunFacts
from harness.judge.metrics import _money, compute_metrics
from harness.judge.prompts import prompt_cost_ratio, prompt_versions
from harness.records import OutcomeRecord, PackedRecords

Row = tuple[bool, str | None, str, str, int]  # ok, prompt, cost, embedding cost, input tokens
_COSTS = ("0", "0.0001", "0.00025", "0.013", "1.5")

outcome = st.builds(
    lambda ok, prompt, cost, embedding, tokens: (ok, prompt, cost, embedding, tokens),
    st.booleans(),
    st.sampled_from((None, None, "support@v1", "support@v2", "triage")),
    st.sampled_from(_COSTS),
    st.sampled_from(("0", "0.00002")),
    st.integers(0, 5000),
)


def _outcomes(rows: list[Row]) -> list[OutcomeRecord]:
    return [
        OutcomeRecord(
            f"req-{n}", ok, "ok" if ok else "ServerError", float(n), n + 0.5, "gpt-4o-mini",
            cost_usd=cost, embedding_cost_usd=embedding, input_tokens=tokens, prompt=prompt,
        )
        for n, (ok, prompt, cost, embedding, tokens) in enumerate(rows)
    ]  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(outcome, max_size=60), st.booleans())
def test_the_prompt_table_is_that_of_the_whole_log(rows: list[Row], packed: bool) -> None:
    outcomes = _outcomes(rows)
    facts = RunFacts("prompts", 1, "virtual", 0.0, 100.0, 1.0, tuple(o.id for o in outcomes))
    log = PackedRecords(OutcomeRecord, outcomes) if packed else outcomes
    metrics = compute_metrics(facts, [], log)
    table = prompt_versions(outcomes, _money)
    assert metrics["prompt_versions"] == table
    assert metrics["prompt_cost_ratio"] == prompt_cost_ratio(table)
    if any(o.prompt is not None for o in outcomes):
        assert table is not None  # the comparison is not of two Nones


def test_a_known_table() -> None:
    rows = [(True, "a@v1", "0.01", "0", 10), (False, None, "0.5", "0", 1), (True, "a@v2", "0.03", "0", 30),
            (False, "a@v1", "0.01", "0", 10)]  # fmt: skip
    outcomes = _outcomes(rows)
    facts = RunFacts("prompts", 1, "virtual", 0.0, 100.0, 1.0, tuple(o.id for o in outcomes))
    table = compute_metrics(facts, [], outcomes)["prompt_versions"]
    assert table == {
        "a@v1": {"requests": 2, "answers": 1, "success_rate": 0.5, "cost_usd": "0.02",
                 "cost_per_answer_usd": "0.02", "input_tokens_per_answer": 10.0},
        "a@v2": {"requests": 1, "answers": 1, "success_rate": 1.0, "cost_usd": "0.03",
                 "cost_per_answer_usd": "0.03", "input_tokens_per_answer": 30.0},
    }  # fmt: skip
    assert Decimal(str(compute_metrics(facts, [], outcomes)["prompt_cost_ratio"])) == Decimal("1.5")
