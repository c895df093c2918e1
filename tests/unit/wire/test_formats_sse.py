"""Shared wire pieces: durations, timestamps, retry hints, SSE framing and parsing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.wire.formats import (
    format_go_duration,
    format_google_duration,
    format_http_date,
    format_rfc3339,
    json_string,
    parse_go_duration,
    parse_google_duration,
    parse_http_date,
    parse_retry_after,
    parse_rfc3339,
)
from harness.wire.sse import SSEMessage, SSEParser, encode_event


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("20ms", 0.02),
        ("1s", 1.0),
        ("6m0s", 360.0),
        ("9.816s", 9.816),
        ("1h2m3s", 3723.0),
        ("1.5µs", 1.5e-6),
        ("0", 0.0),
    ],
)
def test_go_durations_as_openai_sends_them(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "ms", "5", "1x", "1s2", " s", "-1s", "1s 2s"])
def test_unreadable_go_durations_give_none(bad: str) -> None:
    assert parse_go_duration(bad) is None


@pytest.mark.parametrize(("seconds", "text"), [(0.02, "20ms"), (1, "1s"), (360, "6m0s"), (9.816, "9.816s"), (0, "0s")])
def test_go_duration_formatting(seconds: float, text: str) -> None:
    assert format_go_duration(seconds) == text


@given(st.integers(min_value=1, max_value=10 * 3600 * 1000))
def test_go_duration_round_trip_at_millisecond_precision(ms: int) -> None:
    assert parse_go_duration(format_go_duration(ms / 1000)) == pytest.approx(ms / 1000, abs=1e-9)


def test_google_durations() -> None:
    assert format_google_duration(47) == "47s"
    assert format_google_duration(0.3) == "0.300s"
    assert parse_google_duration("0.300s") == pytest.approx(0.3)
    assert parse_google_duration("47s") == 47
    assert parse_google_duration("47") is None
    assert parse_google_duration(47) is None
    assert parse_google_duration("-1s") is None


def test_timestamps_round_trip() -> None:
    wall = 1_795_752_337.0
    assert format_rfc3339(wall) == "2026-11-27T04:05:37Z"
    assert parse_rfc3339(format_rfc3339(wall)) == wall
    assert parse_rfc3339("not a date") is None
    assert parse_http_date(format_http_date(wall)) == wall
    assert parse_http_date("garbage") is None


def test_retry_after_prefers_milliseconds_then_seconds_then_date() -> None:
    now = 1_795_752_337.0
    assert parse_retry_after({"retry-after-ms": "300", "retry-after": "2"}, now) == pytest.approx(0.3)
    assert parse_retry_after({"retry-after": "2"}, now) == 2
    assert parse_retry_after({"retry-after": "1.5"}, now) == 1.5
    assert parse_retry_after({"retry-after": format_http_date(now + 30)}, now) == pytest.approx(30)
    assert parse_retry_after({"retry-after-ms": "junk", "retry-after": "4"}, now) == 4
    assert parse_retry_after({"retry-after": "-3"}, now) is None
    assert parse_retry_after({}, now) is None


def test_sse_encoding_and_parsing_agree() -> None:
    data = encode_event('{"a":1}', "ping") + encode_event("two\nlines") + b"data: [DONE]\n\n"
    assert SSEParser().feed(data) == [
        SSEMessage("ping", '{"a":1}'),
        SSEMessage(None, "two\nlines"),
        SSEMessage(None, "[DONE]"),
    ]


@given(st.data())
def test_sse_parser_is_independent_of_how_bytes_are_split(data: st.DataObject) -> None:
    stream = (
        b': comment\r\nevent: message_start\r\ndata: {"x": 1}\r\n\r\n'
        b"data:no-space\n\ndata: a\rdata: b\r\r" + encode_event("[DONE]")
    )
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    parser = SSEParser()
    events = []
    last = 0
    for cut in [*cuts, len(stream)]:
        events += parser.feed(stream[last:cut])
        last = cut
    events += parser.finish()
    assert events == [
        SSEMessage("message_start", '{"x": 1}'),
        SSEMessage(None, "no-space"),
        SSEMessage(None, "a\nb"),
        SSEMessage(None, "[DONE]"),
    ]


def test_sse_finish_dispatches_an_unterminated_event() -> None:
    parser = SSEParser()
    assert parser.feed(b'data: {"last": true}') == []
    assert parser.finish() == [SSEMessage(None, '{"last": true}')]


_payloads = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=12)
_events = st.tuples(
    st.none() | st.sampled_from(["message_start", "ping", "content_block_delta"]),
    st.lists(_payloads, min_size=1, max_size=3).map("\n".join),
)


@given(st.lists(_events, max_size=12), st.data())
def test_sse_parser_reads_any_mix_of_simple_and_named_events_however_split(
    events: list[tuple[str | None, str]], data: st.DataObject
) -> None:
    # single-line data-only events take the parser's fast path; named and multi-line ones the line
    # path; a stream mixing both, cut anywhere, must read back exactly what was written
    stream = b"".join(encode_event(payload, name) for name, payload in events)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    parser = SSEParser()
    got = []
    last = 0
    for cut in [*cuts, len(stream)]:
        got += parser.feed(stream[last:cut])
        last = cut
    got += parser.finish()
    assert got == [SSEMessage(name, payload) for name, payload in events]


@given(st.text() | st.text(st.characters(min_codepoint=32, max_codepoint=126)))
def test_json_string_writes_what_json_dumps_writes(text: str) -> None:
    assert json_string(text) == json.dumps(text)


@given(st.lists(_events, max_size=12), st.data())
def test_sse_payload_reads_give_the_events_of_the_line_parser_however_split(
    events: list[tuple[str | None, str]], data: st.DataObject
) -> None:
    # take_events hands back the complete events' bytes (read on by feed_events) while the parser stands
    # between events, the line parser's messages otherwise; either way the events the line parser reads
    stream = b"".join(encode_event(payload, name) for name, payload in events)
    stream += data.draw(st.sampled_from([b"", b"\n", b"\n\n", b"data: x\n\n\n", b"data: tail"]))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    reference = SSEParser()
    expected = reference.feed(stream) + reference.finish()
    parser = SSEParser()
    got: list[SSEMessage] = []
    last = 0
    for cut in [*cuts, len(stream)]:
        taken = parser.take_events(stream[last:cut])
        got += taken if isinstance(taken, list) else parser.feed_events(taken)
        last = cut
    got += parser.finish()
    assert got == expected


def test_go_durations_read_twice_read_the_same() -> None:
    for text in ("6m0s", "59.995s", "1x", "20ms", "0"):
        assert parse_go_duration(text) == parse_go_duration(text)
    assert parse_go_duration("1x") is None
    assert parse_go_duration("1m30.5s") == pytest.approx(90.5)
