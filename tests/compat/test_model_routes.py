"""The model routes current SDKs call: Anthropic's models and count_tokens, Gemini's models, countTokens and
embeddings, each through its official SDK, unchanged."""

from __future__ import annotations

import anthropic
import httpx2
import openai
import pytest
from google import genai
from google.genai import errors, types

from fake_provider.testing import RunningServer
from harness.tokenizer import count_tokens

from .conftest import track

pytestmark = [
    pytest.mark.compat,
    pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning"),
]


def claude(server: RunningServer) -> anthropic.AsyncAnthropic:
    return track(anthropic.AsyncAnthropic(base_url=server.url, api_key="ak-test", max_retries=0))


def gemini(server: RunningServer, version: str | None = None) -> genai.Client:
    return track(
        genai.Client(api_key="g-test", http_options=types.HttpOptions(base_url=server.url, api_version=version))
    )


async def test_anthropic_models_list_pages_and_resolves_aliases(server: RunningServer) -> None:
    sdk = claude(server)
    ids = [m.id async for m in sdk.models.list(limit=3)]  # the SDK follows after_id page by page
    expected = [m.name for m in server.core.config.models if m.api == "anthropic"]
    assert sorted(ids) == sorted(expected)
    assert len(ids) == len(set(ids))
    model = await sdk.models.retrieve("claude-sonnet-4-0")
    assert (model.id, model.display_name, model.type) == ("claude-sonnet-4-20250514", "Claude Sonnet 4", "model")
    with pytest.raises(anthropic.NotFoundError):
        await sdk.models.retrieve("claude-sonnet-4")
    records = server.core.log.since(0)
    assert {r.api for r in records} == {"anthropic.models", "anthropic.model"}


async def test_openai_models_list_is_still_openais_on_the_shared_path(server: RunningServer) -> None:
    sdk = track(openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="sk-test"))
    ids = [m.id async for m in sdk.models.list()]
    assert "gpt-4o" in ids
    assert not any(i.startswith("claude") for i in ids)


async def test_anthropic_count_tokens_equals_the_usage_a_message_reports(server: RunningServer) -> None:
    sdk = claude(server)
    messages = [{"role": "user", "content": "How many tokens is this, exactly?"}]
    counted = await sdk.messages.count_tokens(model="claude-haiku-4-5", system="Be brief.", messages=messages)  # type: ignore[arg-type]
    message = await sdk.messages.create(model="claude-haiku-4-5", system="Be brief.", max_tokens=5, messages=messages)  # type: ignore[arg-type]
    assert counted.input_tokens == message.usage.input_tokens
    counted_record, _ = server.core.log.since(0)
    assert (counted_record.api, counted_record.cost_usd) == ("anthropic.count_tokens", "0")
    assert server.core.ledger_dict()["total"]["requests"] == 1  # counting is not billed
    with pytest.raises(anthropic.NotFoundError):
        await sdk.messages.count_tokens(model="claude-nope", messages=messages)  # type: ignore[arg-type]


@pytest.mark.parametrize("version", [None, "v1beta"])
async def test_gemini_models_list_and_get(server: RunningServer, version: str | None) -> None:
    sdk = gemini(server, version).aio.models
    names = [m.name async for m in await sdk.list(config={"page_size": 5})]
    expected = [f"models/{n}" for m in server.core.config.models if m.api == "gemini" for n in m.names]
    assert names == expected
    model = await sdk.get(model="gemini-2.5-flash")
    assert (model.name, model.input_token_limit, model.output_token_limit) == (
        "models/gemini-2.5-flash",
        1_048_576,
        65_536,
    )
    assert model.supported_actions is not None
    assert "generateContent" in model.supported_actions
    with pytest.raises(errors.ClientError) as caught:
        await sdk.get(model="gemini-0-nope")
    assert caught.value.code == 404


async def test_gemini_count_tokens_equals_the_usage_a_call_reports(server: RunningServer) -> None:
    sdk = gemini(server).aio.models
    counted = await sdk.count_tokens(model="gemini-2.5-flash", contents="How many tokens is this, exactly?")
    result = await sdk.generate_content(
        model="gemini-2.5-flash",
        contents="How many tokens is this, exactly?",
        config=types.GenerateContentConfig(max_output_tokens=5),
    )
    assert result.usage_metadata is not None
    assert counted.total_tokens == result.usage_metadata.prompt_token_count


async def test_gemini_embeddings_through_the_sdk_and_the_rest_route(server: RunningServer) -> None:
    result = await gemini(server).aio.models.embed_content(
        model="gemini-embedding-001",
        contents=["first text", "a second text"],
        config=types.EmbedContentConfig(output_dimensionality=8),
    )
    assert result.embeddings is not None
    assert [len(e.values or []) for e in result.embeddings] == [8, 8]
    async with httpx2.AsyncClient() as http:
        single = await http.post(
            f"{server.url}/v1beta/models/gemini-embedding-001:embedContent",
            headers={"x-goog-api-key": "g-test"},
            json={"content": {"parts": [{"text": "first text"}]}},
        )
    assert single.status_code == 200
    assert len(single.json()["embedding"]["values"]) == 3072
    batch, one = server.core.log.since(0)
    both, first = count_tokens("first text") + count_tokens("a second text"), count_tokens("first text")
    assert (batch.api, batch.prompt_tokens, one.api, one.prompt_tokens) == (
        "gemini.batch_embed",
        both,
        "gemini.embed",
        first,
    )
    assert server.core.ledger_dict()["by_model"]["gemini-embedding-001"]["input_tokens"] == both + first


async def test_gemini_without_a_key_is_403_permission_denied(server: RunningServer) -> None:
    async with httpx2.AsyncClient() as http:
        answer = await http.post(
            f"{server.url}/v1beta/models/gemini-2.5-flash:generateContent",
            json={"contents": [{"parts": [{"text": "hi"}]}]},
        )
    assert answer.status_code == 403
    assert answer.json()["error"]["status"] == "PERMISSION_DENIED"
