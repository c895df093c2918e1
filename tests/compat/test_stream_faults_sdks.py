"""Every stream fault, seen through the official SDKs over a loopback socket.

A cut stream raises or ends without a finish reason; a stall shows as a gap between chunk arrivals;
a malformed chunk raises; a stream without its terminator still finishes; each provider's mid-stream
error event raises that SDK's error class. The faults are asked for with the ``x-fake-fault`` header.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from fake_provider.testing import RunningServer

from .conftest import track

pytestmark = [
    pytest.mark.compat,
    pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning"),
]

TOKENS = 8
STALL_S = 0.4


@dataclass
class Streamed:
    """What the caller of an SDK saw: text pieces with their arrival times, the finish, the error."""

    pieces: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    finish: str | None = None
    error: BaseException | None = None

    @property
    def largest_gap(self) -> float:
        return max((b - a for a, b in zip(self.times, self.times[1:], strict=False)), default=0.0)


async def via_openai(server: RunningServer, fault: str) -> Streamed:
    client = track(openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0))
    seen = Streamed()
    try:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "Tell me something."}],
            max_tokens=TOKENS,
            stream=True,
            extra_headers={"x-fake-fault": fault},
        )
        async for chunk in stream:
            if chunk.choices:
                choice = chunk.choices[0]
                if choice.delta.content:
                    seen.pieces.append(choice.delta.content)
                    seen.times.append(time.monotonic())
                seen.finish = choice.finish_reason or seen.finish
    except Exception as exc:
        seen.error = exc
    return seen


async def via_anthropic(server: RunningServer, fault: str) -> Streamed:
    client = track(anthropic.AsyncAnthropic(base_url=server.url, api_key="ak-test", max_retries=0))
    seen = Streamed()
    try:
        stream = await client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=TOKENS,
            messages=[{"role": "user", "content": "Tell me something."}],
            stream=True,
            extra_headers={"x-fake-fault": fault},
        )
        async for event in stream:
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                seen.pieces.append(event.delta.text)
                seen.times.append(time.monotonic())
            elif event.type == "message_delta":
                seen.finish = event.delta.stop_reason
    except Exception as exc:
        seen.error = exc
    return seen


async def via_gemini(server: RunningServer, fault: str) -> Streamed:
    options = types.HttpOptions(base_url=server.url, headers={"x-fake-fault": fault})
    client = track(genai.Client(api_key="g-test", http_options=options))
    seen = Streamed()
    try:
        stream = await client.aio.models.generate_content_stream(
            model="gemini-2.5-flash",
            contents="Tell me something.",
            config=types.GenerateContentConfig(max_output_tokens=TOKENS),
        )
        async for chunk in stream:
            if chunk.text:
                seen.pieces.append(chunk.text)
                seen.times.append(time.monotonic())
            if chunk.candidates and chunk.candidates[0].finish_reason:
                seen.finish = str(chunk.candidates[0].finish_reason)
    except Exception as exc:
        seen.error = exc
    return seen


SDKS: dict[str, Callable[[RunningServer, str], Awaitable[Streamed]]] = {
    "openai": via_openai,
    "anthropic": via_anthropic,
    "gemini": via_gemini,
}


@pytest.mark.parametrize("sdk", SDKS)
async def test_a_clean_stream_for_reference(server: RunningServer, sdk: str) -> None:
    seen = await SDKS[sdk](server, "ttft_s=0")
    assert seen.error is None
    assert len(seen.pieces) == TOKENS
    assert seen.finish is not None


@pytest.mark.parametrize("sdk", SDKS)
async def test_a_cut_stream_raises_or_ends_without_a_finish_reason(server: RunningServer, sdk: str) -> None:
    seen = await SDKS[sdk](server, "stream_cut_after=3")
    assert seen.error is not None or seen.finish is None
    assert len(seen.pieces) == 3
    record = server.core.log.since(0)[-1]
    assert (record.finish, record.output_tokens, record.fault) == ("cut", 3, "header:stream_cut_after=3")


@pytest.mark.parametrize("sdk", SDKS)
async def test_a_stall_is_a_gap_between_chunks(server: RunningServer, sdk: str) -> None:
    seen = await SDKS[sdk](server, f"stall_after=3; stall_s={STALL_S}")
    assert seen.error is None
    assert len(seen.pieces) == TOKENS
    assert seen.finish is not None
    gap_at = max(range(1, len(seen.times)), key=lambda i: seen.times[i] - seen.times[i - 1])
    assert gap_at == 3  # between the 3rd and the 4th piece
    assert seen.largest_gap >= STALL_S - 0.02


@pytest.mark.parametrize("sdk", SDKS)
async def test_a_stall_that_closes_raises_or_ends_without_a_finish_reason(server: RunningServer, sdk: str) -> None:
    seen = await SDKS[sdk](server, f"stall_after=2; stall_s={STALL_S}; then=close")
    assert seen.error is not None or seen.finish is None
    assert len(seen.pieces) == 2
    assert server.core.log.since(0)[-1].finish == "stalled"


@pytest.mark.parametrize("sdk", SDKS)
async def test_a_malformed_chunk_raises(server: RunningServer, sdk: str) -> None:
    seen = await SDKS[sdk](server, "malformed_at=3")
    assert seen.error is not None
    assert len(seen.pieces) == 2


@pytest.mark.parametrize("sdk", SDKS)
async def test_a_stream_without_its_terminator_still_finishes(server: RunningServer, sdk: str) -> None:
    seen = await SDKS[sdk](server, "no_done")
    assert seen.error is None
    assert len(seen.pieces) == TOKENS
    assert seen.finish is not None


@pytest.mark.parametrize(
    ("sdk", "fault", "error"),
    [
        ("openai", "stream_error_after=2", openai.APIError),
        ("anthropic", "stream_error_after=2", anthropic.APIStatusError),
        ("gemini", "stream_error_after=2", genai_errors.ServerError),
        ("gemini", "stream_error_after=2; status=429", genai_errors.ClientError),
    ],
)
async def test_a_mid_stream_error_raises_the_sdks_error(
    server: RunningServer, sdk: str, fault: str, error: type[BaseException]
) -> None:
    seen = await SDKS[sdk](server, fault)
    assert isinstance(seen.error, error), repr(seen.error)
    assert len(seen.pieces) == 2
    if sdk == "anthropic":
        assert isinstance(seen.error, anthropic.APIStatusError)
        assert "overloaded_error" in str(seen.error)
    assert server.core.log.since(0)[-1].finish == "error"
