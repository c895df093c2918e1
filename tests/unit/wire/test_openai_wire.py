"""OpenAI wire module, checked against the official SDK's own bytes (no sockets: httpx2.MockTransport)."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable

import httpx2
import openai
import pytest

from harness.errors import (
    AuthenticationError,
    BadRequest,
    ContentFiltered,
    ContextLengthExceeded,
    NotFound,
    Overloaded,
    QuotaExhausted,
    RateLimited,
    RequestTimeoutStatus,
    ServerError,
    StreamBroken,
)
from harness.pricing import Usage
from harness.wire import openai as wire
from harness.wire import openai_answers, openai_client, openai_limits, openai_requests
from harness.wire.neutral import RequestInvalid

Handler = Callable[[httpx2.Request], httpx2.Response]


def sdk(handler: Handler) -> openai.OpenAI:
    return openai.OpenAI(
        base_url="http://fake/v1",
        api_key="sk-test",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )


def capture() -> tuple[list[httpx2.Request], Handler]:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        body = openai_answers.chat_body("chatcmpl-1", "gpt-4o-mini", 1, "ok", "stop", 1, 1)
        return httpx2.Response(200, json=json.loads(body))

    return seen, handler


def test_the_sdk_request_parses_into_a_neutral_call() -> None:
    seen, handler = capture()
    sdk(handler).chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": "there"}]},
            {"role": "assistant", "content": "Hi"},
            {"role": "user", "content": "Again"},
        ],
        max_tokens=12,
        stop=["END"],
        temperature=0.5,
    )
    request = seen[0]
    assert request.url.path == wire.CHAT_PATH
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.headers[wire.ATTEMPT_HEADER] == "0"
    call = openai_requests.parse_chat(json.loads(request.content))
    assert call.model == "gpt-4o-mini"
    assert call.messages == (("system", "Be brief."), ("user", "Hello\nthere"), ("assistant", "Hi"), ("user", "Again"))
    assert (call.max_tokens, call.stop, call.temperature, call.stream, call.prefill) == (
        12,
        ("END",),
        0.5,
        False,
        False,
    )


def test_the_sdk_reads_a_plain_completion_and_so_do_we() -> None:
    body = openai_answers.chat_body("chatcmpl-abc", "gpt-4o", 1_700_000_000, 'say "hi"\n', "length", 13, 4)
    client = sdk(lambda r: httpx2.Response(200, content=body, headers={"x-request-id": "req_1"}))
    result = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert result.choices[0].message.content == 'say "hi"\n'
    assert result.choices[0].finish_reason == "length"
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.completion_tokens, result.usage.total_tokens) == (13, 4, 17)
    ours = openai_client.parse_chat_body(body, {"x-request-id": "req_1"})
    assert (ours.text, ours.finish_reason, ours.usage, ours.request_id) == (
        'say "hi"\n',
        "length",
        Usage(13, 4),
        "req_1",
    )


def stream_bytes(include_usage: bool) -> bytes:
    enc = openai_answers.ChatStreamEncoder("chatcmpl-s", "gpt-4o-mini", 1, include_usage)
    body = enc.role() + enc.text("Hel") + enc.text("lo") + enc.finish("stop")
    if include_usage:
        body += enc.usage(9, 2)
    return body + wire.DONE


@pytest.mark.parametrize("include_usage", [True, False])
def test_the_sdk_streams_our_chunks(include_usage: bool) -> None:
    body = stream_bytes(include_usage)
    client = sdk(lambda r: httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"}))
    chunks = list(
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}], stream=True)
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    usage = [c.usage for c in chunks if c.usage is not None]
    assert [(u.prompt_tokens, u.completion_tokens) for u in usage] == ([(9, 2)] if include_usage else [])
    if include_usage:  # every chunk carries "usage": null except the last
        assert body.count(b'"usage":null') == 4


def test_our_stream_reader_reads_the_same_stream_in_any_slicing() -> None:
    body = stream_bytes(True)
    for size in (1, 7, len(body)):
        reader = openai_client.ChatStreamReader()
        events = [e for i in range(0, len(body), size) for e in reader.feed(body[i : i + size])] + reader.finish()
        assert "".join(e.text for e in events) == "Hello"
        assert [e.finish_reason for e in events if e.finish_reason] == ["stop"]
        assert [e.usage for e in events if e.usage] == [Usage(9, 2)]
        assert events[-1].done


def test_a_mid_stream_error_is_an_sdk_api_error_and_our_error_event() -> None:
    enc = openai_answers.ChatStreamEncoder("chatcmpl-s", "gpt-4o-mini", 1, False)
    body = enc.role() + enc.text("Hi") + b"data: " + wire.error_body("Overloaded", "server_error") + b"\n\n"
    client = sdk(lambda r: httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"}))
    with pytest.raises(openai.APIError, match="Overloaded"):
        list(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True))
    events = openai_client.ChatStreamReader().feed(body)
    assert events[-1].error is not None
    assert isinstance(wire.error_from_info(events[-1].error), StreamBroken)
    with pytest.raises(StreamBroken):
        openai_client.ChatStreamReader().feed(b"data: {not json\n\n")


@pytest.mark.parametrize("as_base64", [True, False])
def test_embeddings_in_both_encodings(as_base64: bool) -> None:
    vector = struct.pack("<3f", 0.5, -0.25, 1.0)
    body = openai_answers.embeddings_body("text-embedding-3-small", [vector], as_base64, 3)
    seen: list[dict[str, object]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(json.loads(request.content))
        return httpx2.Response(200, content=body)

    fmt = openai.NOT_GIVEN if as_base64 else "float"
    result = sdk(handler).embeddings.create(model="text-embedding-3-small", input="hello world", encoding_format=fmt)
    assert result.data[0].embedding == [0.5, -0.25, 1.0]
    assert result.usage.prompt_tokens == 3
    call = openai_requests.parse_embeddings(seen[0])
    assert call.base64 is as_base64  # the SDK asks for base64 when the caller did not choose
    assert call.token_counts == (4,)  # hell·o worl·d


def test_models_list() -> None:
    body = openai_answers.models_body([("gpt-4o", 1, "openai"), ("gpt-4o-mini", 2, "openai")])
    ids = [m.id for m in sdk(lambda r: httpx2.Response(200, content=body)).models.list()]
    assert ids == ["gpt-4o", "gpt-4o-mini"]


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ([], None, "invalid_type"),
        ({"messages": [{"role": "user", "content": "x"}]}, "model", "missing_required_parameter"),
        ({"model": "m"}, "messages", "missing_required_parameter"),
        ({"model": "m", "messages": []}, "messages", "empty_array"),
        ({"model": 3, "messages": [{"role": "user", "content": "x"}]}, "model", "invalid_type"),
        ({"model": "m", "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role", "invalid_value"),
        ({"model": "m", "messages": [{"role": "user", "content": 5}]}, "messages[0].content", "invalid_type"),
        (
            {"model": "m", "messages": [{"role": "user", "content": [{"type": "text"}]}]},
            "messages[0].content[0].text",
            "missing_required_parameter",
        ),
        (
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": "9"},
            "max_tokens",
            "invalid_type",
        ),
        (
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0},
            "max_tokens",
            "invalid_value",
        ),
        (
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 7},
            "temperature",
            "invalid_value",
        ),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "stream", "invalid_type"),
        (
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "stream_options": {}},
            "stream_options",
            "invalid_value",
        ),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "stop": [1]}, "stop[0]", "invalid_type"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 2}, "n", "invalid_value"),
    ],
)
def test_validation_names_the_field(body: object, param: str | None, code: str) -> None:
    with pytest.raises(RequestInvalid) as info:
        openai_requests.parse_chat(body)
    assert (info.value.param, info.value.code) == (param, code)
    error = json.loads(wire.invalid_body(info.value))["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    if param is not None:
        assert f"'{param}'" in error["message"]


def test_neutral_builder_round_trips_through_the_server_parser() -> None:
    messages = [("system", "S"), ("user", "U"), ("assistant", "A")]
    body = openai_client.build_chat_body("gpt-4o", messages, max_tokens=5, temperature=0.1, stream=True, stop=["x"])
    call = openai_requests.parse_chat(json.loads(body))
    assert call.messages == tuple(messages)
    assert (call.max_tokens, call.stream, call.include_usage, call.stop, call.prefill) == (5, True, True, ("x",), True)


@pytest.mark.parametrize(
    ("status", "type_", "code", "message", "expected"),
    [
        (400, "invalid_request_error", "context_length_exceeded", "too long", ContextLengthExceeded),
        (400, "invalid_request_error", "content_policy_violation", "no", ContentFiltered),
        (400, "invalid_request_error", None, "bad", BadRequest),
        (401, "invalid_request_error", "invalid_api_key", "key", AuthenticationError),
        (404, "invalid_request_error", "model_not_found", "gone", NotFound),
        (408, "invalid_request_error", None, "slow", RequestTimeoutStatus),
        (429, "requests", "rate_limit_exceeded", "slow down", RateLimited),
        (429, "insufficient_quota", "insufficient_quota", "pay", QuotaExhausted),
        (500, "server_error", None, "oops", ServerError),
        (503, "server_error", None, "The server is overloaded or not ready yet.", Overloaded),
        (529, "server_error", None, "Overloaded.", Overloaded),
    ],
)
def test_errors_map_to_the_harness_tree(
    status: int, type_: str, code: str | None, message: str, expected: type[Exception]
) -> None:
    body = wire.error_body(message, type_, None, code)
    err = wire.error_from_response(status, {"x-request-id": "req_9", "retry-after-ms": "250"}, body, model="gpt-4o")
    assert type(err) is expected
    assert (err.status, err.retry_after_s, err.request_id, err.provider, err.model) == (
        status,
        0.25,
        "req_9",
        "openai",
        "gpt-4o",
    )
    assert err.message == message


def test_an_unreadable_error_body_keeps_the_status() -> None:
    err = wire.error_from_response(502, {}, b"<html>bad gateway</html>")
    assert isinstance(err, ServerError)
    assert err.status == 502


def test_rate_limit_headers() -> None:
    limits = openai_limits.parse_rate_limits(
        {
            "x-ratelimit-limit-requests": "500",
            "x-ratelimit-remaining-requests": "499",
            "x-ratelimit-reset-requests": "120ms",
            "x-ratelimit-limit-tokens": "30000",
            "x-ratelimit-remaining-tokens": "29937",
            "x-ratelimit-reset-tokens": "6m0s",
            "retry-after": "1",
        }
    )
    assert (limits.requests_limit, limits.requests_remaining, limits.requests_reset_s) == (
        500,
        499,
        pytest.approx(0.12),
    )
    assert (limits.tokens_limit, limits.tokens_remaining, limits.tokens_reset_s) == (30000, 29937, 360.0)
    assert limits.retry_after_s == 1.0
    assert openai_limits.parse_rate_limits({"x-ratelimit-limit-requests": "lots"}).requests_limit is None
