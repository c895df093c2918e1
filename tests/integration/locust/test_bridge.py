"""The asyncio bridge inside a monkey-patched Locust process (harness.locust.bridge).

``bridge_probe.py`` runs in its own process (it imports Locust, which patches the standard library),
drives aiohttp, name resolution, redis.asyncio and the reference client through the bridge, and
prints what it saw.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = Path(__file__).with_name("bridge_probe.py")


@pytest.mark.redis
def test_asyncio_code_runs_from_greenlets_under_locusts_monkey_patching(provider_port: int, redis_url: str) -> None:
    done = subprocess.run(
        [sys.executable, str(PROBE), str(provider_port), redis_url], capture_output=True, text=True, timeout=90
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["patched"] is True  # the probe really ran under Locust's patching
    assert seen["loop_on_its_own_os_thread"] is True
    assert seen["executor_on_os_threads"] is True  # run_in_executor reaches real threads, not stray greenlets
    assert seen["aiohttp_by_name"] == 200  # "localhost" resolved through the loop's executor
    assert seen["aiohttp_by_ip"] == 200
    assert seen["redis_by_name"] is True
    assert seen["ticks_while_waiting"] >= 10  # the hub kept running other greenlets during a 0.5 s wait
    assert seen["kill_cancels"] is True  # Locust killing a waiting user cancels its coroutine
    assert seen["client_answers"] == 64  # 64 greenlets through one reference client, all answered
