"""Writing a run's report folder: ``reports/<scenario>/`` (or ``--out``).

Files: ``summary.json``, ``summary.md``, ``junit.xml``, ``report.html`` with its charts as PNG, and the
raw logs (``provider_requests.jsonl``, ``outcomes.jsonl``, ``events.jsonl``, ``ledger.json``), so the
verdict can be re-derived or audited without rerunning.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path

from harness.records import OutcomeRecord, ProviderRecord, write_jsonl
from harness.report.junit import junit_xml
from harness.report.markdown import summary_markdown
from harness.report.result import RunResult

__all__ = ["ReportWriter", "summary_json", "write_report"]

#: renders extra files into the folder and returns {label: relative path}; the HTML report plugs in here
ReportWriter = Callable[[RunResult, Path], dict[str, str]]


def _html_report(result: RunResult, out_dir: Path) -> dict[str, str]:
    # imported lazily: matplotlib is only loaded when a report is actually written
    from harness.report.html import html_writer

    return html_writer(result, out_dir)


_extra_writers: list[ReportWriter] = [_html_report]


def register_writer(writer: ReportWriter) -> None:
    """Add a writer (HTML and charts) that runs after the data files are written."""
    if writer not in _extra_writers:
        _extra_writers.append(writer)


def summary_json(result: RunResult) -> str:
    """summary.json text: stable key order, so equal runs give byte-equal files (apart from wall_s)."""
    return json.dumps(result.summary(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def write_report(result: RunResult, out_dir: Path) -> dict[str, Path]:
    """Write every report file into ``out_dir`` (created if needed); returns {label: path}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}

    def put(label: str, name: str, text: str) -> None:
        (out_dir / name).write_text(text, encoding="utf-8")
        files[label] = name

    def stream(label: str, name: str, records: Iterable[ProviderRecord | OutcomeRecord]) -> None:
        with (out_dir / name).open("w", encoding="utf-8") as out:
            write_jsonl(records, out)  # a block of lines at a time: a large log is never one string
        files[label] = name

    stream("request log (provider)", "provider_requests.jsonl", result.provider_records)
    stream("outcome log (client)", "outcomes.jsonl", result.outcomes)
    put("client events", "events.jsonl", "".join(json.dumps(asdict(e)) + "\n" for e in result.events))
    put("billing ledger", "ledger.json", json.dumps(result.ledger, indent=2, default=str) + "\n")
    for writer in _extra_writers:
        files.update(writer(result, out_dir))
    files.update({label: path for label, path in result.extra_files if (out_dir / path).exists()})
    put("JUnit", "junit.xml", junit_xml(result))
    put("summary (JSON)", "summary.json", summary_json(result))
    links = {label: path for label, path in files.items() if not path.endswith(".png")}
    put("summary (Markdown)", "summary.md", summary_markdown(result, links))
    return {label: out_dir / name for label, name in files.items()}
