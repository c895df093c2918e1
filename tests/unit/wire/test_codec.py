"""The client side's JSON: orjson where it can, the standard library for everything orjson refuses."""

from __future__ import annotations

import json

import pytest

from harness.errors import StreamBroken
from harness.wire import codec, openai_client


def test_bodies_are_compact_json_with_the_same_value() -> None:
    value = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "héllo, 世界"}], "max_tokens": 16}
    body = codec.dumps(value)
    assert body == json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    assert json.loads(body) == value


def test_what_orjson_refuses_is_encoded_by_the_standard_library() -> None:
    lone = "broken \ud800 surrogate"  # orjson refuses it; json escapes it (as the client always did)
    assert json.loads(codec.dumps({"content": lone})) == {"content": lone}
    huge = 2**70  # past orjson's 64-bit integers
    assert json.loads(codec.dumps({"n": huge})) == {"n": huge}


def test_what_orjson_cannot_read_is_read_by_the_standard_library() -> None:
    assert codec.loads(b'{"x": NaN}')["x"] != codec.loads(b'{"x": NaN}')["x"]  # NaN: json accepts the literal
    assert codec.loads(b'{"n": 12345678901234567890123}')["n"] == pytest.approx(1.2345678901234568e22)  # documented
    assert codec.loads('{"a": 1}'.encode("utf-16")) == {"a": 1}  # json detects UTF-16
    for bad in (b"", b"{", b"\xff\xfe\xfd", b"[1,]"):
        with pytest.raises(ValueError):
            codec.loads(bad)


def test_a_malformed_completion_is_still_a_broken_stream() -> None:
    with pytest.raises(StreamBroken, match="malformed chat completion"):
        openai_client.parse_chat_body(b'{"choices": []}')
    with pytest.raises(StreamBroken):
        openai_client.parse_chat_body(b"\xff not json")


def test_the_request_builder_accepts_pairs_and_message_objects() -> None:
    class Msg:
        role, content = "user", "hi"

    pairs = openai_client.build_chat_body("m", [("user", "hi")], max_tokens=3)
    objects = openai_client.build_chat_body("m", [Msg()], max_tokens=3)
    assert pairs == objects == b'{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":3}'
