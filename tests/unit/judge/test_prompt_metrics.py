"""Cost and success by prompt version, and the cost ratio a gate can bound."""

from __future__ import annotations

from harness.judge.metrics import _money
from harness.judge.prompts import prompt_cost_ratio, prompt_versions
from harness.records import OutcomeRecord


def outcome(prompt: str | None, cost: str, ok: bool = True, tokens: int = 10) -> OutcomeRecord:
    return OutcomeRecord(
        "x", ok, "ok" if ok else "Overloaded", 0, 1, "m", input_tokens=tokens, cost_usd=cost, prompt=prompt
    )


def test_versions_side_by_side() -> None:
    rows = [
        outcome("s@v1", "0.001"), outcome("s@v1", "0.003"), outcome("s@v1", "0", ok=False, tokens=0),
        outcome("s@v2", "0.005", tokens=40), outcome(None, "1"),
    ]  # fmt: skip
    table = prompt_versions(rows, _money)
    assert table == {
        "s@v1": {"requests": 3, "answers": 2, "success_rate": 0.666667, "cost_usd": "0.004",
                 "cost_per_answer_usd": "0.002", "input_tokens_per_answer": 10.0},
        "s@v2": {"requests": 1, "answers": 1, "success_rate": 1.0, "cost_usd": "0.005",
                 "cost_per_answer_usd": "0.005", "input_tokens_per_answer": 40.0},
    }  # fmt: skip
    assert prompt_cost_ratio(table) == 2.5


def test_no_prompt_no_table() -> None:
    assert prompt_versions([outcome(None, "1")], _money) is None
    assert prompt_cost_ratio(None) is None
    one = prompt_versions([outcome("s@v1", "0.1")], _money)
    assert prompt_cost_ratio(one) is None
