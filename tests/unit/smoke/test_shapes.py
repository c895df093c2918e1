"""Shapes keep structure, types, header formats and event sequences — never text, ids or keys."""

from __future__ import annotations

import json

import pytest

from harness.smoke.compare import compare_shapes, header_compared
from harness.smoke.shapes import exchange_shape, header_format, json_shape, merge_shapes, stream_shape
from harness.wire.sse import encode_event


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("x-ratelimit-limit-requests", "500", "integer"),
        ("x-ratelimit-reset-tokens", "6m0s", "duration"),
        ("x-ratelimit-reset-requests", "20ms", "duration"),
        ("x-ratelimit-reset-requests", "9.816s", "duration"),
        ("anthropic-ratelimit-requests-reset", "2024-10-10T11:09:42Z", "rfc3339"),
        ("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT", "http-date"),
        ("retry-after", "2.5", "decimal"),
        ("x-should-retry", "true", "boolean"),
        ("content-type", "text/event-stream; charset=utf-8", "media-type:text/event-stream"),
        ("content-type", "application/json; charset=UTF-8", "media-type:application/json"),
        ("x-request-id", "req_8f3c2a", "string"),
    ],
)
def test_header_formats_never_keep_the_value(name: str, value: str, expected: str) -> None:
    assert header_format(name, value) == expected


