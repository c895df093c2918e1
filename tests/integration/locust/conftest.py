"""Locust tests: ``harness load`` and locustfiles, always in subprocesses.

Locust monkey-patches the standard library with gevent when it is imported, so no test process ever
imports it (``harness.locust`` included): every Locust process here is a child, bounded in time, on
loopback, and stopped by the test if it outlives its timeout.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.testing.process import listening_process

REPO = Path(__file__).resolve().parents[3]


def harness_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "harness.cli", *args]


def run_harness(*args: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
    """``harness ARGS`` from the repository's root (as the README runs it), output captured."""
    return subprocess.run(
        harness_command(*args), cwd=REPO, capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL
    )


@pytest.fixture
def provider_port() -> Iterator[int]:
    """A fake provider in its own process on a free loopback port."""
    with listening_process([sys.executable, "-m", "fake_provider", "--port", "0", "--seed", "1"]) as port:
        yield port
