"""Reports: summary.json, summary.md, junit.xml, report.html with charts, and the raw logs."""

from harness.report.result import ClientEvent, RunResult
from harness.report.writer import register_writer, summary_json, write_report

__all__ = ["ClientEvent", "RunResult", "register_writer", "summary_json", "write_report"]
