"""The official openai SDK (3.x, async) against the fake provider."""

from __future__ import annotations

import openai
import pytest

from fake_provider.testing import RunningServer
from harness.tokenizer import count_messages

from .conftest import HINT_S, assert_retries_waited, assert_usage_matches_log_and_ledger, track

pytestmark = pytest.mark.compat

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello, world!"}]
PROMPT = count_messages([("system", "Be brief."), ("user", "Hello, world!")])


def client(server: RunningServer, **options: object) -> openai.AsyncOpenAI:
    return track(openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="sk-test", **options))  # type: ignore[arg-type]


async def test_plain_completion(server: RunningServer) -> None:
    result = await client(server).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=9)  # type: ignore[arg-type]
    assert result.choices[0].message.content
    assert result.choices[0].finish_reason == "length"
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (PROMPT, 9)
    assert result.model == "gpt-4o-mini"
    assert_usage_matches_log_and_ledger(server, PROMPT, 9)


@pytest.mark.parametrize("include_usage", [True, False])
async def test_streaming(server: RunningServer, include_usage: bool) -> None:
    plain = await client(server).chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=7)  # type: ignore[arg-type]
    stream = await client(server).chat.completions.create(
        model="gpt-4o",
        messages=MESSAGES,  # type: ignore[arg-type]
        max_tokens=7,
        stream=True,
        stream_options={"include_usage": True} if include_usage else openai.NOT_GIVEN,
    )
    text, usage = "", None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage is not None:
            usage = chunk.usage
    assert text == plain.choices[0].message.content
    if include_usage:
        assert usage is not None
        assert (usage.prompt_tokens, usage.completion_tokens) == (PROMPT, 7)
    else:
        assert usage is None
    record = assert_usage_matches_log_and_ledger(server, PROMPT, 7)
    assert record.stream


@pytest.mark.parametrize("encoding", ["float", "base64"])
async def test_embeddings(server: RunningServer, encoding: str) -> None:
    kwargs = {"encoding_format": "float"} if encoding == "float" else {}  # the SDK asks for base64 by default
    result = await client(server).embeddings.create(model="text-embedding-3-small", input=["a b", "c d e"], **kwargs)  # type: ignore[arg-type]
    assert [len(d.embedding) for d in result.data] == [1536, 1536]
    assert result.usage.prompt_tokens == 5
    assert sum(x * x for x in result.data[0].embedding) == pytest.approx(1.0, abs=1e-4)
    record = assert_usage_matches_log_and_ledger(server, 5, 0)
    assert record.api == "openai.embeddings"


async def test_models_list(server: RunningServer) -> None:
    ids = [m.id async for m in client(server).models.list()]
    assert ids == [name for m in server.core.config.models if m.api == "openai" for name in m.names]
    assert {"gpt-4o-2024-08-06", "gpt-4.1-mini", "gpt-5-mini", "o3-mini"} <= set(ids)


@pytest.mark.parametrize(
    ("status", "exception"),
    [
        (429, openai.RateLimitError),
        (503, openai.InternalServerError),
        (529, openai.InternalServerError),
        (400, openai.BadRequestError),
    ],
)
async def test_injected_statuses_raise_the_sdks_classes(
    server: RunningServer, status: int, exception: type[Exception]
) -> None:
    with pytest.raises(exception) as raised:
        await client(server, max_retries=0).chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,
            extra_headers={"x-fake-status": str(status)},  # type: ignore[arg-type]
        )
    assert raised.value.status_code == status  # type: ignore[attr-defined]


async def test_unknown_model_and_missing_key(server: RunningServer) -> None:
    with pytest.raises(openai.NotFoundError):
        await client(server).chat.completions.create(model="gpt-9", messages=MESSAGES)  # type: ignore[arg-type]
    with pytest.raises(openai.AuthenticationError):  # an empty Authorization header: no key at all
        await client(server).chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,  # type: ignore[arg-type]
            extra_headers={"Authorization": ""},
        )


async def test_context_length_is_a_bad_request_with_the_code(server: RunningServer) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        await client(server).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "word " * 130_000}]
        )
    assert raised.value.code == "context_length_exceeded"


async def test_the_sdk_retry_waits_at_least_the_hint(server: RunningServer) -> None:
    with pytest.raises(openai.RateLimitError):
        await client(server, max_retries=2).chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,  # type: ignore[arg-type]
            extra_headers={
                "x-fake-status": f"429; retry_after_ms={int(HINT_S * 1000)}",
                "x-harness-request-id": "lr-1",
            },
        )
    assert_retries_waited(server, attempts=3, hint_s=HINT_S)
