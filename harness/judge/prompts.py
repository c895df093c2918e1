"""Cost and success by prompt version (``prompt_versions`` in summary.json; docs/metrics.md)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from decimal import Decimal

from harness.records import OutcomeRecord

__all__ = ["prompt_cost_ratio", "prompt_versions"]

_CENT_MILLIONTH = Decimal("1e-8")


def prompt_versions(outcomes: Iterable[OutcomeRecord], money: Callable[[Decimal], str]) -> dict[str, object] | None:
    """Per prompt version ("support@v2"): requests, answers, success rate, what they cost in total and
    per answer, and the input tokens per answer. None when no request named a prompt."""
    groups: defaultdict[str, list[OutcomeRecord]] = defaultdict(list)
    for o in outcomes:
        if o.prompt is not None:
            groups[o.prompt].append(o)
    if not groups:
        return None
    table: dict[str, object] = {}
    for version, rows in sorted(groups.items()):
        ok = [o for o in rows if o.ok]
        cost = sum((Decimal(o.cost_usd) + Decimal(o.embedding_cost_usd) for o in rows), Decimal(0))
        table[version] = {
            "requests": len(rows),
            "answers": len(ok),
            "success_rate": round(len(ok) / len(rows), 6),
            "cost_usd": money(cost),
            "cost_per_answer_usd": money((cost / len(ok)).quantize(_CENT_MILLIONTH)) if ok else "0",
            "input_tokens_per_answer": round(sum(o.input_tokens for o in ok) / len(ok), 1) if ok else None,
        }
    return table


def prompt_cost_ratio(table: dict[str, object] | None) -> float | None:
    """The most expensive prompt version's cost per answer over the cheapest's (None: fewer than two
    versions with answers): what a new prompt costs against the old, as one number a gate can bound."""
    if table is None:
        return None
    costs = [Decimal(str(row["cost_per_answer_usd"])) for row in table.values() if isinstance(row, dict)]
    costs = [c for c in costs if c > 0]
    if len(costs) < 2:
        return None
    return round(float(max(costs) / min(costs)), 4)
