"""The official google-genai SDK (3.x, async) against the fake provider, under /v1 and /v1beta."""

from __future__ import annotations

import pytest
from google import genai
from google.genai import errors, types

from fake_provider.testing import RunningServer
from harness.tokenizer import count_messages

from .conftest import assert_usage_matches_log_and_ledger, track

pytestmark = [
    pytest.mark.compat,
    # google-genai's aio path subclasses aiohttp.ClientSession, which aiohttp deprecates; not our code
    pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning"),
]

PROMPT = count_messages([("system", "Be brief."), ("user", "Hello, world!")])


def client(server: RunningServer, version: str | None = None, headers: dict[str, str] | None = None) -> genai.Client:
    options = types.HttpOptions(base_url=server.url, api_version=version, headers=headers)
    return track(genai.Client(api_key="g-test", http_options=options))


def config(max_tokens: int) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(system_instruction="Be brief.", max_output_tokens=max_tokens)


@pytest.mark.parametrize("version", [None, "v1beta"])
async def test_plain_generate(server: RunningServer, version: str | None) -> None:
    result = await client(server, version).aio.models.generate_content(
        model="gemini-2.5-flash", contents="Hello, world!", config=config(6)
    )
    assert result.text
    assert result.candidates is not None
    assert result.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert result.usage_metadata is not None
    assert (result.usage_metadata.prompt_token_count, result.usage_metadata.candidates_token_count) == (PROMPT, 6)
    record = assert_usage_matches_log_and_ledger(server, PROMPT, 6)
    assert record.request_id == result.response_id


@pytest.mark.parametrize("version", [None, "v1beta"])
async def test_streaming(server: RunningServer, version: str | None) -> None:
    gemini = client(server, version).aio.models
    plain = await gemini.generate_content(model="gemini-1.5-flash", contents="Hello, world!", config=config(5))
    text, last = "", None
    async for chunk in await gemini.generate_content_stream(
        model="gemini-1.5-flash", contents="Hello, world!", config=config(5)
    ):
        text += chunk.text or ""
        last = chunk
    assert text == plain.text
    assert last is not None
    assert last.usage_metadata is not None
    assert last.usage_metadata.candidates_token_count == 5
    assert assert_usage_matches_log_and_ledger(server, PROMPT, 5).stream


@pytest.mark.parametrize(
    ("header", "exception", "status"),
    [
        ("429; retry_after=2", errors.ClientError, "RESOURCE_EXHAUSTED"),
        ("503", errors.ServerError, "UNAVAILABLE"),
        ("500", errors.ServerError, "INTERNAL"),
    ],
)
async def test_injected_statuses_raise_the_sdks_classes(
    server: RunningServer, header: str, exception: type[errors.APIError], status: str
) -> None:
    gemini = client(server, headers={"x-fake-status": header}).aio.models
    with pytest.raises(exception) as raised:
        await gemini.generate_content(model="gemini-2.5-flash", contents="x")
    assert raised.value.status == status
    assert raised.value.code == int(header[:3])
    if raised.value.code == 429:
        details = raised.value.details["error"]["details"]
        assert details[-1] == {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2s"}


async def test_unknown_model_and_bad_request(server: RunningServer) -> None:
    with pytest.raises(errors.ClientError) as raised:
        await client(server).aio.models.generate_content(model="gemini-9", contents="x")
    assert (raised.value.code, raised.value.status) == (404, "NOT_FOUND")
    with pytest.raises(errors.ClientError) as raised:
        await client(server).aio.models.generate_content(
            model="gemini-2.5-flash", contents="x", config=types.GenerateContentConfig(temperature=5)
        )
    assert (raised.value.code, raised.value.status) == (400, "INVALID_ARGUMENT")
    assert "generationConfig.temperature" in (raised.value.message or "")
