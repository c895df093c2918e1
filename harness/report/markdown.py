"""``summary.md``: a verdict, the gates and the key numbers, fit for a CI job summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.report.result import RunResult

__all__ = [
    "DEGRADATION_COLUMNS",
    "KEY_METRICS",
    "PROMPT_COLUMNS",
    "SEMANTIC_ROWS",
    "degradation_rows",
    "format_value",
    "prompt_rows",
    "semantic_rows",
    "summary_markdown",
]  # fmt: skip

#: metrics shown in the summary table, in order, with a human label
KEY_METRICS: Sequence[tuple[str, str]] = (
    ("requests_logical", "logical requests"),
    ("success_rate", "success rate"),
    ("attempts", "attempts seen by the provider"),
    ("retry_amplification", "retry amplification (attempts / request)"),
    ("lost_requests", "lost requests"),
    ("provider_429s", "provider 429s"),
    ("herd_peak_100ms", "herd peak (arrivals / 100 ms)"),
    ("herd_gate_100ms", "herd gate"),
    ("retry_after_violations", "Retry-After violations"),
    ("limit_violations", "limit violations"),
    ("goodput_tokens_per_min", "goodput (tokens / min)"),
    ("goodput_ratio", "goodput / quota"),
    ("jitter_cv", "jitter strength (CV of first retry delay)"),
    ("cost_client_usd", "cost, client ledger (USD)"),
    ("cost_provider_usd", "cost, provider ledger (USD)"),
    ("cost_abs_error_usd", "cost error on completed requests (USD)"),
    ("overspend_usd", "overspend beyond hard budgets (USD)"),
    ("latency_p50_s", "latency p50 (s)"),
    ("latency_p99_s", "latency p99 (s)"),
    ("ttft_p50_s", "time to first token p50 (s)"),
    ("simulated_s", "simulated seconds"),
    ("wall_s", "wall seconds"),
)


def format_value(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def _table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines


def summary_markdown(result: RunResult, files: Mapping[str, str] | None = None) -> str:
    """The Markdown summary; ``files`` maps a label to a relative path to link (report.html …)."""
    verdict = "PASSED" if result.passed else "FAILED"
    icon = "✅" if result.passed else "❌"
    f = result.facts
    lines = [f"## {icon} `{f.scenario}` {verdict}", ""]
    if result.description:
        lines += [result.description.strip(), ""]
    lines += [f"client **{result.client}**, mode **{f.mode}**, seed **{f.seed}**", ""]
    gate_rows = [
        [("✅ " if g.passed else "❌ ") + g.name, format_value(g.value), f"{g.op} {format_value(g.threshold)}", g.note]
        for g in result.gates
    ]
    lines += ["### Gates", "", *_table(gate_rows, ["gate", "value", "threshold", "note"]), ""]
    if result.findings:
        lines += ["### Findings", "", *[f"- {finding}" for finding in result.findings], ""]
    metrics = result.metrics
    metric_rows = [[label, format_value(metrics.get(key))] for key, label in KEY_METRICS if key in metrics]
    lines += ["### Key numbers", "", *_table(metric_rows, ["metric", "value"]), ""]
    semantic = semantic_rows(metrics)
    if semantic:
        lines += ["### Semantic cache", "", *_table(semantic, ["metric", "value"]), ""]
    versions = prompt_rows(metrics)
    if versions:
        lines += ["### Prompt versions", "", *_table(versions, list(PROMPT_COLUMNS)), ""]
    ladder = degradation_rows(metrics)
    if ladder:
        lines += ["### Degradation ladder", "", *_table(ladder, list(DEGRADATION_COLUMNS)), ""]
        failed = [g for g in result.gates if g.name.startswith("degradation_") and not g.passed]
        lines += [f"❌ ladder gate failed: {g.describe()}" for g in failed] + ([""] if failed else [])
    if files:
        lines += ["### Files", "", *[f"- [{label}]({path})" for label, path in files.items()], ""]
    return "\n".join(lines)


#: the semantic cache's report rows (shown when the run embedded anything)
SEMANTIC_ROWS: Sequence[tuple[str, str]] = (
    ("semantic_cache_hits", "answers from the semantic cache"),
    ("semantic_cache_hit_rate", "hit rate (hits / outcomes)"),
    ("semantic_cache_wrong_hits", "wrong hits (another question's answer)"),
    ("semantic_cache_savings_usd", "saved against no cache, estimate (USD)"),
    ("embedding_calls", "embeddings calls"),
    ("embedding_cost_usd", "embeddings cost (USD)"),
)


def semantic_rows(metrics: Mapping[str, object]) -> list[list[str]]:
    """The semantic cache's rows, or none when the run made no embeddings call and served no hit."""
    if not metrics.get("embedding_calls") and not metrics.get("semantic_cache_hits"):
        return []
    return [[label, format_value(metrics.get(key))] for key, label in SEMANTIC_ROWS]


PROMPT_COLUMNS = (
    "prompt version",
    "requests",
    "success rate",
    "cost (USD)",
    "cost per answer (USD)",
    "input tokens per answer",
)


def prompt_rows(metrics: Mapping[str, object]) -> list[list[str]]:
    """One row per prompt version, side by side (none when no request named a prompt)."""
    table = metrics.get("prompt_versions")
    if not isinstance(table, Mapping):
        return []
    keys = ("requests", "success_rate", "cost_usd", "cost_per_answer_usd", "input_tokens_per_answer")
    return [[str(v), *(format_value(row.get(k)) for k in keys)] for v, row in table.items() if isinstance(row, Mapping)]


DEGRADATION_COLUMNS = ("step", "requests", "share")


def degradation_rows(metrics: Mapping[str, object]) -> list[list[str]]:
    """One row per step of the degradation ladder, best first (none when the run had no ladder)."""
    steps = metrics.get("degradation_steps")
    if not isinstance(steps, Mapping):
        return []
    total = sum(int(v) for v in steps.values() if isinstance(v, int)) or 1
    return [[str(step), str(n), format_value(round(int(n) / total, 4))] for step, n in steps.items()]
