"""The openai SDK's tool calls and structured output against the fake provider (chat completions)."""

from __future__ import annotations

import json

import jsonschema
import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import BaseModel

from fake_provider.testing import RunningServer

from .conftest import assert_usage_matches_log_and_ledger, track
from .strict_types import assert_strict

pytestmark = pytest.mark.compat

WEATHER = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "minLength": 2},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
    },
    "required": ["city", "unit", "days"],
    "additionalProperties": False,
}
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER, "strict": True}},
    {"type": "function", "function": {"name": "get_time", "parameters": {
        "type": "object", "properties": {"zone": {"type": "string", "pattern": "^[A-Z][a-z]+/[A-Z][a-z]+$"}},
        "required": ["zone"], "additionalProperties": False}}},
]  # fmt: skip
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]


def client(server: RunningServer) -> openai.AsyncOpenAI:
    return track(openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0))


def _schema(name: str) -> dict[str, object]:
    return next(t["function"]["parameters"] for t in TOOLS if t["function"]["name"] == name)  # type: ignore[index,return-value]


async def test_tool_call_then_tool_result_then_answer(server: RunningServer) -> None:
    api = client(server).chat.completions
    first = await api.create(model="gpt-4o-mini", messages=ASK, tools=TOOLS, tool_choice="required")  # type: ignore[arg-type]
    assert_strict(ChatCompletion, first.model_dump(mode="json", exclude_unset=True))
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls or []
    assert calls
    for call in calls:
        assert call.type == "function"
        assert call.id.startswith("call_")
        jsonschema.validate(json.loads(call.function.arguments), _schema(call.function.name))
    assert first.usage is not None
    assert_usage_matches_log_and_ledger(server, first.usage.prompt_tokens, first.usage.completion_tokens)
    # the tool results go back; with tool_choice "auto" the model now answers in text
    history = [*ASK, choice.message.model_dump(exclude_none=True)]
    history += [{"role": "tool", "tool_call_id": c.id, "content": '{"temp": 21}'} for c in calls]
    second = await api.create(model="gpt-4o-mini", messages=history, tools=TOOLS, max_tokens=12)  # type: ignore[arg-type]
    assert second.choices[0].message.tool_calls is None
    assert second.choices[0].message.content
    assert second.usage is not None
    assert second.usage.prompt_tokens > first.usage.prompt_tokens


async def test_the_same_request_calls_the_same_tool_with_the_same_arguments(server: RunningServer) -> None:
    api = client(server).chat.completions
    answers = [await api.create(model="gpt-4o", messages=ASK, tools=TOOLS) for _ in range(2)]  # type: ignore[arg-type]
    dumped = [[c.model_dump() for c in a.choices[0].message.tool_calls or []] for a in answers]
    assert dumped[0] == dumped[1]
    assert dumped[0]  # "auto" with no tool result yet: a call


async def test_named_tool_choice_and_no_parallel_calls(server: RunningServer) -> None:
    api = client(server).chat.completions
    for question in ("time in Rome?", "time in Oslo?", "time in Lima?"):
        result = await api.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": question}],
            tools=TOOLS,  # type: ignore[arg-type]
            tool_choice={"type": "function", "function": {"name": "get_time"}},
            parallel_tool_calls=False,
        )
        calls = result.choices[0].message.tool_calls or []
        assert [c.function.name for c in calls] == ["get_time"]
        jsonschema.validate(json.loads(calls[0].function.arguments), _schema("get_time"))


async def test_tool_choice_none_answers_in_text(server: RunningServer) -> None:
    result = await client(server).chat.completions.create(
        model="gpt-4o-mini", messages=ASK, tools=TOOLS, tool_choice="none", max_tokens=5  # type: ignore[arg-type]
    )
    assert result.choices[0].message.tool_calls is None
    assert result.choices[0].finish_reason == "length"


async def test_streamed_tool_call_deltas_add_up_to_the_plain_call(server: RunningServer) -> None:
    api = client(server).chat.completions
    plain = await api.create(model="gpt-4o-mini", messages=ASK, tools=TOOLS, tool_choice="required")  # type: ignore[arg-type]
    stream = await api.create(
        model="gpt-4o-mini", messages=ASK, tools=TOOLS, tool_choice="required", stream=True,  # type: ignore[arg-type]
        stream_options={"include_usage": True},
    )  # fmt: skip
    calls: dict[int, dict[str, str]] = {}
    finish = None
    usage = None
    async for chunk in stream:
        assert_strict(ChatCompletionChunk, chunk.model_dump(mode="json", exclude_unset=True))
        usage = chunk.usage or usage
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for delta in choice.delta.tool_calls or ():
                entry = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                entry["id"] += delta.id or ""
                if delta.function is not None:
                    entry["name"] += delta.function.name or ""
                    entry["arguments"] += delta.function.arguments or ""
    expected = [
        {"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
        for c in plain.choices[0].message.tool_calls or []
    ]
    assert [calls[i] for i in sorted(calls)] == expected
    assert finish == "tool_calls"
    assert usage is not None
    assert plain.usage is not None
    assert usage.completion_tokens == plain.usage.completion_tokens
    assert assert_usage_matches_log_and_ledger(server, usage.prompt_tokens, usage.completion_tokens).stream


class Step(BaseModel):
    explanation: str
    output: str


class MathReasoning(BaseModel):
    steps: list[Step]
    final_answer: str
    confidence: float


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_parse_with_a_pydantic_model(seed: int) -> None:
    from fake_provider.config import ProviderConfig
    from fake_provider.testing import running

    async with running(ProviderConfig(seed=seed)) as server:
        result = await client(server).chat.completions.parse(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "solve 8x + 7 = -23"}],
            response_format=MathReasoning,
        )
        parsed = result.choices[0].message.parsed
        assert isinstance(parsed, MathReasoning)
        assert result.choices[0].message.content == parsed.model_dump_json()
        assert result.choices[0].finish_reason == "stop"


