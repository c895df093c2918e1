"""Several clients through the same storm, side by side (``[[compare_with]]``)."""

from __future__ import annotations

from collections.abc import Sequence

from harness.report.markdown import format_value
from harness.report.result import RunResult

__all__ = ["COMPARED_METRICS", "comparison_markdown", "comparison_rows"]

#: the numbers that tell clients apart under a storm
COMPARED_METRICS: Sequence[tuple[str, str]] = (
    ("success_rate", "success rate"),
    ("attempts", "attempts seen by the provider"),
    ("retry_amplification", "retry amplification"),
    ("provider_429s", "provider 429s"),
    ("retry_after_violations", "Retry-After violations"),
    ("herd_peak_100ms", "herd peak (arrivals / 100 ms)"),
    ("lost_requests", "lost requests"),
    ("truncated_answers", "truncated answers"),
    ("cost_client_usd", "cost, client's view (USD)"),
    ("cost_provider_usd", "cost, provider's bill (USD)"),
    ("cost_abs_error_usd", "cost error on answers (USD)"),
    ("latency_p50_s", "latency p50 (s)"),
    ("latency_p99_s", "latency p99 (s)"),
)


def comparison_rows(results: Sequence[RunResult]) -> list[list[str]]:
    """One row per metric, one column per client, then the verdict on the scenario's gates."""
    rows = [[label, *(format_value(r.metrics.get(key)) for r in results)] for key, label in COMPARED_METRICS]
    verdicts = []
    for r in results:
        failed = [g.name for g in r.gates if not g.passed]
        verdicts.append("passes" if not failed else "fails " + ", ".join(failed))
    rows.append(["the scenario's gates", *verdicts])
    return rows


def comparison_markdown(results: Sequence[RunResult], links: Sequence[str] = ()) -> str:
    """``comparison.md``: the table, with each client's report linked under its name."""
    names = [r.client for r in results]
    header = "| metric | " + " | ".join(f"`{n}`" for n in names) + " |"
    lines = [f"## `{results[0].facts.scenario}`: clients compared", "", header, "|" + " --- |" * (len(names) + 1)]
    lines += ["| " + " | ".join(row) + " |" for row in comparison_rows(results)]
    if links:
        lines += ["", "Reports: " + ", ".join(f"[{n}]({link})" for n, link in zip(names, links, strict=True))]
    return "\n".join(lines) + "\n"
