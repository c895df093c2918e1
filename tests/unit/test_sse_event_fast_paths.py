"""The SSE parser's whole-event fast path reads what its line-by-line path reads (issue 19).

:meth:`SSEParser.feed` reads whole events of one ``data:`` line, or of one ``event:`` line and one
``data:`` line (Anthropic's framing), without going line by line. Any stream of lines in the shapes
providers send and the shapes around them (comments, fields without their space, several data lines,
an event line alone, empty values, bytes that are not UTF-8, CRs), fed cut anywhere, gives the
messages the parser of record gives (the parser before this fast path, which read any stream with a
named event line by line, ``SSEParser._line`` on every line).

:meth:`MessageStreamReader._event` reads a text delta whose text is a plain JSON string without parsing
it (``anthropic._PLAIN_TEXT_DELTA``): any delta event (texts with quotes, escapes, non-ASCII; odd
indices; other delta kinds, extra keys, spaces, cut or padded payloads; other event names) reads as the
parser of record reads it, errors included.
"""

from __future__ import annotations

import json
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.errors import StreamBroken
from harness.wire import anthropic
from harness.wire.anthropic import MessageStreamReader
from harness.wire.neutral import StreamEvent
from harness.wire.sse import SSEMessage, SSEParser

_value = st.one_of(
    st.sampled_from([b"", b"{}", b'{"type":"ping"}', b"[DONE]", b" lead", b"a:b", b"\xff\xfe", b"caf\xc3\xa9"]),
    st.binary(max_size=6).filter(lambda b: b"\n" not in b and b"\r" not in b),
)
_line = st.one_of(
    st.tuples(st.sampled_from([b"data: ", b"event: ", b"data:", b"event:", b": ", b"id: ", b"data:  "]), _value).map(
        b"".join
    ),
    st.just(b""),
)
_block = st.one_of(
    st.tuples(st.just(b"event: "), _value, st.just(b"\ndata: "), _value, st.just(b"\n\n")).map(b"".join),
    st.tuples(st.just(b"data: "), _value, st.just(b"\n\n")).map(b"".join),
    st.lists(_line, min_size=1, max_size=4).map(lambda lines: b"\n".join(lines) + b"\n"),
)


class _ParserOfRecord(SSEParser):
    """The parser as it was before named events took the fast path: the rule of record."""

    __slots__ = ()

    def feed(self, chunk: bytes) -> list[SSEMessage]:
        if not chunk:
            return []
        if self._pending_cr:
            self._pending_cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        data = self._buffer + chunk
        if b"\r" not in data and not self._data and self._event is None:
            blocks = data.split(b"\n\n")
            rest = blocks.pop()
            fast: list[SSEMessage] = []
            for block in blocks:
                if block[:6] != b"data: " or b"\n" in block:
                    break
                fast.append(SSEMessage(None, block[6:].decode("utf-8", "replace")))
            else:
                self._buffer = rest
                return fast
        if b"\r" in data:
            if data.endswith(b"\r"):
                self._pending_cr = True
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = data.split(b"\n")
        self._buffer = lines.pop()
        out: list[SSEMessage] = []
        for raw in lines:
            self._line(raw, out)
        return out


def _read(parser: SSEParser, stream: bytes, cuts: list[int]) -> list[SSEMessage]:
    got: list[SSEMessage] = []
    last = 0
    for cut in [*cuts, len(stream)]:
        got += parser.feed(stream[last:cut])
        last = cut
    return got + parser.finish()


@given(
    blocks=st.lists(_block, max_size=12),
    crlf=st.booleans(),
    tail=st.sampled_from([b"", b"event: x", b"data: y", b"event: x\ndata: y\n", b"\n"]),
    data=st.data(),
)
@settings(max_examples=500, deadline=None)
def test_feed_reads_what_the_line_parser_reads_however_cut(
    blocks: list[bytes], crlf: bool, tail: bytes, data: st.DataObject
) -> None:
    stream = b"".join(blocks) + tail
    if crlf and stream:
        stream = stream.replace(b"\n", b"\r\n", data.draw(st.integers(1, 3)))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    assert _read(SSEParser(), stream, cuts) == _read(_ParserOfRecord(), stream, cuts)


def test_named_events_take_the_fast_path() -> None:
    parser = SSEParser()
    stream = b'event: message_start\ndata: {"a":1}\n\nevent: ping\ndata: {}\n\ndata: [DONE]\n\nevent: x'
    assert parser.feed(stream) == [
        SSEMessage("message_start", '{"a":1}'),
        SSEMessage("ping", "{}"),
        SSEMessage(None, "[DONE]"),
    ]
    assert parser._buffer == b"event: x"  # the fast path kept the incomplete event's bytes whole


# ------------------------------------------------------------------------------------------ Anthropic text deltas

_texts = st.one_of(
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12),
    st.text(max_size=12),
    st.sampled_from(["", " word", 'say "hi"', "back\\slash", "tab\there", "naïve", "🙂", "\x00"]),
)
_indices = st.one_of(
    st.integers(0, 50), st.integers(0, 10**20), st.sampled_from(["-1", "01", "00", "1.0", "1e2", '"0"', "null"])
)


def _delta(text: str, index: object, kind: str, spaced: bool, extra: bool) -> str:
    delta: dict[str, object] = {"type": kind, "text": text} if kind != "input_json_delta" else {"type": kind}
    if kind == "input_json_delta":
        delta["partial_json"] = text
    if extra:
        delta["more"] = "x"  # a string last: a pattern that let a quote in would read past the text
    head = '{"type":"content_block_delta","index":' + str(index) + ',"delta":'
    body = head + json.dumps(delta, separators=(",", ":"), ensure_ascii=False) + "}"
    return body.replace(",", ", ") if spaced else body


def _read_delta(reader: MessageStreamReader, name: str, data: str) -> object:
    try:
        return reader._event(name, data)
    except StreamBroken as exc:
        return ("StreamBroken", str(exc))


@given(
    text=_texts,
    index=_indices,
    kind=st.sampled_from(["text_delta"] * 6 + ["thinking_delta", "input_json_delta", "other"]),
    spaced=st.sampled_from([False] * 5 + [True]),
    extra=st.sampled_from([False] * 5 + [True]),
    cut=st.sampled_from([None] * 8 + [-1, -2, 5]),
    name=st.sampled_from(["content_block_delta"] * 6 + ["content_block_start", "ping"]),
)
@settings(max_examples=500, deadline=None)
def test_plain_text_deltas_read_as_the_parsed_ones(
    text: str, index: object, kind: str, spaced: bool, extra: bool, cut: int | None, name: str
) -> None:
    data = _delta(text, index, kind, spaced, extra)
    if cut is not None:
        data = data[:cut] if cut < 0 else data + "}" * cut
    record = MessageStreamReader()
    with patch.object(anthropic, "_PLAIN_TEXT_DELTA", lambda _data: None):  # the parser of record
        expected = _read_delta(record, name, data)
    assert _read_delta(MessageStreamReader(), name, data) == expected


def test_the_providers_text_delta_takes_the_plain_path() -> None:
    event = anthropic.MessageStreamEncoder.text(" word")
    data = event.split(b"data: ", 1)[1].rstrip(b"\n").decode()
    assert anthropic._PLAIN_TEXT_DELTA(data) is not None
    assert MessageStreamReader()._event("content_block_delta", data) == StreamEvent(text=" word")
