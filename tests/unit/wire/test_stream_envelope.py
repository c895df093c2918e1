"""The OpenAI stream reader's envelope and batches read exactly what the reader of record reads.

``ChatStreamReader`` keeps the bytes around a parsed text chunk's content string (its envelope) and
reads later chunks made of the same bytes around a plain string by comparing bytes; ``feed_batch``
returns runs of plain text chunks as one event with ``texts``. Both are held here to the reader of
record (``ChatStreamReader._event`` on each message of the SSE parser) on streams that mix every
kind of event, whole and sliced, and to the stream assembler's result.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from harness.client.adapters import OpenAIAdapter
from harness.client.streaming import StreamAssembler
from harness.errors import StreamBroken
from harness.wire import openai as wire
from harness.wire import openai_answers, openai_client
from harness.wire.neutral import StreamEvent
from harness.wire.sse import SSEParser, truncate_event

PIECES = ["Hello", " wor", "", 'ld "quoted"', " back\\slash", " naïve", " \x00ctrl", " 🙂", " end", " tab\t", " ok"]


def reference(body: bytes) -> list[StreamEvent]:
    parser = SSEParser()
    return [openai_client.ChatStreamReader._event(m.data) for m in parser.feed(body) + parser.finish()]


def stream(pieces: list[str], extra: bytes = b"", usage: bool = True, cid: str = "chatcmpl-1") -> bytes:
    enc = openai_answers.ChatStreamEncoder(cid, "gpt-4o-mini", 1_800_000_000, usage)
    body = enc.role() + b"".join(enc.texts(pieces)) + extra + b"".join(enc.texts(pieces[::-1])) + enc.finish("stop")
    if usage:
        body += enc.usage(12, 34)
    return body + wire.DONE


def plain(e: StreamEvent) -> bool:
    """Text, id and model only (a batch's ``texts`` may be empty: a run of chunks with empty text)."""
    return e.finish_reason is None and e.usage is None and e.error is None and not (e.done or e.tools or e.thinking)


def meaning(events: list[StreamEvent]) -> tuple[list[str], list[StreamEvent], Any, Any]:
    """What the assembler takes from events: the texts, the other events in order, first id, last model."""
    texts: list[str] = []
    others: list[StreamEvent] = []
    first_id = last_model = None
    for e in events:
        if plain(e):
            texts += e.texts if e.texts else [e.text] if e.text else []
            first_id = first_id if first_id is not None else e.request_id
            last_model = e.model if e.model is not None else last_model
        else:
            others.append(e)
            texts.append("|")  # where the other event stands among the texts
    return texts, others, first_id, last_model


def read_sliced(body: bytes, rng: random.Random, batch: bool) -> list[StreamEvent]:
    reader = openai_client.ChatStreamReader()
    feed = reader.feed_batch if batch else reader.feed
    events: list[StreamEvent] = []
    i = 0
    while i < len(body):
        step = rng.choice([1, 7, 60, 300, 5000])
        events += feed(body[i : i + step])
        i += step
    return events + reader.finish()


@pytest.mark.parametrize("usage", [False, True])
def test_whole_and_sliced_streams_read_as_the_reader_of_record(usage: bool) -> None:
    body = stream(PIECES, usage=usage)
    expected = reference(body)
    reader = openai_client.ChatStreamReader()
    assert reader.feed(body) == expected
    assert reader._learned >= 1  # the envelope was learned and used
    assert meaning(openai_client.ChatStreamReader().feed_batch(body)) == meaning(expected)
    rng = random.Random(5)
    for _ in range(20):
        assert read_sliced(body, rng, False) == expected
        assert meaning(read_sliced(body, rng, True)) == meaning(expected)


def test_a_batch_is_one_event_for_a_run_of_text_chunks() -> None:
    body = stream(["a", " b", " c"], usage=False)
    events = openai_client.ChatStreamReader().feed_batch(body)
    assert [list(e.texts) for e in events] == [["a", " b", " c", " c", " b", "a"], [], []]
    assert events[0].request_id == "chatcmpl-1"
    assert events[0].model == "gpt-4o-mini"
    assert events[1].finish_reason == "stop"
    assert events[2].done


@pytest.mark.parametrize(
    "odd",
    [
        b'data: {"error":{"message":"Overloaded","type":"server_error","code":null}}\n\n',
        b'data: {"id":"other","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"x"},'
        b'"finish_reason":null}],"usage":null}\n\n',  # another envelope: parsed, then learned
        b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"a","x":{"content":"b"}},'
        b'"finish_reason":null}]}\n\n',  # a second "content" key: the envelope check refuses the wrong one
        b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"\xff\xfe"},"finish_reason":null}]}\n\n',
        b": a comment\n\n",
        b'data: {"id":"c",\r\ndata: "choices":[]}\r\n\r\n',
    ],
)
def test_unusual_events_between_learned_chunks(odd: bytes) -> None:
    body = stream(PIECES, odd, usage=False)
    try:
        expected = reference(body)
    except StreamBroken:
        for batch in (False, True):
            reader = openai_client.ChatStreamReader()
            with pytest.raises(StreamBroken):
                reader.feed_batch(body) if batch else reader.feed(body)
        return
    reader = openai_client.ChatStreamReader()
    assert reader.feed(body) + reader.finish() == expected
    assert meaning(openai_client.ChatStreamReader().feed_batch(body)) == meaning(expected)


def test_a_chunk_that_breaks_the_envelope_is_parsed_and_a_malformed_one_raises() -> None:
    enc = openai_answers.ChatStreamEncoder("chatcmpl-1", "gpt-4o-mini", 1, False)
    good = enc.texts(["one", " two", " three"])
    for broken in (truncate_event(enc.text(" four")), enc.text(" four")[:-3] + b"\n\n"):
        body = enc.role() + b"".join(good) + broken + enc.text(" five")
        with pytest.raises(StreamBroken):
            reference(body)
        for batch in (False, True):
            reader = openai_client.ChatStreamReader()
            with pytest.raises(StreamBroken):
                reader.feed_batch(body) if batch else reader.feed(body)
    # a string the envelope cannot read plainly (an escape, a control character) is parsed instead
    body = enc.role() + b"".join(good) + enc.text(' "q"') + enc.text("\x7f") + enc.text(" é")
    assert openai_client.ChatStreamReader().feed(body) == reference(body)


def test_the_assembler_reads_batches_to_the_same_answer() -> None:
    body = stream(PIECES)
    expected = [e.text for e in reference(body) if e.text]
    assembler = StreamAssembler(OpenAIAdapter(), "gpt-4o-mini")
    deltas = assembler.feed(body) + assembler.end()
    assert deltas == expected
    assert assembler.text == "".join(expected)
    assert assembler.request_id == "chatcmpl-1"
    assert assembler.answer_model == "gpt-4o-mini"
    assert assembler.finish == "stop"
    assert assembler.done
