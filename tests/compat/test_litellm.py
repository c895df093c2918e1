"""LiteLLM against the fake provider: one OpenAI and one Anthropic call, plain and streamed."""

from __future__ import annotations

import pytest

from fake_provider.testing import RunningServer
from harness.tokenizer import count_messages

from .conftest import assert_usage_matches_log_and_ledger

litellm = pytest.importorskip("litellm")
pytestmark = [
    pytest.mark.compat,
    # LiteLLM's own TypedDicts make pydantic warn when it builds their schemas lazily; not our code
    pytest.mark.filterwarnings("ignore::UserWarning:pydantic.*"),
]

MESSAGES = [{"role": "user", "content": "Hello, world!"}]
PROMPT = count_messages([("user", "Hello, world!")])


async def test_openai_through_litellm(server: RunningServer) -> None:
    response = await litellm.acompletion(
        model="openai/gpt-4o-mini", api_base=server.openai_base_url, api_key="sk-test", messages=MESSAGES, max_tokens=6
    )
    assert response.choices[0].message.content
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (PROMPT, 6)
    assert_usage_matches_log_and_ledger(server, PROMPT, 6)
    stream = await litellm.acompletion(
        model="openai/gpt-4o-mini",
        api_base=server.openai_base_url,
        api_key="sk-test",
        messages=MESSAGES,
        max_tokens=6,
        stream=True,
        stream_options={"include_usage": True},
    )
    text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
    assert text == response.choices[0].message.content
    assert_usage_matches_log_and_ledger(server, PROMPT, 6)


async def test_anthropic_through_litellm(server: RunningServer) -> None:
    response = await litellm.acompletion(
        model="anthropic/claude-haiku-4-5", api_base=server.url, api_key="ak-test", messages=MESSAGES, max_tokens=7
    )
    assert response.choices[0].message.content
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (PROMPT, 7)
    assert_usage_matches_log_and_ledger(server, PROMPT, 7)
