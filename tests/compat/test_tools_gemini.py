"""google-genai's function calling, JSON schema output and thinking against the fake provider."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import jsonschema
import pytest
from google import genai
from google.genai import types
from pydantic import BaseModel

from fake_provider.testing import RunningServer

from .conftest import assert_usage_matches_log_and_ledger, track
from .strict_types import assert_strict

pytestmark = [
    pytest.mark.compat,
    pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning"),
]

FORECAST = types.FunctionDeclaration(
    name="get_forecast",
    description="Weather forecast",
    parameters=types.Schema(
        type=types.Type.OBJECT,
        properties={
            "city": types.Schema(type=types.Type.STRING),
            "days": types.Schema(type=types.Type.INTEGER, minimum=1, maximum=5),
        },
        required=["city", "days"],
    ),
)
FORECAST_JSON = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 5}},
    "required": ["city", "days"],
}


def client(server: RunningServer) -> genai.Client:
    return track(genai.Client(api_key="g-test", http_options=types.HttpOptions(base_url=server.url)))


def tool_config(**kw: object) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(tools=[types.Tool(function_declarations=[FORECAST])], **kw)  # type: ignore[arg-type]


async def test_function_call_and_function_response(server: RunningServer) -> None:
    models = client(server).aio.models
    first = await models.generate_content(model="gemini-2.5-flash", contents="Weather in Rome?", config=tool_config())
    assert_strict(types.GenerateContentResponse, first.model_dump(mode="json", exclude_none=True),
                  allow=("sdk_http_response",))  # fmt: skip
    calls = first.function_calls or []
    assert [c.name for c in calls] == ["get_forecast"]
    jsonschema.validate(calls[0].args, FORECAST_JSON)
    usage = first.usage_metadata
    assert usage is not None
    assert usage.prompt_token_count
    assert usage.candidates_token_count
    assert_usage_matches_log_and_ledger(server, usage.prompt_token_count, usage.candidates_token_count)
    assert first.candidates
    assert first.candidates[0].content
    history = [
        types.Content(role="user", parts=[types.Part(text="Weather in Rome?")]),
        first.candidates[0].content,
        types.Content(role="user", parts=[types.Part.from_function_response(name="get_forecast",
                                                                             response={"sky": "clear"})]),
    ]  # fmt: skip
    second = await models.generate_content(model="gemini-2.5-flash", contents=history, config=tool_config(
        max_output_tokens=9))  # fmt: skip
    assert not second.function_calls
    assert second.text


async def test_mode_any_streams_the_call_whole(server: RunningServer) -> None:
    config = tool_config(tool_config=types.ToolConfig(
        function_calling_config=types.FunctionCallingConfig(mode=types.FunctionCallingConfigMode.ANY)))  # fmt: skip
    models = client(server).aio.models
    plain = await models.generate_content(model="gemini-2.5-flash", contents="Weather?", config=config)
    streamed = [c async for c in await models.generate_content_stream(
        model="gemini-2.5-flash", contents="Weather?", config=config)]  # fmt: skip
    calls = [fc for chunk in streamed for fc in chunk.function_calls or []]
    assert [(c.name, c.args) for c in calls] == [(c.name, c.args) for c in plain.function_calls or []]
    last = streamed[-1].usage_metadata
    assert last is not None
    assert plain.usage_metadata is not None
    assert last.candidates_token_count == plain.usage_metadata.candidates_token_count


class Recipe(BaseModel):
    name: str
    minutes: int
    ingredients: list[str]


async def test_json_schema_output_with_a_pydantic_model(server: RunningServer) -> None:
    result = await client(server).aio.models.generate_content(
        model="gemini-2.5-flash",
        contents="A cookie recipe",
        config=types.GenerateContentConfig(response_mime_type="application/json", response_schema=list[Recipe]),
    )
    assert isinstance(result.parsed, list)
    assert all(isinstance(r, Recipe) for r in result.parsed)
    assert json.loads(result.text or "") == [r.model_dump() for r in result.parsed]


async def test_response_json_schema_and_thinking(server: RunningServer) -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}, "score": {"type": "number", "minimum": 0,
              "maximum": 1}}, "required": ["ok", "score"], "additionalProperties": False}  # fmt: skip
    result = await client(server).aio.models.generate_content(
        model="gemini-2.5-flash",
        contents="Rate it",
        config=types.GenerateContentConfig(
            response_mime_type="application/json", response_json_schema=schema,
            thinking_config=types.ThinkingConfig(thinking_budget=200, include_thoughts=True),
        ),
    )  # fmt: skip
    jsonschema.validate(json.loads(result.text or ""), schema)
    assert result.candidates
    assert result.candidates[0].content
    assert result.candidates[0].content.parts
    thoughts = [p for p in result.candidates[0].content.parts if p.thought]
    assert len(thoughts) == 1
    usage = result.usage_metadata
    assert usage is not None
    assert usage.thoughts_token_count
    assert 40 <= usage.thoughts_token_count <= 160
    record = server.core.log.since(0)[-1]
    assert record.output_tokens == usage.thoughts_token_count + (usage.candidates_token_count or 0)


async def _refused(server: RunningServer, body: dict[str, object]) -> dict[str, Any]:
    """The error of a hand-written generateContent body Gemini refuses (400 INVALID_ARGUMENT)."""
    async with aiohttp.ClientSession() as session, session.post(
        f"{server.url}/v1beta/models/gemini-2.5-flash:generateContent", json=body, headers={"x-goog-api-key": "g"}
    ) as response:
        assert response.status == 400
        error: dict[str, Any] = (await response.json())["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    return error


async def test_an_unknown_schema_field_is_geminis_400(server: RunningServer) -> None:
    # the SDK refuses additionalProperties itself; a hand-written body reaches the provider
    body = {"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"responseMimeType": "application/json",
            "responseSchema": {"type": "OBJECT", "properties": {}, "additionalProperties": True}}}  # fmt: skip
    error = await _refused(server, body)
    assert 'Unknown name "additionalProperties"' in error["message"]
    assert error["details"][0]["fieldViolations"][0]["field"] == "generationConfig.response_schema"


@pytest.mark.parametrize("key", ["responseSchema", "responseJsonSchema"])
async def test_a_range_without_a_value_is_geminis_400(server: RunningServer, key: str) -> None:
    schema: dict[str, object] = {"type": "INTEGER", "minimum": 5, "maximum": 4}
    if key == "responseJsonSchema":
        schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 5, "maximum": 4}}}
    body = {"contents": [{"parts": [{"text": "x"}]}],
            "generationConfig": {"responseMimeType": "application/json", key: schema}}  # fmt: skip
    error = await _refused(server, body)
    assert "no integer satisfies minimum 5, maximum 4" in error["message"]
