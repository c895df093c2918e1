"""Each shipped scenario's key metrics in virtual time and in real time, side by side.

Runs ``harness run`` on every scenario (or those named) twice, virtual and ``--real-time``, and prints
a Markdown table; with ``--reports VIRTUAL_DIR REAL_DIR`` it tabulates reports already written (one
folder per scenario, named by its path under scenarios/ without ``.toml``, e.g. ``conduct/silence``, as
``tests/integration/test_real_time_catalogue.py`` writes them).

    python bench/real_vs_virtual.py                       # every scenario, both modes (~25 min)
    python bench/real_vs_virtual.py scenarios/smoke.toml scenarios/conduct/silence.toml
    python bench/real_vs_virtual.py --reports /tmp/virtual /tmp/real
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEYS = ("success_rate", "retry_amplification", "latency_p99_s", "jitter_cv", "herd_peak_100ms", "fallback_answers")


def key(path: Path) -> str:
    """A scenario's report folder: its path under scenarios/ without .toml (stems repeat across folders)."""
    return path.relative_to(ROOT / "scenarios").with_suffix("").as_posix()


def run(path: Path, out: Path, real: bool) -> None:
    harness = Path(sys.executable).with_name("harness")
    cmd = [str(harness), "run", str(path), "--quiet", "--out", str(out / key(path))]
    subprocess.run([*cmd, "--real-time"] if real else cmd, cwd=ROOT, check=False, capture_output=True)


def cell(summary: dict[str, object] | None, key: str) -> str:
    if summary is None:
        return "–"
    value = summary["metrics"].get(key)  # type: ignore[attr-defined]
    if value is None:
        return "–"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def load(folder: Path, name: str) -> dict[str, object] | None:
    file = folder / name / "summary.json"
    return json.loads(file.read_text()) if file.is_file() else None


def table(paths: list[Path], virtual: Path, real: Path) -> str:
    head = ["scenario", "gates v / rt", *(f"{k} v / rt" for k in KEYS)]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for path in paths:
        v, r = load(virtual, key(path)), load(real, key(path))
        verdict = " / ".join("–" if s is None else ("pass" if s["passed"] else "FAIL") for s in (v, r))
        cells = [f"{cell(v, k)} / {cell(r, k)}" for k in KEYS]
        lines.append("| " + " | ".join([path.relative_to(ROOT / "scenarios").as_posix(), verdict, *cells]) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", type=Path)
    parser.add_argument("--reports", nargs=2, type=Path, metavar=("VIRTUAL_DIR", "REAL_DIR"))
    args = parser.parse_args()
    paths = [p.resolve() for p in args.scenarios] or sorted((ROOT / "scenarios").rglob("*.toml"))
    if args.reports:
        virtual, real = args.reports
    else:
        base = Path(tempfile.mkdtemp(prefix="real_vs_virtual-"))
        virtual, real = base / "virtual", base / "real"
        for path in paths:
            run(path, virtual, real=False)
            run(path, real, real=True)
            print(f"done {key(path)}", file=sys.stderr)
    print(table(paths, virtual, real))


if __name__ == "__main__":
    main()
