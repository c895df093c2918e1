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
    "STRUCTURED_ROWS",
    "cache_side_by_side",
    "degradation_rows",
    "format_value",
    "prompt_rows",
    "semantic_rows",
    "structured_rows",
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


#: the structured-output section: shown when the run judged structured answers or tool calls
STRUCTURED_ROWS: Sequence[tuple[str, str]] = (
    ("structured_requests", "requests that had to answer in JSON"),
    ("first_answer_valid_rate", "first answers valid"),
    ("schema_valid_rate", "answers valid after re-asks (what callers got)"),
    ("reask_rate", "re-asks per structured request"),
    ("reask_cost_usd", "cost of the re-asks (USD)"),
    ("reask_cost_share", "re-asks' share of the structured requests' cost"),
    ("tool_calls", "tool calls validated"),
    ("tool_call_validity", "tool calls with valid arguments"),
)


def structured_rows(metrics: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(label, value) rows of the structured-output section; empty when the run has nothing to show."""
    if metrics.get("structured_requests") is None and metrics.get("tool_calls") is None:
        return []
    return [(label, metrics.get(key)) for key, label in STRUCTURED_ROWS]


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
    structured = [[label, format_value(value)] for label, value in structured_rows(metrics)]
    if structured:
        lines += ["### Structured output", "", *_table(structured, ["metric", "value"]), ""]
    semantic = semantic_rows(metrics)
    if semantic:
        lines += ["### Semantic cache", "", *_table(semantic, ["metric", "value"]), ""]
        header, rows, note = cache_side_by_side(result)
        if rows:
            lines += [*_table(rows, header), "", note, ""]
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
    ("semantic_cache_savings_usd", "saved against the same run without the cache (USD)"),
    ("semantic_cache_savings_share", "share of the bill saved"),
    ("semantic_cache_savings_estimate_usd", "saved, estimated from the hits alone (USD)"),
    ("embedding_calls", "embeddings calls"),
    ("embedding_cost_usd", "embeddings cost (USD)"),
)


def semantic_rows(metrics: Mapping[str, object]) -> list[list[str]]:
    """The semantic cache's rows, or none when the run made no embeddings call and served no hit."""
    if not metrics.get("embedding_calls") and not metrics.get("semantic_cache_hits"):
        return []
    return [[label, format_value(metrics.get(key))] for key, label in SEMANTIC_ROWS]


#: the side by side of a run with a semantic cache and its baseline: (label, key in both)
SIDE_BY_SIDE_ROWS: Sequence[tuple[str, str]] = (
    ("logical requests", "requests_logical"),
    ("attempts at the provider (chat)", "attempts"),
    ("success rate", "success_rate"),
    ("provider bill (USD)", "cost_provider_usd"),
    ("latency p50 (s)", "latency_p50_s"),
    ("latency p99 (s)", "latency_p99_s"),
)


def cache_side_by_side(result: RunResult) -> tuple[list[str], list[list[str]], str]:
    """(header, rows, note) comparing the run with its cache-off baseline; no rows without a baseline."""
    metrics = result.metrics
    baseline = metrics.get("semantic_cache_baseline")
    if not isinstance(baseline, Mapping):
        return [], [], ""
    mode, seed, other = result.facts.mode, baseline.get("seed"), baseline.get("mode")
    header = ["", f"with the cache ({mode})", f"without the cache ({other}, seed {seed})"]
    rows = [
        [label, format_value(metrics.get(key)), format_value(baseline.get(key))] for label, key in SIDE_BY_SIDE_ROWS
    ]
    note = (
        "The run without the cache is the same scenario and seed with `[client.semantic_cache]` removed, "
        f"run in {other} time."
    )
    if other != mode:
        note += (
            f" This run was {mode}: the savings compare its measured bill with the simulated bill of the same "
            "storm, so they include what differs between the two modes' timing (docs/semantic-cache.md)."
        )
    else:
        note += " Both runs are deterministic: the savings are the exact difference of the two bills."
    return header, rows, note


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
