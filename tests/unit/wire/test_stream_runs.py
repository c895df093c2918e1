"""A stream's text chunks read and written as runs give exactly what the chunk-by-chunk paths give.

The OpenAI reader reads a run of envelope chunks with a few C-level calls (``ChatStreamReader._run``:
one split, one join, one comparison), and events whose shape it does not know go back to the SSE
parser of record (``SSEParser.take_events`` / ``feed_events``); the encoder writes a stream's plain
text chunks with one join (``ChatStreamEncoder.joined_texts``); the provider plans a stream whose
text events are all due at once as one write. Each is held here to its path of record on random
streams that mix every kind of event (text the envelope cannot read plainly, other envelopes,
errors, comments, CRs, multi-line data, malformed chunks), whole and in any slicing.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from fake_provider.config import ModelConfig, ProviderConfig
from fake_provider.core import ProviderCore, ProviderRequest
from harness.clock import ManualClock
from harness.distributions import Distribution
from harness.errors import StreamBroken
from harness.pricing import ModelPrice
from harness.wire import openai as wire
from harness.wire import openai_answers, openai_client
from harness.wire.neutral import StreamEvent
from harness.wire.sse import SSEMessage, SSEParser, truncate_event

PLAIN = ["Hello", " wor", "ld", "", " a", " b,", " c.", " 42", " {x}", " [y]", " ~!"]
ODD_TEXT = ['"q"', "back\\slash", "naïve", "\x00", "\x7f", "🙂", "tab\t", "new\nline"]
ODD_EVENTS = [
    b'data: {"error":{"message":"Overloaded","type":"server_error","code":null}}\n\n',
    b'data: {"id":"other","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"x"},'
    b'"finish_reason":null}],"usage":null}\n\n',
    b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"a","x":{"content":"b"}},"finish_reason":null}]}\n\n',
    b": a comment\n\n",
    b'data: {"id":"c",\ndata: "choices":[]}\n\n',
    b"event: ping\ndata: {}\n\n",
    b'data: {"id":"c",\r\ndata: "choices":[]}\r\n\r\n',
    b"\n",
]


def reference(body: bytes) -> list[StreamEvent]:
    """Event by event: the SSE parser of record, then the reader of record."""
    parser = SSEParser()
    return [openai_client.ChatStreamReader._event(m.data) for m in parser.feed(body) + parser.finish()]


def meaning(events: list[StreamEvent]) -> tuple[list[str], list[StreamEvent], Any, Any]:
    """What the assembler takes from events: the texts, the other events in order, first id, last model."""
    texts: list[str] = []
    others: list[StreamEvent] = []
    first_id = last_model = None
    for e in events:
        if e.finish_reason is None and e.usage is None and e.error is None and not (e.done or e.tools):
            texts += e.texts if e.texts else [e.text] if e.text else []
            first_id = first_id if first_id is not None else e.request_id
            last_model = e.model if e.model is not None else last_model
        else:
            others.append(e)
            texts.append("|")
    return texts, others, first_id, last_model


def random_stream(rng: random.Random) -> bytes:
    """A stream of runs of text chunks (mostly plain) with odd events and other envelopes between."""
    enc = openai_answers.ChatStreamEncoder(f"chatcmpl-{rng.randrange(99)}", "gpt-4o-mini", 1, rng.random() < 0.5)
    parts = [enc.role()]
    for _ in range(rng.randrange(1, 5)):
        pieces = [rng.choice(ODD_TEXT if rng.random() < 0.1 else PLAIN) for _ in range(rng.randrange(0, 30))]
        parts.append(enc.joined_texts(pieces))
        roll = rng.random()
        if roll < 0.4:
            parts.append(rng.choice(ODD_EVENTS))
        elif roll < 0.5:  # a chunk another encoder wrote: another envelope
            other = openai_answers.ChatStreamEncoder("chatcmpl-x", "gpt-4o", 2, False)
            parts.append(other.joined_texts(rng.sample(PLAIN, 3)))
        elif roll < 0.55:
            parts.append(truncate_event(enc.text(" cut")))
    parts.append(enc.finish("stop"))
    if enc.include_usage:
        parts.append(enc.usage(3, 4))
    return b"".join(parts) + wire.DONE


def read(body: bytes, rng: random.Random | None, batch: bool) -> list[StreamEvent]:
    """``body`` through one reader, whole (``rng`` None) or in random slices."""
    reader = openai_client.ChatStreamReader()
    feed = reader.feed_batch if batch else reader.feed
    if rng is None:
        return feed(body) + reader.finish()
    events: list[StreamEvent] = []
    i = 0
    while i < len(body):
        step = rng.choice([1, 9, 100, 700, 5000])
        events += feed(body[i : i + step])
        i += step
    return events + reader.finish()


@pytest.mark.parametrize("seed", range(40))
def test_random_streams_read_as_the_reader_of_record(seed: int) -> None:
    rng = random.Random(seed)
    body = random_stream(rng)
    try:
        expected = reference(body)
    except StreamBroken:
        for slicing in (None, rng):
            for batch in (False, True):
                with pytest.raises(StreamBroken):
                    read(body, slicing, batch)
        return
    assert read(body, None, False) == expected
    assert meaning(read(body, None, True)) == meaning(expected)
    for _ in range(5):
        assert read(body, rng, False) == expected
        assert meaning(read(body, rng, True)) == meaning(expected)


def test_a_whole_stream_is_read_in_one_run() -> None:
    enc = openai_answers.ChatStreamEncoder("chatcmpl-7", "gpt-4o-mini", 1, True)
    pieces = [PLAIN[i % len(PLAIN)] for i in range(300)]
    body = enc.role() + enc.joined_texts(pieces) + enc.finish("length") + enc.usage(5, 300) + wire.DONE
    runs: list[int] = []

    class Counting(openai_client.ChatStreamReader):
        def _run(self, events: bytes, pos: int) -> tuple[list[str], int]:
            runs.append(pos)
            return super()._run(events, pos)

    events = Counting().feed_batch(body)
    assert len(runs) == 1  # the first text chunk taught the envelope; every later one came in one run
    assert [len(e.texts) for e in events] == [len([p for p in pieces if p]), 0, 0, 0]  # the role's text is ""
    assert meaning(events) == meaning(reference(body))


@pytest.mark.parametrize(
    "broken",
    [
        lambda head, tail, text: head + text + tail[:-1],  # the envelope's end cut short
        lambda head, tail, text: head + text + b'"' + tail,  # a quote more
        lambda head, tail, text: head[1:] + text + tail,  # the envelope's start changed
        lambda head, tail, text: head + text + tail + tail,  # the envelope's end twice
        lambda head, tail, text: head + b'{"content":"' + text + tail,  # the split key inside the chunk
    ],
)
def test_a_run_stops_at_a_chunk_that_is_not_its_envelope(broken: Any) -> None:
    enc = openai_answers.ChatStreamEncoder("chatcmpl-3", "gpt-4o-mini", 1, False)
    event = enc.text("zz")
    head, tail = event[6 : event.index(b"zz")], event[event.index(b"zz") + 2 : -2]
    odd = b"data: " + broken(head, tail, b"mid") + b"\n\n"
    for at in (0, 1, 5, 19, 60):
        pieces = [f" w{i}" for i in range(80)]
        body = enc.role() + enc.joined_texts(pieces[: at + 1]) + odd + enc.joined_texts(pieces[at + 1 :])
        body += enc.finish("stop") + wire.DONE
        try:
            expected = reference(body)
        except StreamBroken:
            with pytest.raises(StreamBroken):
                read(body, None, True)
            continue
        assert read(body, None, False) == expected
        assert meaning(read(body, None, True)) == meaning(expected)


def test_take_events_and_feed_events_parse_as_feed() -> None:
    rng = random.Random(3)
    for _ in range(30):
        body = random_stream(rng) + b"data: tail"
        record = SSEParser()
        expected = record.feed(body) + record.finish()
        parser = SSEParser()
        got: list[SSEMessage] = []
        i = 0
        while i < len(body):
            step = rng.choice([1, 13, 200, 4000])
            taken = parser.take_events(body[i : i + step])
            if type(taken) is bytes:
                start = 0
                while start < len(taken) and taken.startswith(b"data: ", start):
                    end = taken.index(b"\n\n", start)
                    if b"\n" in taken[start:end]:
                        break
                    got.append(SSEMessage(None, taken[start + 6 : end].decode("utf-8", "replace")))
                    start = end + 2
                got += parser.feed_events(taken[start:])
            else:
                got += taken
            i += step
        assert got + parser.finish() == expected


def test_the_joined_texts_are_the_texts_of_record() -> None:
    rng = random.Random(11)
    for include_usage in (False, True):
        enc = openai_answers.ChatStreamEncoder("chatcmpl-9", 'model "x"', 5, include_usage)
        assert enc.joined_texts([]) == b""
        for _ in range(50):
            pieces = [rng.choice(ODD_TEXT if rng.random() < 0.05 else PLAIN) for _ in range(rng.randrange(1, 40))]
            assert enc.joined_texts(pieces) == b"".join(enc.text(p) for p in pieces)


def _stream_plan(inter_chunk: Distribution, body: dict[str, Any]) -> Any:
    model = ModelConfig("gpt-4o-mini", "openai", ModelPrice.per_million(1, 1), inter_chunk=inter_chunk)
    core = ProviderCore(ProviderConfig(models=(model,)), clock=ManualClock(100.0), wall_clock=lambda: 1.8e9)
    data = json.dumps(body).encode()
    return core.handle(ProviderRequest("POST", wire.CHAT_PATH, "", {"authorization": "Bearer sk"}, data)).plan


@pytest.mark.parametrize("usage", [False, True])
def test_a_stream_due_at_once_is_one_text_write_with_the_same_bytes_and_tokens(usage: bool) -> None:
    body = {
        "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Tell me"}], "max_tokens": 40,
        "stream": True, "stream_options": {"include_usage": usage},
    }  # fmt: skip
    at_once = _stream_plan(Distribution.fixed(0.0), body)
    timed = _stream_plan(Distribution.fixed(0.001), body)
    assert at_once.chunks is not None
    assert timed.chunks is not None
    assert b"".join(c.data for c in at_once.chunks) == b"".join(c.data for c in timed.chunks)
    assert sum(c.tokens for c in at_once.chunks) == sum(c.tokens for c in timed.chunks) == 40
    assert [c.delay_s for c in at_once.chunks] == [0.0, 0.0, 0.0]  # role, the texts, the end
    assert len(timed.chunks) == 42
