"""No file in the repository cites a document that is not in it (docs live in docs/, in our words)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Markdown files the harness writes into a report folder (they exist after a run, not in git)
GENERATED = {"summary.md", "comparison.md", "exploration.md", "report.md"}  # report.md: what harness smoke writes
_CITED = re.compile(r"[A-Za-z0-9_./-]*[A-Za-z0-9_-]\.md\b")
_TEXT = (".py", ".md", ".toml", ".txt", ".cfg", ".ini", ".yml", ".yaml", ".html", ".css", ".js")


def _tracked() -> list[Path]:
    done = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:  # not a git checkout (an sdist): every file under the root
        return [p for p in ROOT.rglob("*") if p.is_file() and ".venv" not in p.parts and ".git" not in p.parts]
    return [ROOT / line for line in done.stdout.splitlines() if line]


def _missing(cited: str, source: Path, names: frozenset[str] = frozenset()) -> bool:
    """Whether ``cited`` (in ``source``) names no document of the repository.

    A path must exist from the root or from the citing file; a bare name ("RESULTS.md" in a sentence
    about bench/) must be the name of some document of the repository (``names``).
    """
    name = cited.rsplit("/", 1)[-1]
    if name in GENERATED or cited.startswith(("reports/", "http")):
        return False
    candidates = [ROOT / cited, source.parent / cited, ROOT / "docs" / cited]
    return not any(c.is_file() for c in candidates) and not ("/" not in cited and cited in names)


def test_every_cited_document_is_in_the_repository() -> None:
    tracked = _tracked()
    names = frozenset(p.name for p in tracked if p.suffix == ".md")
    missing = []
    for path in tracked:
        if path.suffix not in _TEXT or not path.is_file() or path == Path(__file__).resolve():
            continue  # this file names missing documents on purpose
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in _CITED.finditer(text):
            if _missing(match.group(0), path, names):
                missing.append(f"{path.relative_to(ROOT)}: {match.group(0)}")
    assert missing == [], "\n".join(missing)


def test_the_check_notices_a_document_that_is_not_there() -> None:
    assert _missing("METRICS.md", ROOT / "harness" / "judge" / "gates.py")
    assert _missing("docs/WIRE.md", ROOT / "README.md")
    assert not _missing("docs/metrics.md", ROOT / "README.md")
    assert not _missing("metrics.md", ROOT / "docs" / "scenarios.md")
    assert not _missing("summary.md", ROOT / "docs" / "reports.md")
    assert not _missing("RESULTS.md", ROOT / "README.md", frozenset({"RESULTS.md"}))
    assert _missing("bench/RESULTS2.md", ROOT / "README.md", frozenset({"RESULTS2.md"}))
