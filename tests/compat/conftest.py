"""Compat tests: the official SDKs and LiteLLM against a fake provider on loopback."""

from __future__ import annotations

import inspect
import itertools
import os
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import pytest

from fake_provider.config import ProviderConfig
from fake_provider.testing import RunningServer, running
from harness.records import ProviderRecord

# LiteLLM would otherwise try to download its price map at import; there is no internet here.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

_C = TypeVar("_C")

HINT_S = 0.3  # retry hints stay short so the suite stays fast
TOLERANCE_S = 0.01  # docs/metrics.md: an attempt earlier than hint − 10 ms is a violation


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    async with running(ProviderConfig(allow_fault_headers=True)) as s:
        yield s


_OPENED: list[Any] = []


def track(client: _C) -> _C:
    """Close this SDK client after the test (unclosed clients complain once the loop is gone)."""
    _OPENED.append(client)
    return client


@pytest.fixture(autouse=True)
async def _close_clients() -> AsyncIterator[None]:
    yield
    while _OPENED:
        client = _OPENED.pop()
        aio = getattr(client, "aio", None)
        result = aio.aclose() if aio is not None else client.close()
        if inspect.isawaitable(result):
            await result


def assert_usage_matches_log_and_ledger(server: RunningServer, prompt: int, output: int) -> ProviderRecord:
    """The SDK's usage equals the request log's last record and the ledger's entry for it."""
    record = server.core.log.since(0)[-1]
    assert (record.status, record.prompt_tokens, record.output_tokens) == (200, prompt, output)
    entry = server.core.ledger.entries[-1]
    assert entry.seq == record.seq
    assert (entry.usage.input_tokens, entry.usage.output_tokens) == (prompt, output)
    model = server.core.models[entry.model]
    assert entry.cost_usd == model.price.cost(entry.usage)
    assert record.cost_usd == f"{entry.cost_usd:f}"
    return record


def assert_retries_waited(server: RunningServer, attempts: int, hint_s: float) -> None:
    """Attempts 0..n-1 of one logical request, each sent at least ``hint_s`` after the previous answer."""
    records = server.core.log.since(0)
    assert [r.attempt for r in records] == list(range(attempts))
    assert len({r.logical_id for r in records}) == 1
    for before, after in itertools.pairwise(records):
        waited = after.t - (before.t + before.duration_s)
        assert waited >= hint_s - TOLERANCE_S, f"attempt {after.attempt} came {waited:.3f} s after a {hint_s} s hint"
        assert before.retry_after_s == pytest.approx(hint_s)