async def test_json_object_mode_needs_the_word_json(server: RunningServer) -> None:
    api = client(server).chat.completions
    with pytest.raises(openai.BadRequestError, match="must contain the word 'json'"):
        await api.create(model="gpt-4o-mini", messages=ASK, response_format={"type": "json_object"})  # type: ignore[arg-type]
    ok = await api.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "answer in JSON"}],  # type: ignore[arg-type]
        response_format={"type": "json_object"},
    )  # fmt: skip
    assert isinstance(json.loads(ok.choices[0].message.content or ""), dict)


@pytest.mark.parametrize(
    ("kwargs", "param", "needle"),
    [
        ({"response_format": {"type": "xml"}}, "response_format.type", "Supported values are"),
        ({"logprobs": True, "top_logprobs": 25}, "top_logprobs", "Expected a value <= 20, but got 25"),
        ({"top_logprobs": 3}, "top_logprobs", "'logprobs' must be set to true"),
        ({"tool_choice": "required"}, "tool_choice", "only allowed when 'tools' are specified"),
        (
            {"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "nope"}}},
            "tool_choice",
            "was not found",
        ),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "strict": True, "schema": {
                "type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}}}},
            "response_format",
            "'additionalProperties' is required to be supplied and to be false",
        ),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "strict": True, "schema": {
                "type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                "required": ["a"], "additionalProperties": False}}}},
            "response_format",
            "Missing 'b'",
        ),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {
                "type": "object", "not": {"required": ["a"]}}}}},
            "response_format.json_schema.schema",
            "'not' is not supported",
        ),
        (  # a range that holds no multiple: refused, not answered with a value that breaks the schema
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {
                "n": {"type": "integer", "minimum": 1, "maximum": 2, "multipleOf": 3}}}}}], "tool_choice": "required"},
            "tools[0].function.parameters",
            "no integer that is a multiple of 3 satisfies minimum 1, maximum 2, multipleOf 3",
        ),
    ],
)  # fmt: skip
async def test_invalid_asks_are_openais_400(
    server: RunningServer, kwargs: dict[str, object], param: str, needle: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client(server).chat.completions.create(model="gpt-4o-mini", messages=ASK, **kwargs)  # type: ignore[call-overload]
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["type"] == "invalid_request_error"
    assert body["param"] == param
    assert needle in body["message"]


async def test_logprobs_are_deterministic_and_bounded(server: RunningServer) -> None:
    api = client(server).chat.completions
    results = [
        await api.create(model="gpt-4o-mini", messages=ASK, max_tokens=6, logprobs=True, top_logprobs=4)  # type: ignore[arg-type]
        for _ in range(2)
    ]
    assert_strict(ChatCompletion, results[0].model_dump(mode="json", exclude_unset=True))
    logprobs = results[0].choices[0].logprobs
    assert logprobs is not None
    assert logprobs.content is not None
    assert len(logprobs.content) == 6
    assert "".join(t.token for t in logprobs.content) == results[0].choices[0].message.content
    for token in logprobs.content:
        assert token.logprob <= 0
        assert len(token.top_logprobs) == 4
        assert token.top_logprobs[0].token == token.token
        assert [t.logprob for t in token.top_logprobs] == sorted((t.logprob for t in token.top_logprobs), reverse=True)
    assert results[0].choices[0].logprobs == results[1].choices[0].logprobs


async def test_repeated_long_prefixes_report_cached_tokens(server: RunningServer) -> None:
    api = client(server).chat.completions
    system = {"role": "system", "content": " ".join(["guideline"] * 1300)}
    first = await api.create(model="gpt-4o", max_tokens=4, messages=[system, *ASK])  # type: ignore[list-item]
    second = await api.create(model="gpt-4o", max_tokens=4, messages=[system, {"role": "user", "content": "Rome?"}])  # type: ignore[list-item]
    assert first.usage is not None
    assert second.usage is not None
    assert first.usage.prompt_tokens_details is not None
    assert second.usage.prompt_tokens_details is not None
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    cached = second.usage.prompt_tokens_details.cached_tokens
    assert cached is not None
    assert cached >= 1024
    assert (cached - 1024) % 128 == 0
    entry = server.core.ledger.entries[-1]
    assert entry.usage.cached_input_tokens == cached
    assert entry.cost_usd == server.core.models["gpt-4o"].price.cost(entry.usage)
