"""``report.html``: one self-contained page per run (charts embedded as data URIs, no network at all).

Top to bottom: a verdict banner, the gate table (name, value, threshold, pass/fail), the scenario
description with client, mode and seed, the key metrics, the charts (each with a caption saying how
to read it) and links to the raw files. The charts are also saved as PNG next to the page.

The page loads nothing: its Content-Security-Policy allows images from ``data:`` URIs and inline
styles only, so a browser opening it from a CI artefact makes no request. Every string that comes
from a run (scenario text, gate names, notes, metric values) is escaped; headers are never shown.

Plug it into the report folder with::

    from harness.report import register_writer
    from harness.report.html import html_writer
    register_writer(html_writer)
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from html import escape
from pathlib import Path
from typing import Any

from harness.judge.gates import GateResult
from harness.report.charts import Chart, render_charts
from harness.report.markdown import (
    DEGRADATION_COLUMNS,
    KEY_METRICS,
    PROMPT_COLUMNS,
    STRUCTURED_ROWS,
    cache_side_by_side,
    degradation_rows,
    format_value,
    prompt_rows,
    semantic_rows,
    structured_rows,
)
from harness.report.result import RunResult
from harness.report.series import MONEY_LIMIT

__all__ = ["RAW_FILES", "html_writer", "render_html"]

#: files ``write_report`` puts in every report folder, linked from the page: (label, relative path)
RAW_FILES: tuple[tuple[str, str], ...] = (
    ("summary (JSON)", "summary.json"),
    ("summary (Markdown)", "summary.md"),
    ("JUnit", "junit.xml"),
    ("request log (provider)", "provider_requests.jsonl"),
    ("outcome log (client)", "outcomes.jsonl"),
    ("client events", "events.jsonl"),
    ("billing ledger", "ledger.json"),
)

# only inline styles and data: images; no script, font, frame, fetch or form target can load
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

_CSS = """
:root { --ink:#111827; --muted:#6b7280; --line:#e5e7eb; --bg:#f4f6f9; --card:#fff;
  --pass:#15803d; --pass-bg:#dcfce7; --fail:#b91c1c; --fail-bg:#fee2e2; --accent:#2563eb; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink); line-height:1.5;
  font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue","DejaVu Sans",Arial,sans-serif; }
main { max-width:1160px; margin:0 auto; padding:24px 24px 48px; }
.verdict { display:flex; align-items:center; gap:20px; padding:20px 24px; border-radius:14px; color:#fff;
  box-shadow:0 1px 2px rgb(0 0 0 / .06), 0 4px 16px rgb(0 0 0 / .06); }
.verdict.pass { background:linear-gradient(135deg,#15803d,#16a34a); }
.verdict.fail { background:linear-gradient(135deg,#b91c1c,#dc2626); }
.verdict .mark { flex:none; width:52px; height:52px; border-radius:50%; background:rgb(255 255 255 / .18);
  display:grid; place-items:center; font-size:28px; font-weight:700; }
.verdict h1 { margin:0; font-size:24px; font-weight:700; letter-spacing:-.01em; word-break:break-word; }
.verdict .sub { margin:2px 0 0; opacity:.92; }
.verdict .word { margin-left:auto; font-size:13px; font-weight:700; letter-spacing:.12em; padding:6px 12px;
  border:1.5px solid rgb(255 255 255 / .7); border-radius:999px; }
section { background:var(--card); border:1px solid var(--line); border-radius:14px; padding:18px 22px;
  margin-top:18px; }
h2 { margin:0 0 12px; font-size:17px; letter-spacing:-.01em; }
table { width:100%; border-collapse:collapse; font-variant-numeric:tabular-nums; }
th, td { text-align:left; padding:8px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-size:12px; text-transform:uppercase; letter-spacing:.06em; color:var(--muted); font-weight:600; }
tr:last-child td { border-bottom:none; }
td.num { text-align:right; white-space:nowrap; }
th.num { text-align:right; }
code { font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,"DejaVu Sans Mono",monospace; font-size:13px; }
.pill { display:inline-block; min-width:52px; text-align:center; font-size:12px; font-weight:700;
  letter-spacing:.06em; padding:2px 10px; border-radius:999px; }
.pill.pass { color:var(--pass); background:var(--pass-bg); }
.pill.fail { color:var(--fail); background:var(--fail-bg); }
tr.failed td { background:#fff7f7; }
.note { color:var(--muted); font-size:13px; }
.facts { display:flex; flex-wrap:wrap; gap:10px 28px; margin:12px 0 0; }
.facts div { min-width:110px; }
.facts dt { font-size:12px; text-transform:uppercase; letter-spacing:.06em; color:var(--muted); }
.facts dd { margin:0; font-weight:600; }
.description p { margin:0 0 8px; max-width:80ch; }
.metrics { columns:2 420px; column-gap:32px; }
.metrics div { display:flex; justify-content:space-between; gap:16px; padding:6px 0;
  border-bottom:1px solid var(--line); break-inside:avoid; }
.metrics dt { color:#374151; }
.metrics dd { margin:0; font-weight:600; font-variant-numeric:tabular-nums; text-align:right; }
details { margin-top:12px; }
summary { cursor:pointer; color:var(--accent); font-size:14px; }
figure { margin:0 0 26px; }
figure:last-child { margin-bottom:0; }
figure img { display:block; width:100%; height:auto; border:1px solid var(--line); border-radius:10px; }
figcaption { margin-top:8px; color:#374151; font-size:14px; max-width:95ch; }
figcaption a { white-space:nowrap; }
a { color:var(--accent); text-decoration:none; }
a:hover { text-decoration:underline; }
ul.files { margin:0; padding:0; list-style:none; columns:2 300px; }
ul.files li { padding:4px 0; }
footer { margin-top:20px; color:var(--muted); font-size:13px; text-align:center; }
@media (max-width:640px) { main { padding:12px; } .verdict { flex-wrap:wrap; } .verdict .word { margin-left:0; } }
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _shown(name: str, value: object) -> str:
    """A metric or gate value for the page: money as plain decimals, the rest as summary.md shows it."""
    if name.endswith("_usd") and isinstance(value, str | int | float | Decimal) and not isinstance(value, bool):
        try:
            amount = Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            amount = Decimal("NaN")
        if amount.is_finite() and abs(amount) < MONEY_LIMIT:  # else shown as it came, below
            return "$0" if amount == 0 else f"${amount.normalize():f}"
    if isinstance(value, Mapping):
        return " · ".join(f"{k}: {format_value(v)}" for k, v in value.items()) or "none"
    text = format_value(value)
    return text if len(text) <= 80 else text[:79] + "…"  # a runaway value must not swamp the table


def _banner(result: RunResult) -> str:
    gates = result.gates
    failed = sum(1 for g in gates if not g.passed)
    kind = "pass" if result.passed else "fail"
    if not gates:
        sub = "no gates were declared"
    elif failed:
        names = [g.name for g in gates if not g.passed]
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        sub = f"{failed} of {len(gates)} gates failed: {shown}"
    else:
        sub = f"all {len(gates)} gates passed"
    f = result.facts
    sub += f" · client {result.client} · {f.mode} · seed {f.seed}"
    return (
        f'<header class="verdict {kind}" id="verdict">'
        f'<div class="mark" aria-hidden="true">{"✓" if result.passed else "✗"}</div>'
        f'<div><h1>{_e(result.facts.scenario)}</h1><p class="sub">{_e(sub)}</p></div>'
        f'<div class="word">{"PASSED" if result.passed else "FAILED"}</div></header>'
    )


def _gate_row(gate: GateResult) -> str:
    kind = "pass" if gate.passed else "fail"
    threshold = f"{gate.op} {_shown(gate.name, gate.threshold)}"
    return (
        f'<tr class="{"passed" if gate.passed else "failed"}">'
        f'<td><span class="pill {kind}">{"PASS" if gate.passed else "FAIL"}</span></td>'
        f"<td><code>{_e(gate.name)}</code></td>"
        f'<td class="num">{_e(_shown(gate.name, gate.value))}</td>'
        f'<td class="num">{_e(threshold)}</td>'
        f'<td class="note">{_e(gate.note)}</td></tr>'
    )


def _gates(gates: Sequence[GateResult]) -> str:
    if not gates:
        body = '<p class="note">This scenario declares no gates, so nothing was judged.</p>'
    else:
        body = (
            '<table id="gates"><colgroup><col style="width:96px"><col><col style="width:150px">'
            '<col style="width:150px"><col style="width:32%"></colgroup>'
            '<thead><tr><th>result</th><th>gate</th><th class="num">value</th>'
            '<th class="num">threshold</th><th>note</th></tr></thead><tbody>'
            + "".join(_gate_row(g) for g in gates)
            + "</tbody></table>"
        )
    return _section("gates", "Gates", body)


def _section(slug: str, title: str, body: str) -> str:
    """A titled section of the page (its heading labels it for screen readers)."""
    return f'<section aria-labelledby="{slug}-title"><h2 id="{slug}-title">{title}</h2>{body}</section>'


def _table(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _about(result: RunResult) -> str:
    f = result.facts
    paragraphs = [p.strip() for p in result.description.strip().split("\n\n") if p.strip()]
    text = "".join(f"<p>{_e(' '.join(p.split()))}</p>" for p in paragraphs)
    facts: list[tuple[str, object]] = [
        ("client", result.client),
        ("mode", f.mode),
        ("seed", f.seed),
        ("simulated", f"{f.simulated_s:.3f} s"),
        ("wall", f"{f.wall_s:.3f} s"),
        ("logical requests", result.metrics.get("requests_logical", "n/a")),
    ]
    items = "".join(f"<div><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>" for k, v in facts)
    return (
        '<section class="description" aria-labelledby="about-title"><h2 id="about-title">Scenario</h2>'
        f'{text}<dl class="facts">{items}</dl></section>'
    )


def _findings(findings: Sequence[str]) -> str:
    if not findings:
        return ""
    items = "".join(f"<li>{_e(finding)}</li>" for finding in findings)
    return _section("findings", "Findings", f"<ul>{items}</ul>")


def _metric_list(items: Iterable[Sequence[str]]) -> str:
    return '<dl class="metrics">' + "".join(f"<div><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>" for k, v in items) + "</dl>"


def _metrics(metrics: Mapping[str, Any]) -> str:
    labelled = {key for key, _ in KEY_METRICS}
    key_rows = [(label, _shown(key, metrics[key])) for key, label in KEY_METRICS if key in metrics]
    key_rows += [
        (label, _shown(key, metrics[key]))
        for key, label in (("status_counts", "provider statuses"), ("outcome_counts", "outcomes"))
        if key in metrics
    ]
    rest = [(key, _shown(key, value)) for key, value in sorted(metrics.items()) if key not in labelled]
    more = f"<details><summary>All {len(metrics)} metrics</summary>{_metric_list(rest)}</details>" if rest else ""
    return _section("metrics", "Key metrics", _metric_list(key_rows) + more)


def _structured(metrics: Mapping[str, Any]) -> str:
    """Structured output: valid answers before and after re-asks, and what re-asking cost."""
    keys = {label: key for key, label in STRUCTURED_ROWS}
    rows = [(label, _shown(keys[label], value)) for label, value in structured_rows(metrics)]
    if not rows:
        return ""
    return _section("structured", "Structured output", _metric_list(rows))


def _semantic(result: RunResult) -> str:
    rows = semantic_rows(result.metrics)
    if not rows:
        return ""
    header, side, note = cache_side_by_side(result)
    compared = _table(header, side) + f"<p>{_e(note.replace('`', ''))}</p>" if side else ""
    return _section("semantic", "Semantic cache", _metric_list(rows) + compared)


def _prompts(metrics: Mapping[str, Any]) -> str:
    rows = prompt_rows(metrics)
    if not rows:
        return ""
    return _section("prompts", "Prompt versions", _table(PROMPT_COLUMNS, rows))


def _degradation(result: RunResult) -> str:
    rows = degradation_rows(result.metrics)
    if not rows:
        return ""
    failed = [g for g in result.gates if g.name.startswith("degradation_") and not g.passed]
    notes = "".join(f'<p class="fail">ladder gate failed: {_e(g.describe())}</p>' for g in failed)
    return _section("degradation", "Degradation ladder", _table(DEGRADATION_COLUMNS, rows) + notes)


def _figure(chart: Chart) -> str:
    data = base64.b64encode(chart.png).decode("ascii")
    return (
        f'<figure id="chart-{_e(chart.name)}">'  # the PNG carries its own title
        f'<img src="data:image/png;base64,{data}" alt="{_e(chart.title)}" width="{chart.width}" '
        f'height="{chart.height}"><figcaption>{_e(chart.caption)} '
        f'<a href="{_e(chart.filename)}">PNG</a></figcaption></figure>'
    )


def _files(links: Sequence[tuple[str, str]]) -> str:
    items = "".join(f'<li><a href="{_e(path)}">{_e(label)}</a> <code>{_e(path)}</code></li>' for label, path in links)
    return _section("files", "Raw files", f'<ul class="files">{items}</ul>')


def render_html(result: RunResult, charts: Sequence[Chart], links: Sequence[tuple[str, str]] = RAW_FILES) -> str:
    """The whole page; ``links`` are (label, relative path) pairs for the raw files section."""
    verdict = "passed" if result.passed else "FAILED"
    body = [
        _banner(result),
        _gates(result.gates),
        _findings(result.findings),
        _about(result),
        _metrics(result.metrics),
        _structured(result.metrics),
        _semantic(result),
        _prompts(result.metrics),
        _degradation(result),
        _section("charts", "Charts", "".join(_figure(c) for c in charts)),
        _files([*links, *result.extra_files, *((f"chart: {c.title}", c.filename) for c in charts)]),
        f"<footer>llm-harness report · scenario {_e(result.facts.scenario)} · seed {_e(result.facts.seed)}</footer>",
    ]
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        f"<title>{_e(result.facts.scenario)} — {verdict}</title><style>{_CSS}</style></head>\n"
        "<body><main>\n" + "\n".join(b for b in body if b) + "\n</main></body></html>\n"
    )


def html_writer(result: RunResult, out_dir: Path) -> dict[str, str]:
    """A report writer (see ``register_writer``): the charts as PNG and ``report.html``; returns {label: path}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    charts = render_charts(result)
    files: dict[str, str] = {}
    for chart in charts:
        (out_dir / chart.filename).write_bytes(chart.png)
        files[f"chart: {chart.title}"] = chart.filename
    (out_dir / "report.html").write_text(render_html(result, charts), encoding="utf-8")
    return {"report (HTML)": "report.html", **files}
