"""Property: for any prompt, max_tokens, API and mode, the usage the API reports equals the ledger
entry and the request-log record — also for a stream the client abandons midway."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from fake_provider.config import ProviderConfig
from fake_provider.core import ProviderCore, ProviderRequest
from fake_provider.memory import perform
from harness import vtime
from harness.clock import loop_clock
from harness.pricing import Usage
from harness.tokenizer import count_messages, count_tokens
from harness.wire import anthropic, gemini, openai, openai_client
from harness.wire.neutral import ChatResult, StreamEvent

KEYS = {"authorization": "Bearer sk-p", "x-api-key": "ak-p", "x-goog-api-key": "g-p"}
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5", "gemini": "gemini-2.5-flash"}

texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=200)
messages = st.lists(st.tuples(st.sampled_from(["user", "assistant"]), texts), min_size=1, max_size=4).map(
    lambda ms: [("system", "Be brief."), *ms[:-1], ("user", ms[-1][1])]
)


def request(api: str, msgs: list[tuple[str, str]], max_tokens: int | None, stream: bool) -> ProviderRequest:
    model = MODELS[api]
    if api == "openai":
        body = openai_client.build_chat_body(model, msgs, max_tokens=max_tokens, stream=stream, include_usage=True)
        return ProviderRequest("POST", openai.CHAT_PATH, "", KEYS, body)
    if api == "anthropic":
        body = anthropic.build_messages_body(model, msgs, max_tokens=max_tokens or 50, stream=stream)
        return ProviderRequest("POST", anthropic.MESSAGES_PATH, "", KEYS, body)
    path, _, query = gemini.generate_path(model, stream).partition("?")
    return ProviderRequest("POST", path, query, KEYS, gemini.build_generate_body(msgs, max_tokens=max_tokens))


def reader(api: str) -> openai_client.ChatStreamReader | anthropic.MessageStreamReader | gemini.GenerateStreamReader:
    return {
        "openai": openai_client.ChatStreamReader,
        "anthropic": anthropic.MessageStreamReader,
        "gemini": gemini.GenerateStreamReader,
    }[api]()


def parse(api: str, body: bytes) -> ChatResult:
    return {
        "openai": openai_client.parse_chat_body,
        "anthropic": anthropic.parse_message_body,
        "gemini": gemini.parse_response_body,
    }[api](body)


CORE = ProviderCore(ProviderConfig(seed=3))


async def exchange(
    core: ProviderCore, api: str, req: ProviderRequest, stream: bool, stop_after: int | None
) -> tuple[str, Usage | None, int]:
    """(text seen, usage reported, chunks read) for one request performed in memory."""
    response = perform(core.handle(req))
    await response.headers_sent()
    assert response.status == 200
    if not stream:
        result = parse(api, await response.read())
        await response.aclose()
        return result.text, result.usage, 1
    events: list[StreamEvent] = []
    stream_reader = reader(api)
    chunks = 0
    async for data in response:
        chunks += 1
        events += stream_reader.feed(data)
        if stop_after is not None and chunks >= stop_after:
            break
    await response.aclose()
    events += stream_reader.finish()
    usage = [e.usage for e in events if e.usage is not None]
    return "".join(e.text for e in events), (usage[-1] if usage else None), chunks


@settings(max_examples=150)
@given(
    api=st.sampled_from(["openai", "anthropic", "gemini"]),
    msgs=messages,
    max_tokens=st.one_of(st.none(), st.integers(min_value=1, max_value=80)),
    stream=st.booleans(),
    stop_after=st.one_of(st.none(), st.integers(min_value=1, max_value=6)),
)
def test_reported_usage_equals_ledger_and_log(
    api: str, msgs: list[tuple[str, str]], max_tokens: int | None, stream: bool, stop_after: int | None
) -> None:
    async def main() -> None:
        core = CORE
        core.reset()
        core.clock = loop_clock()
        req = request(api, msgs, max_tokens, stream)
        text, usage, _ = await exchange(core, api, req, stream, stop_after if stream else None)
        (record,) = core.log.since(0)
        prompt = count_messages(msgs)
        assert record.prompt_tokens == prompt
        assert record.output_tokens == count_tokens(text)  # every token sent was seen, no more
        if record.finish != "client_gone":
            assert usage is not None
            assert (usage.input_tokens, usage.output_tokens) == (record.prompt_tokens, record.output_tokens)
        if max_tokens is not None:
            assert record.output_tokens <= max_tokens
        (entry,) = core.ledger.entries
        assert (entry.usage.input_tokens, entry.usage.output_tokens) == (prompt, record.output_tokens)
        assert entry.seq == record.seq
        assert f"{entry.cost_usd:f}" == record.cost_usd
        assert entry.cost_usd == core.models[MODELS[api]].price.cost(Usage(prompt, record.output_tokens))

    vtime.run(main())


def test_a_stream_and_a_plain_answer_to_the_same_request_agree() -> None:
    async def main() -> None:
        core = ProviderCore(ProviderConfig(seed=5), clock=loop_clock())
        msgs = [("user", "Tell me a story.")]
        for api in MODELS:
            plain = await exchange(core, api, request(api, msgs, 30, False), False, None)
            streamed = await exchange(core, api, request(api, msgs, 30, True), True, None)
            assert plain[:2] == streamed[:2]

    asyncio.run(main())
