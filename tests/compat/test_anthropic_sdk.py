"""The official anthropic SDK (2.x, async) against the fake provider."""

from __future__ import annotations

import anthropic
import pytest

from fake_provider.testing import RunningServer
from harness.tokenizer import count_messages

from .conftest import HINT_S, assert_retries_waited, assert_usage_matches_log_and_ledger, track

pytestmark = pytest.mark.compat

MESSAGES = [{"role": "user", "content": "Hello, world!"}]
PROMPT = count_messages([("system", "Be brief."), ("user", "Hello, world!")])


def client(server: RunningServer, **options: object) -> anthropic.AsyncAnthropic:
    return track(anthropic.AsyncAnthropic(base_url=server.url, api_key="ak-test", **options))  # type: ignore[arg-type]


async def test_plain_message(server: RunningServer) -> None:
    message = await client(server).messages.create(
        model="claude-haiku-4-5",
        max_tokens=8,
        system="Be brief.",
        messages=MESSAGES,  # type: ignore[arg-type]
    )
    assert message.content[0].type == "text"
    assert message.content[0].text
    assert message.stop_reason == "max_tokens"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (PROMPT, 8)
    assert_usage_matches_log_and_ledger(server, PROMPT, 8)


async def test_streaming(server: RunningServer) -> None:
    plain = await client(server).messages.create(
        model="claude-sonnet-4-20250514",
        max_tokens=6,
        system="Be brief.",
        messages=MESSAGES,  # type: ignore[arg-type]
    )
    async with client(server).messages.stream(
        model="claude-sonnet-4-20250514",
        max_tokens=6,
        system="Be brief.",
        messages=MESSAGES,  # type: ignore[arg-type]
    ) as stream:
        text = "".join([t async for t in stream.text_stream])
        final = await stream.get_final_message()
    assert plain.content[0].type == "text"
    assert text == plain.content[0].text
    assert (final.usage.input_tokens, final.usage.output_tokens) == (PROMPT, 6)
    assert final.stop_reason == "max_tokens"
    assert assert_usage_matches_log_and_ledger(server, PROMPT, 6).stream


@pytest.mark.parametrize(
    ("status", "exception"),
    [
        (429, anthropic.RateLimitError),
        (529, anthropic.OverloadedError),
        (503, anthropic.ServiceUnavailableError),
        (500, anthropic.InternalServerError),
    ],
)
async def test_injected_statuses_raise_the_sdks_classes(
    server: RunningServer, status: int, exception: type[Exception]
) -> None:
    with pytest.raises(exception) as raised:
        await client(server, max_retries=0).messages.create(
            model="claude-haiku-4-5",
            max_tokens=5,
            messages=MESSAGES,  # type: ignore[arg-type]
            extra_headers={"x-fake-status": str(status)},
        )
    assert raised.value.status_code == status  # type: ignore[attr-defined]


async def test_unknown_model_context_and_prefill(server: RunningServer) -> None:
    with pytest.raises(anthropic.NotFoundError):
        await client(server).messages.create(model="claude-9", max_tokens=5, messages=MESSAGES)  # type: ignore[arg-type]
    with pytest.raises(anthropic.BadRequestError, match="prompt is too long"):
        await client(server).messages.create(
            model="claude-haiku-4-5", max_tokens=5, messages=[{"role": "user", "content": "word " * 210_000}]
        )


async def test_the_sdk_retry_waits_at_least_the_hint_on_529(server: RunningServer) -> None:
    with pytest.raises(anthropic.OverloadedError):
        await client(server, max_retries=2).messages.create(
            model="claude-haiku-4-5",
            max_tokens=5,
            messages=MESSAGES,  # type: ignore[arg-type]
            extra_headers={"x-fake-status": f"529; retry_after_ms={int(HINT_S * 1000)}"},
        )
    assert_retries_waited(server, attempts=3, hint_s=HINT_S)  # the SDK's idempotency key ties the attempts
