"""Anthropic wire module, checked against the official SDK's own bytes (httpx2.MockTransport)."""

from __future__ import annotations

import json
from collections.abc import Callable

import anthropic
import httpx2
import pytest

from harness.errors import (
    AuthenticationError,
    BadRequest,
    ContextLengthExceeded,
    NotFound,
    Overloaded,
    PrefillRejected,
    RateLimited,
    ServerError,
)
from harness.pricing import Usage
from harness.wire import anthropic as wire
from harness.wire.formats import format_rfc3339
from harness.wire.neutral import RequestInvalid

Handler = Callable[[httpx2.Request], httpx2.Response]


def sdk(handler: Handler) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url="http://fake",
        api_key="ak-test",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )


def test_the_sdk_request_parses_into_a_neutral_call() -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(
            200, content=wire.message_body("msg_1", "claude-haiku-4-5", "ok", "end_turn", None, 1, 1)
        )

    sdk(handler).messages.create(
        model="claude-haiku-4-5",
        max_tokens=20,
        system="Be brief.",
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "Hello"}]},
            {"role": "assistant", "content": "Hi"},
        ],
        stop_sequences=["END"],
    )
    request = seen[0]
    assert request.url.path == wire.MESSAGES_PATH
    assert request.headers["authorization"] == "Bearer ak-test"  # 2.x; 0.x and LiteLLM send x-api-key
    assert "anthropic-version" in request.headers
    call = wire.parse_messages(json.loads(request.content))
    assert call.messages == (("system", "Be brief."), ("user", "Hello"), ("assistant", "Hi"))
    assert (call.max_tokens, call.stop, call.prefill) == (20, ("END",), True)


def test_the_sdk_reads_a_plain_message_and_so_do_we() -> None:
    body = wire.message_body("msg_abc", "claude-sonnet-4-0", "Hi there", "stop_sequence", "END", 11, 3)
    message = sdk(lambda r: httpx2.Response(200, content=body)).messages.create(
        model="claude-sonnet-4-0", max_tokens=5, messages=[{"role": "user", "content": "x"}]
    )
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hi there"
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "END")
    assert (message.usage.input_tokens, message.usage.output_tokens) == (11, 3)
    ours = wire.parse_message_body(body, {"request-id": "req_7"})
    assert (ours.text, ours.finish_reason, ours.usage, ours.request_id) == (
        "Hi there",
        "stop_sequence",
        Usage(11, 3),
        "req_7",
    )


def stream_bytes() -> bytes:
    enc = wire.MessageStreamEncoder("msg_s", "claude-haiku-4-5")
    return enc.start(9) + enc.text("Hel") + enc.text("lo") + enc.stop("end_turn", None, 9, 2)


def test_the_sdk_streams_the_full_event_sequence() -> None:
    body = stream_bytes()
    client = sdk(lambda r: httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"}))
    with client.messages.stream(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello"
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (9, 2)
    names = [line.split(b": ", 1)[1] for line in body.split(b"\n") if line.startswith(b"event: ")]
    assert names == [
        b"message_start",
        b"content_block_start",
        b"ping",
        b"content_block_delta",
        b"content_block_delta",
        b"content_block_stop",
        b"message_delta",
        b"message_stop",
    ]


def test_our_stream_reader() -> None:
    body = stream_bytes()
    reader = wire.MessageStreamReader()
    events = [e for i in range(0, len(body), 5) for e in reader.feed(body[i : i + 5])] + reader.finish()
    assert "".join(e.text for e in events) == "Hello"
    assert events[0].request_id == "msg_s"
    assert [e.finish_reason for e in events if e.finish_reason] == ["end_turn"]
    assert [e.usage for e in events if e.usage][-1] == Usage(9, 2)
    assert events[-1].done


def test_a_mid_stream_error_event_is_raised_by_the_sdk() -> None:
    enc = wire.MessageStreamEncoder("msg_s", "m")
    body = enc.start(3) + enc.text("Hi") + wire.error_event("overloaded_error", "Overloaded")
    client = sdk(lambda r: httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"}))
    # the status line said 200, so the SDK raises its generic status error carrying the event's body
    with pytest.raises(anthropic.APIStatusError, match="overloaded_error"):
        list(client.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}], stream=True))
    events = wire.MessageStreamReader().feed(body)
    assert events[-1].error is not None
    assert isinstance(wire.error_from_info(events[-1].error), Overloaded)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ("[]", None),
        ({"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
        ({"model": "m", "max_tokens": 5}, "messages"),
        ({"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}, "messages.0.role"),
        ({"model": "m", "max_tokens": 5, "messages": [{"role": "user"}]}, "messages.0.content"),
        (
            {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "text"}]}]},
            "messages.0.content.0.text",
        ),
        (
            {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "temperature": 1.5},
            "temperature",
        ),
        ({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "system": 7}, "system"),
    ],
)
def test_validation_names_the_field(body: object, param: str | None) -> None:
    with pytest.raises(RequestInvalid) as info:
        wire.parse_messages(body)
    assert info.value.param == param
    error = json.loads(wire.invalid_body(info.value, "req_1"))
    assert error["type"] == "error"
    assert error["error"]["type"] == "invalid_request_error"
    assert error["request_id"] == "req_1"
    if param is not None:
        assert error["error"]["message"].startswith(f"{param}: ")


