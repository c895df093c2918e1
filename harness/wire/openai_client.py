"""OpenAI chat completions, as the client sends and reads them (the reference client).

:func:`build_chat_body` writes the request from neutral inputs, :func:`parse_chat_body` reads a plain
answer and :class:`ChatStreamReader` reads a stream incrementally, with a one-pass path for a read
that completes many events. Errors and headers are in :mod:`harness.wire.openai`, rate limits in
:mod:`harness.wire.openai_limits`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any, cast

from orjson import loads as _orjson_loads

from harness.errors import StreamBroken
from harness.pricing import Usage
from harness.wire import codec, openai_tools
from harness.wire.fastinit import positional_maker
from harness.wire.neutral import ChatResult, ErrorInfo, Message, RoleContent, StreamEvent, ToolDelta
from harness.wire.openai import REQUEST_ID_HEADER
from harness.wire.sse import DataEventReader, SSEMessage

__all__ = ["ChatStreamReader", "build_chat_body", "parse_chat_body"]


def build_chat_body(
    model: str,
    messages: Sequence[Message | RoleContent],
    *,
    max_tokens: int | None = None,
    temperature: float | None = None,
    stream: bool = False,
    stop: Sequence[str] = (),
    include_usage: bool = True,
    extra: Mapping[str, Any] | None = None,
) -> bytes:
    """A chat completions body from neutral inputs (roles: system, user, assistant, tool); ``extra``: more
    fields (tools, response_format …, see :func:`harness.wire.openai_tools.request_fields`)."""
    if any(getattr(m, "tool_calls", ()) or getattr(m, "tool_call_id", None) for m in messages):
        wire = openai_tools.wire_messages(messages)
    else:
        wire = [
            {"role": m[0], "content": m[1]} if isinstance(m, tuple) else {"role": m.role, "content": m.content}
            for m in messages
        ]
    body: dict[str, Any] = {"model": model, "messages": wire}
    if extra:
        body.update(extra)
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if temperature is not None:
        body["temperature"] = temperature
    if stop:
        body["stop"] = list(stop)
    if stream:
        body["stream"] = True
        if include_usage:
            body["stream_options"] = {"include_usage": True}
    return codec.dumps(body)


#: Usage by its slots, not the frozen dataclass's setattr per field: one per answer (harness.wire.fastinit)
_make_usage = positional_maker(Usage)


def _usage(data: object) -> Usage | None:
    if not isinstance(data, dict):
        return None
    details = data.get("prompt_tokens_details")
    out_details = data.get("completion_tokens_details")
    return _make_usage(
        int(data.get("prompt_tokens") or 0),
        int(data.get("completion_tokens") or 0),
        int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0,
        0,
        int(out_details.get("reasoning_tokens") or 0) if isinstance(out_details, dict) else 0,
        0,
    )


def parse_chat_body(body: bytes, headers: Mapping[str, str] | None = None) -> ChatResult:
    """Read a plain chat completion; raises ``StreamBroken`` on a body that is not one."""
    try:
        data = codec.loads(body)
        choice = data["choices"][0]
        text = choice["message"].get("content") or ""
        usage = _usage(data.get("usage")) or Usage()
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise StreamBroken(f"malformed chat completion body: {exc!r}"[:200]) from None
    request_id = headers.get(REQUEST_ID_HEADER) if headers is not None else None
    calls = openai_tools.parse_tool_calls(choice["message"]) if choice["message"].get("tool_calls") else ()
    return ChatResult(text, choice.get("finish_reason"), usage, data.get("model"), request_id or data.get("id"), calls)


_DONE_EVENT = StreamEvent(done=True)
_CONTENT_KEY = b'"content":"'
_PLAIN = re.compile(rb"[ !#-\[\]-~]*").fullmatch  # printable ASCII but '"' and '\\': a JSON string, unescaped
_KEY_SIZE = len(b'{"content":"')  # the end of an envelope's head a run's bytes are split on (see _run)
_PROBE = "\x00"  # a text no printable one equals: what proves an envelope's string is the delta's content
_MAX_LEARNED = 4  # envelopes learned per stream at most (a provider whose every chunk differs stops paying)
#: runs tried per read at most: a run goes up to a chunk it cannot read plainly (a text with a quote, an
#: escape), and one costs a pass over the rest of the read, so an odd stream costs a few passes, not one a chunk
_MAX_RUNS = 4


class ChatStreamReader(DataEventReader[StreamEvent]):
    """Incremental reader of a chat completion stream: ``feed(bytes)`` → events.

    A read that completes many events (a whole stream delivered at one instant, in virtual time) is
    read in one pass, and the common chunk (a text delta, nothing else) never reaches the reader of
    record (:meth:`_event`, which reads anything else — an error, a finish, usage, a payload that is
    not UTF-8 or not JSON):

    * **The envelope.** The chunks of a stream repeat the same bytes around their text: the id, the
      model, the fingerprint, ``"delta":{"content":"`` … ``"},"logprobs":null,…``. Once a text chunk
      was parsed by orjson, its bytes before and after the content string are kept, after a check
      that a string put between them is what the parser reads as ``choices[0].delta.content``. A
      later payload made of exactly those bytes around a plain string (printable ASCII, no quote, no
      backslash: a JSON string with no escapes) is that same chunk with this text, by the JSON
      grammar; it is read without building its dicts. Anything else is parsed.
    * **Runs** (:meth:`_run`). Consecutive envelope chunks are read together with no Python step per
      chunk: one regex call lists the plain content strings from there on, and the run is as many of
      them as the read's bytes prove, by comparing the read with the envelope chunks those texts
      make (one join, one comparison).
    * **Batches** (:meth:`feed_batch`, what the client's stream assembler reads with): consecutive
      text chunks come back as one event whose ``texts`` lists their texts (the empty ones left
      out), with the first id and the last model among them, instead of one event object each.
    """

    __slots__ = ("_close", "_head", "_key", "_learned", "_meta", "_open", "_sep", "_strip", "_tail")

    def __init__(self) -> None:
        super().__init__()
        self._head = b""  # the envelope: the bytes before the content string (ending in its quote) …
        self._tail = b""  # … and after it (starting with its quote); empty: none learned yet
        self._open = b""  # an envelope chunk's event before its text: "data: ", the head
        self._sep = b""  # between the texts of two envelope chunks in a row: tail, "\n\ndata: ", head
        self._close = b""  # an envelope chunk's event after its text: tail, "\n\n"
        self._key = b""  # the head's last bytes (a run's bytes are split on them)
        self._strip: Callable[[bytes], bytes] = bytes  # a run's piece → its text: less sep but the key
        self._meta: tuple[Any, Any] = (None, None)  # the envelope's id and model
        self._learned = 0  # envelopes learned so far

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        return self._read(chunk, False)

    def feed_batch(self, chunk: bytes) -> list[StreamEvent]:
        """:meth:`feed`, with each run of plain text chunks as one event (``texts``; see the class doc)."""
        return self._read(chunk, True)

    def _read(self, chunk: bytes, batch: bool) -> list[StreamEvent]:
        """The events ``chunk`` completes: envelope runs at once, one-line ``data:`` events one by one,
        and from the first event of any other shape on, the rest through the SSE parser of record."""
        sse = self._sse
        events = sse.take_events(chunk)
        if type(events) is not bytes:  # events the line-by-line path parsed
            return [self._event(m.data) for m in cast("list[SSEMessage]", events)]
        gather = _Gather(batch)
        runs = _MAX_RUNS  # runs left to try in this read (each one splits the rest of the read)
        pos, size = 0, len(events)  # pos: where the next event starts
        while pos < size:
            if runs and self._open and events.startswith(self._open, pos):
                runs -= 1
                texts, after = self._run(events, pos)
                if texts:
                    gather.texts(texts, *self._meta)
                    pos = after
                    continue
            end = events.find(b"\n\n", pos)
            if not events.startswith(b"data: ", pos) or events.find(b"\n", pos, end) >= 0:
                for message in sse.feed_events(events[pos:]):  # not one "data:" line: the parser of record
                    gather.event(self._event(message.data))
                break
            parsed = self._payload(events[pos + 6 : end])
            if type(parsed) is StreamEvent:
                gather.event(parsed)
            else:
                gather.text(*cast("tuple[str, Any, Any]", parsed))
            pos = end + 2
        return gather.done()

    def _run(self, events: bytes, pos: int) -> tuple[list[str], int]:
        """The texts of the envelope chunks from the event at ``pos`` on, and where the event after them
        starts.

        Candidates: the bytes from ``pos`` split on the end of the envelope's head (``{"content":"``),
        each piece less the bytes that follow a text up to that key again, the last one up to the
        chunk's end. They are texts if they are plain and the envelope chunks they make, joined, are
        the bytes at ``pos`` (a plain text holds no quote and no newline, so those bytes are those
        chunks and nothing else). All of them usually; else the most the bytes prove, found by
        halving. The caller tries a few runs per read at most (``_MAX_RUNS``).
        """
        pieces = events[pos:].split(self._key)
        last = pieces.pop()
        end = last.find(self._close)
        found = list(map(self._strip, pieces[1:]))
        if end >= 0:
            found.append(last[:end])
        if _PLAIN(b"".join(found)) is None:  # rare: a chunk the envelope does not read plainly, or another event
            for i, text in enumerate(found):
                if _PLAIN(text) is None:
                    del found[i:]
                    break
        whole = self._chunks(found)
        if not events.startswith(whole, pos):
            low, high = 0, len(found) - 1  # found[:low] proven; found[: high + 1] not
            while low < high:
                mid = (low + high + 1) // 2
                if events.startswith(self._chunks(found[:mid]), pos):
                    low = mid
                else:
                    high = mid - 1
            if not low:
                return [], pos
            del found[low:]
            whole = self._chunks(found)
        return list(map(bytes.decode, found)), pos + len(whole)

    def _chunks(self, texts: list[bytes]) -> bytes:
        """The events of envelope chunks with these texts, in a row."""
        return self._open + self._sep.join(texts) + self._close

    def _payload(self, payload: bytes) -> tuple[str, Any, Any] | StreamEvent:
        """A payload's ``(text, id, model)`` if it is a plain text chunk, else its event."""
        head, tail = self._head, self._tail
        if head and payload.startswith(head) and payload.endswith(tail):
            cut, end = len(head), len(payload) - len(tail)
            if end >= cut and _PLAIN(payload, cut, end) is not None:  # the envelope around a plain string
                return (payload[cut:end].decode("ascii"), *self._meta)
        return self._parse(payload)

    def _parse(self, payload: bytes) -> tuple[str, Any, Any] | StreamEvent:
        """A payload's ``(text, id, model)`` if it is a plain text chunk, else its event (the reader of record)."""
        if payload[:6] == b"[DONE]":
            return _DONE_EVENT
        try:
            obj = _orjson_loads(payload)
        except ValueError:  # not JSON to orjson (or not UTF-8): the reader of record decides
            return self._event(payload.decode("utf-8", "replace"))
        try:
            if type(obj) is dict and "error" not in obj and obj.get("usage") is None:
                choices = obj["choices"]
                if type(choices) is list and len(choices) == 1:
                    choice = choices[0]
                    delta = choice["delta"]
                    if choice["finish_reason"] is None and type(delta) is dict and "tool_calls" not in delta:
                        text = delta.get("content") or ""
                        if text and self._learned < _MAX_LEARNED:
                            self._learn(payload, text)
                        return text, obj.get("id"), obj.get("model")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            pass
        # anything else: the reader of record, on the value it would parse (valid UTF-8, orjson's reading)
        return self._event_of(obj)

    def _learn(self, payload: bytes, text: str) -> bool:
        """Keep ``payload``'s envelope (see the class doc) if its content string is plain; True if kept."""
        if not text.isascii() or not text.isprintable() or '"' in text or "\\" in text:
            return False
        start = payload.find(_CONTENT_KEY)
        if start < 0:
            return False
        start += len(_CONTENT_KEY)
        end = start + len(text)
        if payload[start:end] != text.encode("ascii") or payload[end : end + 1] != b'"':
            return False
        head, tail = payload[:start], payload[end:]
        self._learned += 1
        try:  # the string between them must be what the parser reads as the delta's content
            probe = _orjson_loads(head + b"\\u0000" + tail)
            if probe["choices"][0]["delta"]["content"] != _PROBE:
                return False
        except (ValueError, KeyError, IndexError, TypeError):
            return False
        self._head, self._tail = head, tail
        self._open, self._sep, self._close = b"data: " + head, tail + b"\n\ndata: " + head, tail + b"\n\n"
        self._key = head[-_KEY_SIZE:]
        self._strip = itemgetter(slice(None, _KEY_SIZE - len(self._sep)))
        self._meta = (probe.get("id"), probe.get("model"))
        return True

    @staticmethod
    def _event(data: str) -> StreamEvent:
        if data.startswith("[DONE]"):
            return _DONE_EVENT
        try:
            obj = codec.loads(data)
        except ValueError as exc:
            raise StreamBroken(f"malformed stream event: {exc!r}"[:200]) from None
        return ChatStreamReader._event_of(obj)

    @staticmethod
    def _event_of(obj: Any) -> StreamEvent:
        """The event of a parsed payload (what :meth:`_event` reads once the JSON is parsed)."""
        try:
            if obj.get("error"):
                err = obj["error"]
                return StreamEvent(error=ErrorInfo(0, err.get("type"), err.get("code"), str(err.get("message"))))
            choices = obj["choices"]
            text = ""
            finish = None
            tools: tuple[ToolDelta, ...] = ()
            if choices:
                choice = choices[0]
                delta = choice.get("delta") or {}
                text = delta.get("content") or ""
                finish = choice.get("finish_reason")
                if "tool_calls" in delta:
                    tools = openai_tools.stream_tool_deltas(delta)
            return StreamEvent(
                text, finish, _usage(obj.get("usage")), None, False, obj.get("id"), obj.get("model"), tools
            )
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise StreamBroken(f"malformed stream event: {exc!r}"[:200]) from None


class _Gather:
    """The events of one read, as :meth:`ChatStreamReader._read` finds them: each text chunk its own
    event, or (``batch``) each run of text chunks one event with ``texts``, the first id among them
    and the last model (see :meth:`ChatStreamReader.feed_batch`)."""

    __slots__ = ("_batch", "_first_id", "_last_model", "_out", "_run", "_texts")

    def __init__(self, batch: bool) -> None:
        self._out: list[StreamEvent] = []
        self._batch = batch
        self._texts: list[str] = []  # the run being gathered: its texts (the empty ones left out) …
        self._first_id: Any = None  # … its first id
        self._last_model: Any = None  # … and its last model
        self._run = False  # a run is being gathered

    def text(self, text: str, chunk_id: Any, model: Any) -> None:
        """One text chunk."""
        if not self._batch:
            self._out.append(StreamEvent(text, None, None, None, False, chunk_id, model))
            return
        if text:
            self._texts.append(text)
        self._note(chunk_id, model)

    def texts(self, texts: list[str], chunk_id: Any, model: Any) -> None:
        """Consecutive text chunks with the same id and model."""
        if not self._batch:
            self._out += [StreamEvent(text, None, None, None, False, chunk_id, model) for text in texts]
            return
        self._texts += texts if "" not in texts else [text for text in texts if text]
        self._note(chunk_id, model)

    def _note(self, chunk_id: Any, model: Any) -> None:
        if not self._run:
            self._run, self._first_id = True, chunk_id
        elif self._first_id is None:
            self._first_id = chunk_id
        if model is not None:
            self._last_model = model

    def event(self, event: StreamEvent) -> None:
        """Any other event: it ends the run."""
        self.flush()
        self._out.append(event)

    def done(self) -> list[StreamEvent]:
        """The read's events (the read ended)."""
        self.flush()
        return self._out

    def flush(self) -> None:
        """End the run being gathered (the read ended, or another event came)."""
        if self._run:
            self._out.append(StreamEvent("", None, None, None, False, self._first_id, self._last_model, (), "",
                                         self._texts))  # fmt: skip
            self._texts, self._first_id, self._last_model, self._run = [], None, None, False
