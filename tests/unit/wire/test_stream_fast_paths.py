"""The one-pass stream paths give exactly what the event-by-event paths give.

Virtual time delivers a whole stream in one read; the OpenAI reader then reads every event in one pass
and the encoder builds every text event at once. These tests hold them to the reader and encoder of
record (``ChatStreamReader._event`` on each parsed message, ``ChatStreamEncoder.text``) on streams
that mix every kind of event, in one read and in any slicing.
"""

from __future__ import annotations

import dataclasses
import json
import random

import pytest

from harness.errors import StreamBroken
from harness.records import AttemptRecord, OutcomeRecord, ProviderRecord, dump_jsonl, to_dict
from harness.wire import anthropic, openai_answers, openai_client
from harness.wire import openai as wire
from harness.wire.formats import SHORT_STRING, json_string_bytes
from harness.wire.neutral import StreamEvent
from harness.wire.sse import SSEMessage, SSEParser

PIECES = ["Hello", " wor", 'ld "quoted"', " back\\slash", " naïve", " 日本", " \x00ctrl\n", "", " 🙂", " end"]
LONG = ' a piece longer than the cached ones, "quoted", with a back\\slash and ünïcode'  # past SHORT_STRING


def reference(body: bytes) -> list[StreamEvent]:
    """Event by event, through the SSE parser and the reader of record."""
    parser = SSEParser()
    messages = parser.feed(body) + parser.finish()
    return [openai_client.ChatStreamReader._event(m.data) for m in messages]


def stream(include_usage: bool, extra: bytes = b"") -> bytes:
    enc = openai_answers.ChatStreamEncoder("chatcmpl-1", "gpt-4o-mini", 1_800_000_000, include_usage)
    body = enc.role() + b"".join(enc.texts(PIECES)) + extra + enc.finish("length")
    if include_usage:
        body += enc.usage(12, 34)
    return body + wire.DONE


def test_the_encoder_builds_the_same_bytes_in_one_pass() -> None:
    for include_usage in (False, True):
        enc = openai_answers.ChatStreamEncoder("chatcmpl-9", 'model "x"', 5, include_usage)
        assert enc.texts(PIECES) == [enc.text(p) for p in PIECES]
        assert enc.texts([LONG, *PIECES, LONG]) == [enc.text(p) for p in [LONG, *PIECES, LONG]]
    assert enc.texts([]) == []


def test_cached_quoting_and_cached_events_are_the_bytes_of_record() -> None:
    assert len(LONG) > SHORT_STRING
    for piece in [*PIECES, LONG, *PIECES, LONG]:  # twice: built, then taken from the cache
        assert json_string_bytes(piece) == json.dumps(piece).encode()
        delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}
        record = f"event: content_block_delta\ndata: {json.dumps(delta, separators=(',', ':'))}\n\n".encode()
        assert anthropic.MessageStreamEncoder.text(piece) == record


@pytest.mark.parametrize("include_usage", [False, True])
def test_one_read_of_a_whole_stream_gives_the_events_of_record(include_usage: bool) -> None:
    body = stream(include_usage)
    events = openai_client.ChatStreamReader().feed(body)
    assert events == reference(body)
    assert "".join(e.text for e in events) == "".join(PIECES)
    assert events[-1].done


def test_any_slicing_gives_the_same_events() -> None:
    body = stream(True)
    expected = reference(body)
    rng = random.Random(3)
    for _ in range(30):
        reader = openai_client.ChatStreamReader()
        events: list[StreamEvent] = []
        i = 0
        while i < len(body):
            step = rng.randint(1, 200)
            events += reader.feed(body[i : i + step])
            i += step
        assert events + reader.finish() == expected


@pytest.mark.parametrize(
    "odd",
    [
        b'data: {"error":{"message":"Overloaded","type":"server_error","code":null}}\n\n',  # a mid-stream error
        b'data: {"id":"c","choices":[],"usage":null}\n\n',  # no choices
        b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null},'
        b'{"index":1,"delta":{"content":"b"},"finish_reason":null}]}\n\n',  # two choices: the first is read
        b'data: {"id":"c","choices":[{"index":0,"delta":null,"finish_reason":null}]}\n\n',  # a null delta
        b'data: {"id":"c","error":null,"choices":[{"index":0,"delta":{},"finish_reason":null}]}\n\n',
        # not UTF-8
        b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"\xff\xfe"},"finish_reason":null}]}\n\n',
        b": a comment\n\n",  # not a data line: the line-by-line path
        b"event: ping\ndata: {}\n\n",  # an event name
        b'data: {"id":"c",\r\ndata: "choices":[]}\r\n\r\n',  # CRs and a two-line payload
    ],
)
def test_unusual_events_read_as_the_reader_of_record_reads_them(odd: bytes) -> None:
    body = stream(False, odd)
    try:
        expected = reference(body)
    except StreamBroken:
        with pytest.raises(StreamBroken):
            openai_client.ChatStreamReader().feed(body)
        return
    reader = openai_client.ChatStreamReader()
    assert reader.feed(body) + reader.finish() == expected


def test_a_malformed_event_raises_after_the_events_before_it() -> None:
    enc = openai_answers.ChatStreamEncoder("chatcmpl-1", "gpt-4o-mini", 1, False)
    body = enc.role() + enc.text("ok") + b'data: {"id":"chatcmpl-1","choi\n\n' + enc.text("never")
    with pytest.raises(StreamBroken):
        openai_client.ChatStreamReader().feed(body)
    with pytest.raises(StreamBroken):
        reference(body)


def test_take_events_keeps_partial_events_for_the_next_read() -> None:
    parser = SSEParser()
    assert parser.take_events(b"data: a\n\ndata: b") == b"data: a\n\n"
    assert parser.take_events(b"c\n\n") == b"data: bc\n\n"
    assert parser.feed_events(parser.take_events(b"event: x\ndata: y\n\n")) == [SSEMessage("x", "y")]
    assert parser.take_events(b"") == []


def test_records_convert_as_asdict_does() -> None:
    provider = ProviderRecord(3, 1.5, 1.8e9, "key:ab", None, "req-1", "lr-1", 0, "openai.chat", "m", True, 200, 10)
    attempt = AttemptRecord(0, 1.0, 2.0, "m", 503, "ServerError", "req-1", 1.5, 0.25, "0.001")
    outcome = OutcomeRecord("lr-1", False, "ServerError", 1.0, 2.5, "m", attempts=(attempt, attempt))
    for record in (provider, outcome):
        assert to_dict(record) == dataclasses.asdict(record)
    assert dump_jsonl([provider, outcome]).count("\n") == 2


def test_the_encoder_quotes_a_piece_the_same_every_time() -> None:
    enc = openai_answers.ChatStreamEncoder("chatcmpl-2", "gpt-4o-mini", 7, True)
    first = enc.texts(PIECES * 2)
    assert first == [enc.text(p) for p in PIECES * 2]
    assert enc.texts(PIECES) == first[: len(PIECES)]
