"""OpenAI's Responses API through the official openai SDK (and LangChain), checked against the SDK's own types.

Every body and every stream event the fake sends is validated in pydantic's strict mode against the
models the openai SDK parses them into (``Response``, the ``ResponseStreamEvent`` union): material we
did not write, so a field the SDK requires and we forgot, or a wrong type, fails here.
"""

from __future__ import annotations

import json
from typing import Any

import httpx2
import openai
import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from fake_provider.testing import RunningServer
from harness.tokenizer import count_messages

from .conftest import assert_usage_matches_log_and_ledger, track
from .strict_types import _extras

pytestmark = pytest.mark.compat

PROMPT = count_messages([("system", "Be brief."), ("user", "Hello, world!")])
EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
OPENING = ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"]
CLOSING = ["response.output_text.done", "response.content_part.done", "response.output_item.done"]


def client(server: RunningServer) -> openai.AsyncOpenAI:
    return track(openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="sk-test"))


async def raw_post(server: RunningServer, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    async with httpx2.AsyncClient() as http:
        return await http.post(
            f"{server.openai_base_url}/responses", json=body, headers={"authorization": "Bearer k", **(headers or {})}
        )


def sse_events(text: str) -> list[dict[str, Any]]:
    """Each event's data, checked: an ``event:`` line naming the data's type, strict SDK validation with no
    field the SDK's type lacks (but ``store``, echoed by the API and missing from this SDK version's
    Response), and sequence numbers 0, 1, 2 …"""
    events = []
    for block in text.split("\n\n"):
        if not block:
            continue
        event_line, data_line = block.split("\n")
        data = json.loads(data_line.removeprefix("data: "))
        assert event_line == f"event: {data['type']}"
        parsed = EVENTS.validate_json(json.dumps(data), strict=True)
        assert [p for p in _extras(parsed, "$") if not p.endswith(".store")] == [], data["type"]
        events.append(data)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    return events


@pytest.mark.parametrize(("max_output_tokens", "status"), [(16, "incomplete"), (None, "completed")])
async def test_plain_response_is_an_sdk_response_in_strict_mode(
    server: RunningServer, max_output_tokens: int | None, status: str
) -> None:
    result = await client(server).responses.with_raw_response.create(
        model="gpt-4o-mini",
        instructions="Be brief.",
        input=[{"role": "user", "content": "Hello, world!"}],
        max_output_tokens=max_output_tokens if max_output_tokens else openai.omit,
    )
    data = json.loads(result.http_response.content)
    Response.model_validate(data, strict=True)
    response = result.parse()
    assert response.status == status
    assert response.output_text
    assert response.usage is not None
    assert response.usage.input_tokens == PROMPT
    record = assert_usage_matches_log_and_ledger(server, PROMPT, response.usage.output_tokens)
    assert record.api == "openai.responses"
    assert record.max_tokens == max_output_tokens
    assert record.request_id == result.headers["x-request-id"]
    if max_output_tokens:
        assert response.usage.output_tokens == max_output_tokens
        assert response.incomplete_details is not None
        assert response.incomplete_details.reason == "max_output_tokens"
    assert data["instructions"] == "Be brief."
    assert data["store"] is True


async def test_streamed_response_has_the_typed_event_sequence_and_usage(server: RunningServer) -> None:
    plain = await client(server).responses.create(model="gpt-4o", input="Say something.", max_output_tokens=24)
    body = {"model": "gpt-4o", "input": "Say something.", "max_output_tokens": 24, "stream": True}
    answer = await raw_post(server, body)
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert "openai-processing-ms" in answer.headers
    events = sse_events(answer.text)
    types = [e["type"] for e in events]
    assert types == [*OPENING, *["response.output_text.delta"] * 24, *CLOSING, "response.incomplete"]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta") == plain.output_text
    final = events[-1]["response"]
    assert final["usage"]["output_tokens"] == 24
    assert final["output"][0]["content"][0]["text"] == plain.output_text
    record = assert_usage_matches_log_and_ledger(server, plain.usage.input_tokens if plain.usage else 0, 24)
    assert record.stream


async def test_sdk_stream_helpers_read_the_stream(server: RunningServer) -> None:
    sdk = client(server)
    stream = await sdk.responses.create(model="gpt-4o-mini", input="hi", stream=True)
    deltas = [e.delta async for e in stream if e.type == "response.output_text.delta"]
    async with sdk.responses.stream(model="gpt-4o-mini", input="hi") as managed:
        async for _ in managed:
            pass
        final = await managed.get_final_response()
    assert final.status == "completed"
    assert final.output_text == "".join(deltas)
    assert final.usage is not None
    assert final.usage.output_tokens == len(deltas)


async def test_a_mid_stream_failure_is_an_error_event_then_response_failed(server: RunningServer) -> None:
    body = {"model": "gpt-4o-mini", "input": "hi", "stream": True, "max_output_tokens": 30}
    answer = await raw_post(server, body, {"x-fake-fault": "stream_error_after=2; status=500"})
    events = sse_events(answer.text)
    assert [e["type"] for e in events][-4:] == ["response.output_text.delta"] * 2 + ["error", "response.failed"]
    assert events[-1]["response"]["status"] == "failed"
    assert events[-1]["response"]["usage"]["output_tokens"] == 2
    record = server.core.log.since(0)[-1]
    assert (record.finish, record.output_tokens) == ("error", 2)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "gpt-4o-mini"}, "input"),
        ({"model": "gpt-4o-mini", "input": "hi", "max_output_tokens": 5}, "max_output_tokens"),
        ({"model": "gpt-4o-mini", "input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
        ({"model": "gpt-4o-mini", "input": "hi", "temperature": "hot"}, "temperature"),
    ],
)
async def test_invalid_requests_get_openai_400s_naming_the_field(
    server: RunningServer, body: dict[str, Any], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client(server).responses.create(**body)
    assert caught.value.param == param


async def test_faults_and_unknown_models_answer_as_chat_completions_do(server: RunningServer) -> None:
    sdk = client(server).with_options(max_retries=0)
    with pytest.raises(openai.RateLimitError):
        await sdk.responses.create(
            model="gpt-4o-mini", input="hi", extra_headers={"x-fake-status": "429; retry_after_ms=300"}
        )
    with pytest.raises(openai.NotFoundError) as caught:
        await sdk.responses.create(model="gpt-9-turbo", input="hi")
    assert caught.value.code == "model_not_found"
    assert [r.status for r in server.core.log.since(0)] == [429, 404]
    assert server.core.ledger_dict()["total"]["requests"] == 0


async def test_langchain_chat_openai_with_the_responses_api(server: RunningServer) -> None:
    langchain_openai = pytest.importorskip("langchain_openai", reason="langchain-openai is in the dev extra")
    model = langchain_openai.ChatOpenAI(
        model="gpt-4o-mini", base_url=server.openai_base_url, api_key="sk-test", use_responses_api=True, max_tokens=20
    )
    reply = await model.ainvoke("Hello, world!")
    assert reply.text
    assert reply.usage_metadata is not None
    assert reply.usage_metadata["output_tokens"] == 20
    chunks = [chunk async for chunk in model.astream("Hello, world!")]
    assert "".join(c.text for c in chunks) == reply.text
    assert [r.api for r in server.core.log.since(0)] == ["openai.responses"] * 2
