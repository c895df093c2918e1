"""The ``fake_provider`` fixtures, used directly (this session loads the plugin through its entry point)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import openai
import pytest

from harness.errors import ConfigError
from harness.testing import FakeProvider

MESSAGES = [{"role": "user", "content": "Say something short."}]
STORM = [{"kind": "http", "status": 429, "retry_after_s": 0.2, "always": True}]


@pytest.fixture
def sync_client(fake_provider: FakeProvider) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=fake_provider.openai_base_url, api_key=fake_provider.api_key) as client:
        yield client


def test_a_sync_client_meets_an_injected_429_then_recovers(
    fake_provider: FakeProvider, sync_client: openai.OpenAI
) -> None:
    fake_provider.set_faults(STORM)
    with pytest.raises(openai.RateLimitError):
        sync_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=5)  # type: ignore[arg-type]
    log = fake_provider.requests()
    assert [(r.attempt, r.status, r.retry_after_s) for r in log] == [(0, 429, 0.2), (1, 429, 0.2), (2, 429, 0.2)]
    assert {r.fault for r in log} == {"http#0"}
    assert all(later.t - earlier.t >= 0.2 for earlier, later in itertools.pairwise(log))  # hint honoured

    fake_provider.clear_faults()
    answer = sync_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=5)  # type: ignore[arg-type]
    assert answer.usage is not None
    assert answer.usage.completion_tokens == 5
    (last,) = fake_provider.requests(since=len(log))
    assert (last.status, last.attempt, last.output_tokens) == (200, 0, 5)
    ledger = fake_provider.ledger()
    assert ledger["total"]["requests"] == 1  # the 429s billed nothing
    assert ledger["total"]["output_tokens"] == 5


async def test_an_async_client_works_from_the_tests_own_loop(fake_provider: FakeProvider) -> None:
    async with openai.AsyncOpenAI(base_url=fake_provider.openai_base_url, api_key=fake_provider.api_key) as client:
        answer = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=3)  # type: ignore[arg-type]
    assert answer.choices[0].finish_reason == "length"
    assert [r.model for r in fake_provider.requests()] == ["gpt-4o"]


def test_fault_headers_are_allowed(fake_provider: FakeProvider, sync_client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError):
        sync_client.with_options(max_retries=0).chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,  # type: ignore[arg-type]
            extra_headers={"x-fake-status": "503"},
        )
    (record,) = fake_provider.requests()
    assert (record.status, record.fault) == (503, "header:503")


def test_reset_forgets_the_log_and_the_ledger(fake_provider: FakeProvider, sync_client: openai.OpenAI) -> None:
    sync_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=2)  # type: ignore[arg-type]
    assert len(fake_provider.requests()) == 1
    fake_provider.reset()
    assert fake_provider.requests() == []
    assert fake_provider.ledger()["total"]["requests"] == 0
    assert fake_provider.health()["status"] == "ok"


def test_a_bad_fault_table_names_the_field_and_changes_nothing(fake_provider: FakeProvider) -> None:
    fake_provider.set_faults(STORM)
    with pytest.raises(ConfigError, match=r"faults\[0\]\.duration_s"):
        fake_provider.set_faults([{"kind": "outage", "start_s": 0, "duration_s": -5}])
    with pytest.raises(ConfigError, match="wrap it in"):
        fake_provider.set_faults(STORM[0])  # type: ignore[arg-type]
    assert [f["kind"] for f in fake_provider.faults()] == ["http"]


def test_the_server_stops_with_its_block() -> None:
    with FakeProvider.start() as server:
        port = server.port
        assert server.running
        assert repr(server) == f"<FakeProvider url='http://127.0.0.1:{port}'>"
    assert not server.running
    assert repr(server) == "<FakeProvider stopped>"
    with pytest.raises(RuntimeError, match="not running"):
        server.requests()
    server.close()  # closing twice is harmless


async def test_it_starts_and_stops_from_inside_a_running_loop() -> None:
    with FakeProvider.start() as server:
        assert server.health()["allow_fault_headers"] is True
    assert not server.running


def test_session_and_function_servers_are_distinct(
    fake_provider_session: FakeProvider, fake_provider: FakeProvider
) -> None:
    assert fake_provider_session.url != fake_provider.url
    fake_provider_session.reset()
    assert fake_provider_session.requests() == []


def test_the_session_server_allows_fault_headers(fake_provider_session: FakeProvider) -> None:
    assert fake_provider_session.running
    assert fake_provider_session.config.allow_fault_headers
