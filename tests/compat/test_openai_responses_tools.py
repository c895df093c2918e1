"""Function calls and structured output on OpenAI's Responses API, through the openai SDK and LangChain.

Every body and stream event is validated in pydantic's strict mode against the SDK's own types, with
no field the type does not know (:func:`tests.compat.strict_types.assert_strict`).
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import openai
import pytest
from openai.types.responses import Response
from pydantic import BaseModel

from fake_provider.testing import RunningServer

from .conftest import assert_usage_matches_log_and_ledger, track
from .strict_types import assert_strict
from .test_openai_responses import raw_post, sse_events
from .test_tools_openai import WEATHER

pytestmark = pytest.mark.compat

TIME = {"type": "object", "properties": {"zone": {"type": "string", "pattern": "^[A-Z][a-z]+/[A-Z][a-z]+$"}},
        "required": ["zone"]}  # fmt: skip
TOOLS: list[dict[str, Any]] = [
    {"type": "function", "name": "get_weather", "description": "Forecast", "parameters": WEATHER, "strict": True},
    {"type": "function", "name": "get_time", "parameters": TIME, "strict": False},
]
SCHEMAS = {"get_weather": WEATHER, "get_time": TIME}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]
CALL_EVENTS = ["response.output_item.added", "response.function_call_arguments.delta",
               "response.function_call_arguments.done", "response.output_item.done"]  # fmt: skip


def client(server: RunningServer) -> openai.AsyncOpenAI:
    return track(openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0))


def assert_strict_response(data: dict[str, Any]) -> None:
    # ``store`` is echoed by the API but missing from this SDK version's Response type
    assert_strict(Response, data, allow=(".store",))


def _collapse(types: list[str]) -> list[str]:
    """Event types with runs of the same delta event collapsed to one."""
    out: list[str] = []
    for t in types:
        if not (out and t == out[-1] and t.endswith(".delta")):
            out.append(t)
    return out


async def test_function_call_then_output_then_answer(server: RunningServer) -> None:
    api = client(server).responses
    first = await api.with_raw_response.create(model="gpt-4o-mini", input=ASK, tools=TOOLS, tool_choice="required")  # type: ignore[arg-type]
    data = json.loads(first.http_response.content)
    assert_strict_response(data)
    response = first.parse()
    assert response.status == "completed"
    calls = [item for item in response.output if item.type == "function_call"]
    assert calls
    assert len(calls) == len(response.output)  # a forced call answers with calls only
    for call in calls:
        assert call.call_id.startswith("call_")
        assert call.id is not None
        assert call.id.startswith("fc_")
        assert call.status == "completed"
        jsonschema.validate(json.loads(call.arguments), SCHEMAS[call.name])
    assert response.usage is not None
    assert_usage_matches_log_and_ledger(server, response.usage.input_tokens, response.usage.output_tokens)
    assert server.core.log.since(0)[-1].finish == "completed"

    results = [{"type": "function_call_output", "call_id": c.call_id, "output": '{"sky": "clear"}'} for c in calls]
    history = [*ASK, *[c.model_dump(exclude_none=True) for c in calls], *results]
    second = await api.with_raw_response.create(model="gpt-4o-mini", input=history, tools=TOOLS, max_output_tokens=20)  # type: ignore[arg-type]
    assert_strict_response(json.loads(second.http_response.content))
    answer = second.parse()
    assert [item.type for item in answer.output] == ["message"]
    assert answer.output_text
    assert answer.usage is not None
    assert answer.usage.input_tokens > response.usage.input_tokens  # the calls and their results are in the prompt


async def test_streamed_function_calls_have_the_real_event_sequence(server: RunningServer) -> None:
    plain = await client(server).responses.create(model="gpt-4o-mini", input=ASK, tools=TOOLS, tool_choice="required")  # type: ignore[arg-type]
    body = {"model": "gpt-4o-mini", "input": ASK, "tools": TOOLS, "tool_choice": "required", "stream": True}
    events = sse_events((await raw_post(server, body)).text)
    calls = [item for item in plain.output if item.type == "function_call"]
    types = _collapse([e["type"] for e in events])
    assert types == ["response.created", "response.in_progress", *CALL_EVENTS * len(calls), "response.completed"]
    for index, call in enumerate(calls):
        mine = [e for e in events if e.get("output_index") == index]
        deltas = [e for e in mine if e["type"] == "response.function_call_arguments.delta"]
        done = next(e for e in mine if e["type"] == "response.function_call_arguments.done")
        added = next(e for e in mine if e["type"] == "response.output_item.added")
        assert added["item"]["arguments"] == ""
        assert added["item"]["status"] == "in_progress"
        assert {d["item_id"] for d in deltas} == {done["item_id"]} == {added["item"]["id"]}
        assert "".join(d["delta"] for d in deltas) == done["arguments"] == call.arguments  # as answered plainly
    final = events[-1]["response"]
    assert [item["type"] for item in final["output"]] == ["function_call"] * len(calls)
    record = server.core.log.since(0)[-1]
    assert (record.stream, record.output_tokens) == (True, final["usage"]["output_tokens"])
    assert final["usage"]["output_tokens"] == plain.usage.output_tokens if plain.usage else False


async def test_sdk_stream_helper_assembles_the_calls(server: RunningServer) -> None:
    async with client(server).responses.stream(
        model="gpt-4o-mini", input=ASK, tools=TOOLS, tool_choice={"type": "function", "name": "get_weather"}  # type: ignore[arg-type]
    ) as stream:
        deltas = [e.delta async for e in stream if e.type == "response.function_call_arguments.delta"]
        final = await stream.get_final_response()
    (call,) = final.output  # a named choice calls that tool, once
    assert call.type == "function_call"
    assert call.name == "get_weather"
    assert call.arguments == "".join(deltas)
    jsonschema.validate(json.loads(call.arguments), WEATHER)


async def test_parallel_tool_calls_false_makes_one_call(server: RunningServer) -> None:
    api = client(server).responses
    counts = set()
    for i in range(8):
        ask = [{"role": "user", "content": f"case {i}"}]
        response = await api.create(model="gpt-4o-mini", input=ask, tools=TOOLS, tool_choice="required",  # type: ignore[arg-type]
                                    parallel_tool_calls=False)  # fmt: skip
        counts.add(len(response.output))
    assert counts == {1}


async def test_auto_answers_in_text_after_a_result_and_none_never_calls(server: RunningServer) -> None:
    api = client(server).responses
    none = await api.create(model="gpt-4o-mini", input=ASK, tools=TOOLS, tool_choice="none", max_output_tokens=16)  # type: ignore[arg-type]
    assert [item.type for item in none.output] == ["message"]
    auto = await api.create(model="gpt-4o-mini", input=ASK, tools=TOOLS)  # type: ignore[arg-type]
    assert {item.type for item in auto.output} == {"function_call"}  # auto: no result yet, so a call


class Verdict(BaseModel):
    verdict: str
    score: int


@pytest.mark.parametrize("stream", [False, True])
async def test_text_format_json_schema_with_the_sdk_parse_helper(server: RunningServer, stream: bool) -> None:
    api = client(server).responses
    ask = [{"role": "user", "content": "Is it good?"}]
    if not stream:
        parsed = await api.parse(model="gpt-4o-mini", input=ask, text_format=Verdict)  # type: ignore[arg-type]
        assert isinstance(parsed.output_parsed, Verdict)
        text = parsed.output_text
    else:
        async with api.stream(model="gpt-4o-mini", input=ask, text_format=Verdict) as events:  # type: ignore[arg-type]
            async for _ in events:
                pass
            final = await events.get_final_response()
        assert isinstance(final.output_parsed, Verdict)
        text = final.output_text
    schema = Verdict.model_json_schema()
    jsonschema.validate(json.loads(text), schema)
    record = server.core.log.since(0)[-1]
    assert record.stream is stream


async def test_text_format_plain_body_and_stream_are_strict(server: RunningServer) -> None:
    fmt = {"type": "json_schema", "name": "weather", "schema": WEATHER, "strict": True}
    body: dict[str, Any] = {"model": "gpt-4o-mini", "input": "Weather as JSON", "text": {"format": fmt}}
    plain = (await raw_post(server, body)).json()
    assert_strict_response(plain)
    (message,) = plain["output"]
    jsonschema.validate(json.loads(message["content"][0]["text"]), WEATHER)
    assert plain["text"]["format"] == fmt
    events = sse_events((await raw_post(server, {**body, "stream": True})).text)
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert deltas == message["content"][0]["text"]


@pytest.mark.parametrize(
    ("body", "param", "needle"),
    [
        ({"text": {"format": {"type": "xml"}}}, "text.format.type", "Supported values are"),
        ({"text": {"format": {"type": "json_object"}}}, "input", "must contain the word 'json'"),
        ({"text": {"format": {"type": "json_schema", "name": "x", "strict": True, "schema": {
            "type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}}}},
         "text.format.schema", "'additionalProperties' is required to be supplied and to be false"),
        ({"tools": [{"type": "function", "name": "f", "strict": True, "parameters": {"type": "object",
            "properties": {"a": {"type": "string"}}, "additionalProperties": False}}]},
         "tools[0].parameters", "Missing 'a'"),
        ({"tools": [{"type": "web_search"}]}, "tools[0].type", "function tools only"),
        ({"tools": TOOLS, "tool_choice": {"type": "function", "name": "nope"}}, "tool_choice", "not found"),
        ({"input": [{"type": "function_call_output", "call_id": "call_x", "output": "1"}]}, "input[0]",
         "No tool call found for function call output with call_id call_x"),
        ({"tools": [{"type": "function", "name": "f", "parameters": {"type": "object", "properties": {
            "n": {"type": "integer", "minimum": 1, "maximum": 2, "multipleOf": 3}}}}]},
         "tools[0].parameters", "no integer that is a multiple of 3"),
    ],
)  # fmt: skip
async def test_invalid_asks_are_openais_400(
    server: RunningServer, body: dict[str, Any], param: str, needle: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client(server).responses.create(**{"model": "gpt-4o-mini", "input": "hi", **body})
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert needle in error["message"]


@pytest.mark.parametrize("fault", ["invalid_json", "schema_violation"])
async def test_output_faults_break_the_arguments(server: RunningServer, fault: str) -> None:
    body = {"model": "gpt-4o-mini", "input": ASK, "tools": TOOLS[:1], "tool_choice": "required"}
    clean = (await raw_post(server, body)).json()["output"][0]["arguments"]
    broken = (await raw_post(server, body, {"x-fake-fault": fault})).json()
    assert_strict_response(broken)
    arguments = broken["output"][0]["arguments"]
    if fault == "invalid_json":
        assert arguments == clean[:-1]
        with pytest.raises(json.JSONDecodeError):
            json.loads(arguments)
    else:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(json.loads(arguments), WEATHER)


async def test_a_stream_failing_mid_call_is_numbered_and_billed_for_what_was_sent(server: RunningServer) -> None:
    body = {"model": "gpt-4o-mini", "input": ASK, "tools": TOOLS[:1], "tool_choice": "required", "stream": True}
    events = sse_events((await raw_post(server, body, {"x-fake-fault": "stream_error_after=3; status=500"})).text)
    types = [e["type"] for e in events]
    assert types[-2:] == ["error", "response.failed"]
    assert types.count("response.function_call_arguments.delta") == 3
    record = server.core.log.since(0)[-1]
    assert record.finish == "error"
    assert record.output_tokens == events[-1]["response"]["usage"]["output_tokens"]


async def test_max_output_tokens_cuts_the_arguments(server: RunningServer) -> None:
    body = {"model": "gpt-4o-mini", "input": ASK, "tools": TOOLS[:1], "tool_choice": "required",
            "max_output_tokens": 16}  # fmt: skip
    cut = (await raw_post(server, body)).json()
    assert_strict_response(cut)
    assert cut["status"] == "incomplete"
    assert cut["incomplete_details"] == {"reason": "max_output_tokens"}
    assert cut["usage"]["output_tokens"] == 16
    assert cut["output"][0]["status"] == "incomplete"


async def test_langchain_bind_tools_with_the_responses_api(server: RunningServer) -> None:
    langchain_openai = pytest.importorskip("langchain_openai", reason="langchain-openai is in the dev extra")
    messages = pytest.importorskip("langchain_core.messages")
    model = langchain_openai.ChatOpenAI(
        model="gpt-4o-mini", base_url=server.openai_base_url, api_key="sk-test", use_responses_api=True, max_retries=0
    )

    def get_weather(city: str, days: int) -> str:
        """Forecast for a city."""
        return "clear"

    bound = model.bind_tools([get_weather], tool_choice="get_weather")
    question = messages.HumanMessage("Weather in Oslo?")
    first = await bound.ainvoke([question])
    (call,) = first.tool_calls
    assert call["name"] == "get_weather"
    assert set(call["args"]) >= {"city", "days"}
    streamed = [chunk async for chunk in bound.astream([question])]
    merged = streamed[0]
    for chunk in streamed[1:]:
        merged = merged + chunk
    assert [c["args"] for c in merged.tool_calls] == [call["args"]]
    result = messages.ToolMessage("clear skies", tool_call_id=call["id"])
    answer = await model.bind_tools([get_weather]).ainvoke([question, first, result])
    assert answer.tool_calls == []
    assert answer.text
    assert [r.api for r in server.core.log.since(0)] == ["openai.responses"] * 3


async def test_langchain_structured_output_with_the_responses_api(server: RunningServer) -> None:
    langchain_openai = pytest.importorskip("langchain_openai", reason="langchain-openai is in the dev extra")
    model = langchain_openai.ChatOpenAI(
        model="gpt-4o-mini", base_url=server.openai_base_url, api_key="sk-test", use_responses_api=True, max_retries=0
    )
    for method in ("json_schema", "function_calling"):
        verdict = await model.with_structured_output(Verdict, method=method).ainvoke("Is it good?")
        assert isinstance(verdict, Verdict)
    body = server.core.log.since(0)
    assert [r.api for r in body] == ["openai.responses"] * 2