def test_neutral_builder_round_trips_through_the_server_parser() -> None:
    messages = [("system", "S"), ("user", "U")]
    body = wire.build_messages_body("claude-haiku-4-5", messages, max_tokens=5, stream=True, stop=["x"])
    call = wire.parse_messages(json.loads(body))
    assert call.messages == tuple(messages)
    assert (call.max_tokens, call.stream, call.stop) == (5, True, ("x",))


@pytest.mark.parametrize(
    ("status", "type_", "message", "expected"),
    [
        (400, "invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum", ContextLengthExceeded),
        (400, "invalid_request_error", wire.PREFILL_MESSAGE, PrefillRejected),
        (400, "invalid_request_error", "messages: Field required", BadRequest),
        (401, "authentication_error", "invalid x-api-key", AuthenticationError),
        (404, "not_found_error", "model: x", NotFound),
        (429, "rate_limit_error", "slow down", RateLimited),
        (500, "api_error", "Internal server error", ServerError),
        (529, "overloaded_error", "Overloaded", Overloaded),
    ],
)
def test_errors_map_to_the_harness_tree(status: int, type_: str, message: str, expected: type[Exception]) -> None:
    err = wire.error_from_response(status, {"request-id": "req_3", "retry-after": "2"}, wire.error_body(type_, message))
    assert type(err) is expected
    assert (err.status, err.code, err.retry_after_s, err.request_id, err.provider) == (
        status,
        type_,
        2.0,
        "req_3",
        "anthropic",
    )


def test_the_sdk_maps_our_529_to_its_overloaded_error() -> None:
    body = wire.error_body("overloaded_error", "Overloaded", "req_1")
    client = sdk(lambda r: httpx2.Response(529, content=body, headers={"x-should-retry": "true"}))
    with pytest.raises(anthropic.OverloadedError):
        client.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}])


def test_rate_limit_headers_input_and_output_separately() -> None:
    now = 1_795_752_000.0
    p = "anthropic-ratelimit-"
    limits = wire.parse_rate_limits(
        {
            p + "requests-limit": "50",
            p + "requests-remaining": "49",
            p + "requests-reset": format_rfc3339(now + 30),
            p + "input-tokens-limit": "40000",
            p + "input-tokens-remaining": "39000",
            p + "input-tokens-reset": format_rfc3339(now + 2),
            p + "output-tokens-limit": "8000",
            p + "output-tokens-remaining": "7990",
            p + "output-tokens-reset": "garbage",
        },
        now,
    )
    assert (limits.requests_limit, limits.requests_remaining, limits.requests_reset_s) == (50, 49, 30.0)
    assert (limits.input_tokens_limit, limits.input_tokens_remaining, limits.input_tokens_reset_s) == (
        40000,
        39000,
        2.0,
    )
    assert (limits.output_tokens_limit, limits.output_tokens_remaining, limits.output_tokens_reset_s) == (
        8000,
        7990,
        None,
    )
