"""examples/locustfile.py, run the way its docstring says, against the fake provider."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.locust.conftest import REPO


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_the_example_locustfile_drives_the_reference_client(provider_port: int, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "locust", "-f", "examples/locustfile.py", "--headless", "-u", "8", "-r", "8",
         "-t", "5s", "--host", f"http://127.0.0.1:{provider_port}", "--csv", str(tmp_path / "example"),
         "--only-summary"],
        cwd=REPO, capture_output=True, text=True, timeout=150, stdin=subprocess.DEVNULL,
        env={**os.environ, "OPENAI_API_KEY": "sk-example"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    with (tmp_path / "example_stats.csv").open(encoding="utf-8", newline="") as f:
        rows = {(r["Type"], r["Name"]): r for r in csv.DictReader(f)}
    plain = rows[("openai", "gpt-4o-mini")]  # LLMUser.chat: reported per logical request
    conversation = rows[("openai", "conversation")]  # a coroutine of the user's own, through run_coroutine
    assert int(plain["Request Count"]) > 0
    assert int(conversation["Request Count"]) > 0
    assert int(plain["Failure Count"]) == int(conversation["Failure Count"]) == 0
    assert float(plain["Average Content Size"]) > 0  # output tokens
    assert float(conversation["Average Content Size"]) > float(plain["Average Content Size"])  # two turns' tokens
    assert "sk-example" not in done.stdout + done.stderr
