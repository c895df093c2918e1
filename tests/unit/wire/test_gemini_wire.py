"""Gemini wire module, checked against google-genai's own bytes (httpx2.MockTransport)."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx2
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from harness.errors import AuthenticationError, ContextLengthExceeded, NotFound, Overloaded, RateLimited, ServerError
from harness.pricing import Usage
from harness.wire import gemini as wire
from harness.wire.neutral import RequestInvalid

Handler = Callable[[httpx2.Request], httpx2.Response]


def sdk(handler: Handler) -> genai.Client:
    options = types.HttpOptions(
        base_url="http://fake", httpx_client=httpx2.Client(transport=httpx2.MockTransport(handler))
    )
    return genai.Client(api_key="g-test", http_options=options)


def test_routes() -> None:
    assert wire.parse_route("/v1beta/models/gemini-2.5-flash:generateContent") == (
        "gemini-2.5-flash",
        "generateContent",
    )
    assert wire.parse_route("/v1/models/gemini-2.5-flash:streamGenerateContent") == (
        "gemini-2.5-flash",
        "streamGenerateContent",
    )
    assert wire.parse_route("/v2/models/x:generateContent") is None
    assert wire.parse_route("/v1/models/x") is None
    assert wire.parse_route("/v1/models/:generateContent") is None


def test_the_sdk_request_parses_into_a_neutral_call() -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, content=wire.response_body("r1", "gemini-2.5-flash", "ok", "STOP", 1, 1))

    sdk(handler).models.generate_content(
        model="gemini-2.5-flash",
        contents=[
            types.Content(role="user", parts=[types.Part(text="Hello")]),
            types.Content(role="model", parts=[types.Part(text="Hi")]),
            types.Content(role="user", parts=[types.Part(text="Again"), types.Part(text="please")]),
        ],
        config=types.GenerateContentConfig(system_instruction="Be brief.", max_output_tokens=9, stop_sequences=["END"]),
    )
    request = seen[0]
    assert request.url.path == "/v1/models/gemini-2.5-flash:generateContent"  # google-genai 3.x defaults to v1
    assert request.headers[wire.API_KEY_HEADER] == "g-test"
    model, _ = wire.parse_route(request.url.path) or ("", "")
    call = wire.parse_generate(json.loads(request.content), model, False)
    assert call.messages == (("system", "Be brief."), ("user", "Hello"), ("assistant", "Hi"), ("user", "Again\nplease"))
    assert (call.model, call.max_tokens, call.stop) == ("gemini-2.5-flash", 9, ("END",))


def test_the_sdk_reads_a_plain_response_and_so_do_we() -> None:
    body = wire.response_body("resp-1", "gemini-2.5-flash", "Hi there", "MAX_TOKENS", 7, 2)
    result = sdk(lambda r: httpx2.Response(200, content=body)).models.generate_content(
        model="gemini-2.5-flash", contents="x"
    )
    assert result.text == "Hi there"
    assert result.candidates is not None
    assert result.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert result.usage_metadata is not None
    assert (result.usage_metadata.prompt_token_count, result.usage_metadata.candidates_token_count) == (7, 2)
    assert result.response_id == "resp-1"
    ours = wire.parse_response_body(body)
    assert (ours.text, ours.finish_reason, ours.usage, ours.request_id) == (
        "Hi there",
        "MAX_TOKENS",
        Usage(7, 2),
        "resp-1",
    )


def stream_bytes() -> bytes:
    enc = wire.GenerateStreamEncoder("resp-s", "gemini-2.5-flash", 5)
    return enc.text("Hel", 1) + enc.text("lo", 2, "STOP")


def test_the_sdk_streams_our_chunks_and_so_do_we() -> None:
    body = stream_bytes()
    client = sdk(lambda r: httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"}))
    chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash", contents="x"))
    assert "".join(c.text or "" for c in chunks) == "Hello"
    last = chunks[-1]
    assert last.usage_metadata is not None
    assert last.usage_metadata.candidates_token_count == 2
    reader = wire.GenerateStreamReader()
    events = reader.feed(body[:17]) + reader.feed(body[17:]) + reader.finish()
    assert "".join(e.text for e in events) == "Hello"
    assert [e.usage for e in events] == [Usage(5, 1), Usage(5, 2)]
    assert events[-1].finish_reason == "STOP"


def test_a_mid_stream_error_chunk_is_raised_by_the_sdk() -> None:
    body = (
        wire.GenerateStreamEncoder("r", "m", 1).text("Hi", 1) + b"data: " + wire.error_body(503, "overloaded") + b"\n\n"
    )
    client = sdk(lambda r: httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"}))
    with pytest.raises(genai_errors.ServerError):
        list(client.models.generate_content_stream(model="m", contents="x"))
    event = wire.GenerateStreamReader().feed(body)[-1]
    assert event.error is not None
    assert event.error.status == 503


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ([], None),
        ({}, "contents"),
        ({"contents": "hi"}, "contents"),
        ({"contents": [{"role": "robot", "parts": [{"text": "x"}]}]}, "contents[0].role"),
        ({"contents": [{"parts": [{"text": 5}]}]}, "contents[0].parts[0].text"),
        (
            {"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"maxOutputTokens": "5"}},
            "generationConfig.maxOutputTokens",
        ),
        (
            {"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"temperature": -1}},
            "generationConfig.temperature",
        ),
        ({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": []}, "generationConfig"),
    ],
)
def test_validation_names_the_field(body: object, param: str | None) -> None:
    with pytest.raises(RequestInvalid) as info:
        wire.parse_generate(body, "m", False)
    assert info.value.param == param
    error = json.loads(wire.invalid_body(info.value))["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    if param is not None:
        assert f"'{param}'" in error["message"]
        assert error["details"][0]["fieldViolations"][0]["field"] == param


def test_snake_case_fields_are_accepted_too() -> None:
    body = {"contents": [{"parts": [{"text": "x"}]}], "generation_config": {"max_output_tokens": 3}}
    assert wire.parse_generate(body, "m", True).max_tokens == 3


def test_neutral_builder_round_trips_through_the_server_parser() -> None:
    messages = [("system", "S"), ("user", "U"), ("assistant", "A")]
    body = wire.build_generate_body(messages, max_tokens=5, temperature=0.2, stop=["x"])
    call = wire.parse_generate(json.loads(body), "m", True)
    assert call.messages == tuple(messages)
    assert (call.max_tokens, call.stop, call.prefill) == (5, ("x",), True)
    assert wire.generate_path("m", True) == "/v1beta/models/m:streamGenerateContent?alt=sse"


def test_a_429_carries_retry_info_and_the_sdk_raises_client_error() -> None:
    body = wire.error_body(429, "Resource has been exhausted", details=wire.retry_details(0.3))
    info = wire.parse_error(429, {}, body)
    assert (info.type, info.retry_after_s) == ("RESOURCE_EXHAUSTED", pytest.approx(0.3))
    assert isinstance(wire.error_from_info(info), RateLimited)
    with pytest.raises(genai_errors.ClientError) as raised:
        sdk(lambda r: httpx2.Response(429, content=body)).models.generate_content(model="m", contents="x")
    assert raised.value.code == 429


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (400, "API key not valid. Please pass a valid API key.", AuthenticationError),
        (400, "The input token count (9) exceeds the maximum number of tokens allowed (8).", ContextLengthExceeded),
        (404, "models/x is not found", NotFound),
        (503, "The model is overloaded. Please try again later.", Overloaded),
        (500, "An internal error has occurred.", ServerError),
    ],
)
def test_errors_map_to_the_harness_tree(status: int, message: str, expected: type[Exception]) -> None:
    err = wire.error_from_response(status, {}, wire.error_body(status, message))
    assert type(err) is expected
    assert (err.status, err.provider) == (status, "gemini")
