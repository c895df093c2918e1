"""Dated ids, aliases and current models through the three official SDKs, unchanged."""

from __future__ import annotations

import anthropic
import openai
import pytest
from google import genai
from google.genai import types

from fake_provider.testing import RunningServer

from .conftest import track

pytestmark = [
    pytest.mark.compat,
    pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning"),
]

OPENAI_IDS = ["gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18", "gpt-4.1-mini", "gpt-5-mini", "o3-mini"]
ANTHROPIC_IDS = [
    "claude-sonnet-4-20250514",
    "claude-sonnet-4-0",
    "claude-3-5-haiku-latest",
    "claude-opus-4-1",
    "claude-sonnet-4-5",
]
GEMINI_IDS = ["gemini-2.5-flash-001", "gemini-flash-latest", "gemini-2.0-flash", "gemini-2.5-pro"]


def billed_model(server: RunningServer) -> str:
    return server.core.ledger.entries[-1].model


async def test_openai_ids(server: RunningServer) -> None:
    sdk = track(openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="sk-test"))
    for model in OPENAI_IDS:
        result = await sdk.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "hi"}], max_completion_tokens=5
        )
        assert result.model == model
        assert result.usage is not None
        assert result.usage.completion_tokens == 5
        assert billed_model(server) == server.core.models[model].name
    assert billed_model(server) == "o3-mini"


async def test_anthropic_ids(server: RunningServer) -> None:
    sdk = track(anthropic.AsyncAnthropic(base_url=server.url, api_key="ak-test"))
    for model in ANTHROPIC_IDS:
        message = await sdk.messages.create(model=model, max_tokens=5, messages=[{"role": "user", "content": "hi"}])
        assert message.model == model
        assert message.usage.output_tokens == 5
    assert [e.model for e in server.core.ledger.entries] == [
        "claude-sonnet-4-20250514",
        "claude-sonnet-4-20250514",
        "claude-3-5-haiku-20241022",
        "claude-opus-4-1-20250805",
        "claude-sonnet-4-5-20250929",
    ]


async def test_gemini_ids(server: RunningServer) -> None:
    sdk = track(genai.Client(api_key="g-test", http_options=types.HttpOptions(base_url=server.url)))
    for model in GEMINI_IDS:
        result = await sdk.aio.models.generate_content(
            model=model, contents="hi", config=types.GenerateContentConfig(max_output_tokens=5)
        )
        assert result.usage_metadata is not None
        assert result.usage_metadata.candidates_token_count == 5
    assert [e.model for e in server.core.ledger.entries] == [
        "gemini-2.5-flash",
        "gemini-3.8-flash",
        "gemini-2.0-flash",
        "gemini-2.5-pro",
    ]


async def test_an_unknown_model_keeps_each_providers_404(server: RunningServer) -> None:
    with pytest.raises(openai.NotFoundError):
        await track(
            openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="k", max_retries=0)
        ).chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(anthropic.NotFoundError):
        await track(anthropic.AsyncAnthropic(base_url=server.url, api_key="k", max_retries=0)).messages.create(
            model="claude-sonnet-4", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        )
