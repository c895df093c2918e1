"""``MemoryResponse.read`` hands a plain body over in one step; it must do what the iteration of record does.

The path of record is ``b"".join([data async for data in response])`` (what ``read`` was). For plans of
every kind (plain with or without a body, plain bodies cut or malformed by a fault, streams, resets,
silences), read in either state (headers already awaited or not), both paths must give the same bytes or
the same error, the same log record, and the same response afterwards (a second read, a close).
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fake_provider import memory
from fake_provider.config import ModelConfig, ProviderConfig
from fake_provider.core import ProviderCore, ProviderRequest
from fake_provider.memory import MemoryResponse, perform
from harness import vtime
from harness.clock import loop_clock
from harness.distributions import Distribution
from harness.pricing import ModelPrice

SLOW = ModelConfig(
    "slow", "openai", ModelPrice.per_million(1, 2), ttft=Distribution.fixed(0.5), inter_chunk=Distribution.fixed(0.1)
)
FAULTS = st.sampled_from(
    [
        {},
        {"x-fake-fault": "stream_cut_after=1"},
        {"x-fake-fault": "malformed_at=1"},
        {"x-fake-fault": "reset"},
        {"x-fake-fault": "silence_s=1"},
        {"x-fake-fault": "slow_headers_s=2"},
        {"x-fake-status": "429"},
        {"x-fake-status": "500"},
    ]
)


async def _record_read(response: MemoryResponse) -> bytes:
    return b"".join([data async for data in response])


async def _outcome(
    fast: bool, stream: bool, max_tokens: int, fault: dict[str, str], wait_headers: bool, again: bool = True
) -> tuple[list[object], list[tuple[object, ...]]]:
    core = ProviderCore(
        ProviderConfig(allow_fault_headers=True).with_models(SLOW), clock=loop_clock(), wall_clock=lambda: 1.8e9
    )
    body = {
        "model": "slow",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": max_tokens,
        "stream": stream,
    }
    headers = {"authorization": "Bearer k", **fault}
    response = perform(
        core.handle(ProviderRequest("POST", "/v1/chat/completions", "", headers, json.dumps(body).encode()))
    )
    steps: list[object] = []
    try:
        if wait_headers:
            await response.headers_sent()
        steps.append(await (response.read() if fast else _record_read(response)))
    except ConnectionResetError as exc:
        steps.append(("reset", str(exc)))
    if again:
        try:
            steps.append(await response.read())  # a second read
        except ConnectionResetError as exc:
            steps.append(("reset", str(exc)))
    await response.aclose()
    steps.append(repr(response))
    return steps, [dataclasses.astuple(r) for r in core.log.since(0)]


@settings(max_examples=60, deadline=None)
@given(stream=st.booleans(), max_tokens=st.integers(1, 6), fault=FAULTS, wait_headers=st.booleans())
def test_read_gives_what_the_iteration_of_record_gives(
    stream: bool, max_tokens: int, fault: dict[str, str], wait_headers: bool
) -> None:
    fast = vtime.run(_outcome(True, stream, max_tokens, fault, wait_headers))
    record = vtime.run(_outcome(False, stream, max_tokens, fault, wait_headers))
    assert fast == record


def test_read_of_a_plain_answer_takes_the_one_step_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison above compares two paths: a plain body whose headers are out never iterates."""

    async def no_iteration(self: MemoryResponse) -> bytes:
        raise AssertionError("iterated")

    monkeypatch.setattr(MemoryResponse, "__anext__", no_iteration)
    steps, records = vtime.run(_outcome(True, False, 3, {}, True, again=False))
    assert isinstance(steps[0], bytes)
    assert json.loads(steps[0])["usage"]["completion_tokens"] == 3
    assert len(records) == 1


NAMES = st.sampled_from(["x-request-id", "X-Request-Id", "content-type", "Content-Type", "retry-after", "İd", "ß", "ǅ"])


@settings(max_examples=500, deadline=None)
@given(
    batches=st.lists(
        st.lists(st.tuples(NAMES | st.text(max_size=4), st.text(max_size=3)), max_size=6).map(tuple), max_size=5
    )
)
def test_a_plans_headers_are_exposed_lower_cased_as_the_comprehension_of_record_does(
    batches: list[tuple[tuple[str, str], ...]],
) -> None:
    """Names seen before, names never seen, the same name in two cases, names whose lower case is longer: the
    mapping (its items, in order) is the comprehension's, whatever the names remembered so far."""
    for headers in batches:
        record = {name.lower(): value for name, value in headers}
        assert list(memory._lower_headers(headers).items()) == list(record.items())
        assert list(memory._lower_headers(headers).items()) == list(record.items())  # now from what it learned