def test_json_shape_keeps_types_and_vocabulary_not_text_or_ids() -> None:
    body = {
        "id": "chatcmpl-SECRETID",
        "object": "chat.completion",
        "choices": [{"message": {"role": "assistant", "content": "private answer text"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "cost": 0.5, "details": None},
    }
    shape = json_shape(body)
    text = json.dumps(shape)
    assert "SECRETID" not in text
    assert "private answer" not in text
    assert shape["fields"]["object"] == {"type": "string", "values": ["chat.completion"]}
    choice = shape["fields"]["choices"]["items"]["fields"]
    assert choice["message"]["fields"]["role"]["values"] == ["assistant"]
    assert choice["message"]["fields"]["content"] == {"type": "string"}
    assert shape["fields"]["usage"]["fields"]["cost"] == {"type": "number"}
    assert shape["fields"]["usage"]["fields"]["details"] == {"type": "null"}


def test_a_discriminator_value_that_looks_like_text_is_not_kept() -> None:
    shape = json_shape({"type": "a sentence with spaces, not vocabulary"})
    assert shape["fields"]["type"] == {"type": "string"}


def test_merge_unites_types_fields_and_values() -> None:
    a = json_shape({"usage": None, "finish_reason": "stop"})
    b = json_shape({"usage": {"total_tokens": 3}, "finish_reason": "length", "extra": True})
    merged = merge_shapes(a, b)
    assert merged["fields"]["usage"]["type"] == ["null", "object"]
    assert merged["fields"]["usage"]["fields"]["total_tokens"] == {"type": "integer"}
    assert merged["fields"]["finish_reason"]["values"] == ["length", "stop"]
    assert "extra" in merged["fields"]


def _openai_stream() -> list[bytes]:
    def chunk(choices: list[object], usage: object = None) -> bytes:
        data = {"object": "chat.completion.chunk", "choices": choices, "usage": usage}
        return encode_event(json.dumps(data))

    return [
        chunk([{"delta": {"role": "assistant", "content": ""}}]),
        chunk([{"delta": {"content": "Hel"}}]) + chunk([{"delta": {"content": "lo"}}]),  # two events in one read
        chunk([], {"total_tokens": 3}),
        encode_event("[DONE]"),
    ]


def test_stream_sequence_collapses_repeats_and_marks_the_usage_chunk() -> None:
    sequence, events = stream_shape(_openai_stream())
    assert sequence == ["chat.completion.chunk+", "chat.completion.chunk(choices=[])", "[DONE]"]
    assert events["chat.completion.chunk"]["fields"]["usage"]["type"] == ["null", "object"]


def test_anthropic_event_names_are_the_sequence() -> None:
    chunks = [
        encode_event(json.dumps({"type": "message_start"}), "message_start"),
        encode_event(json.dumps({"type": "ping"}), "ping"),
        encode_event(json.dumps({"type": "content_block_delta"}), "content_block_delta"),
        encode_event(json.dumps({"type": "content_block_delta"}), "content_block_delta"),
        encode_event(json.dumps({"type": "message_stop"}), "message_stop"),
    ]
    sequence, _ = stream_shape(chunks)
    assert sequence == ["message_start", "ping", "content_block_delta+", "message_stop"]


def _doc(exchanges: dict[str, object], **extra: object) -> dict[str, object]:
    return {"provider": "openai", "exchanges": exchanges, **extra}


def _plain(body: object, headers: list[tuple[str, str]] | None = None, status: int = 200) -> dict[str, object]:
    headers = headers or [("content-type", "application/json"), ("x-ratelimit-limit-requests", "500")]
    return exchange_shape(status, headers, json.dumps(body).encode(), None)


def test_compare_names_missing_extra_and_retyped_fields_and_headers() -> None:
    ref = _doc({"chat": _plain({"usage": {"total_tokens": 1, "prompt_tokens": 1}, "object": "chat.completion"})})
    fake = _doc(
        {
            "chat": _plain(
                {"usage": {"prompt_tokens": "1", "bonus": 2}, "object": "chat.completions"},
                [("content-type", "application/json"), ("server", "fake")],
            )
        }
    )
    diffs, stale = compare_shapes(ref, fake)
    found = {d.where: (d.reference, d.fake) for d in diffs}
    assert found["chat: body usage.total_tokens"] == ("integer", "missing")
    assert found["chat: body usage.bonus"] == ("missing", "integer")
    assert found["chat: body usage.prompt_tokens"] == ("type integer", "type string")
    assert found["chat: body object values"] == ("chat.completion", "chat.completions")
    assert found["chat: header x-ratelimit-limit-requests"] == ("integer", "missing")
    assert not any("server" in w for w in found)  # infrastructure headers are never compared
    assert stale == []


def test_identical_shapes_have_no_difference() -> None:
    doc = _doc({"chat": _plain({"a": [1, 2], "b": {"c": None}})})
    assert compare_shapes(doc, doc) == ([], [])


def test_optional_fields_headers_and_narrower_types_are_not_differences() -> None:
    ref_body = json_shape({"service_tier": "default", "fingerprint": None})
    ref_body["fields"]["service_tier"]["optional"] = True
    ref_body["fields"]["fingerprint"]["type"] = ["null", "string"]
    headers = {"content-type": ["media-type:application/json"]}
    ref = _doc({"chat": {"status": [200], "headers": headers, "body": ref_body, "optional_headers": ["x-ratelimit-"]}})
    fake = _doc({"chat": _plain({"fingerprint": "fp"})})
    assert compare_shapes(ref, fake) == ([], [])


def test_accepted_differences_carry_their_reason_and_stale_ones_are_reported() -> None:
    ref = _doc(
        {"chat": _plain({"a": 1, "b": 2})},
        accepted=[{"where": "chat*: * a", "why": "known gap"}, {"where": "chat: body z", "why": "gone"}],
    )
    fake = _doc({"chat": _plain({"b": 2})})
    diffs, stale = compare_shapes(ref, fake)
    assert [(d.where, d.accepted) for d in diffs] == [("chat: body a", "known gap")]
    assert stale == ["chat: body z"]


def test_an_exchange_the_fake_did_not_record_is_a_difference() -> None:
    ref = _doc({"chat": _plain({}), "chat_stream": {"status": [200], "headers": {}, "events": ["data+"]}})
    diffs, _ = compare_shapes(ref, _doc({"chat": _plain({})}))
    assert [d.where for d in diffs] == ["chat_stream"]


def test_compared_headers_per_provider() -> None:
    assert header_compared("openai", "x-ratelimit-reset-tokens")
    assert header_compared("anthropic", "anthropic-ratelimit-output-tokens-reset")
    assert not header_compared("openai", "cf-ray")
    assert not header_compared("gemini", "x-ratelimit-limit-requests")
