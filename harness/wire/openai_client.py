"""OpenAI chat completions, as the client sends and reads them (the reference client).

:func:`build_chat_body` writes the request from neutral inputs, :func:`parse_chat_body` reads a plain
answer and :class:`ChatStreamReader` reads a stream incrementally, with a one-pass path for a read
that completes many events. Errors and headers are in :mod:`harness.wire.openai`, rate limits in
:mod:`harness.wire.openai_limits`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, cast

from orjson import loads as _orjson_loads

from harness.errors import StreamBroken
from harness.pricing import Usage
from harness.wire import codec, openai_tools
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


def _usage(data: object) -> Usage | None:
    if not isinstance(data, dict):
        return None
    details = data.get("prompt_tokens_details")
    out_details = data.get("completion_tokens_details")
    return Usage(
        int(data.get("prompt_tokens") or 0),
        int(data.get("completion_tokens") or 0),
        int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0,
        0,
        int(out_details.get("reasoning_tokens") or 0) if isinstance(out_details, dict) else 0,
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
_PROBE = "\x00"  # a text no printable one equals: what proves an envelope's string is the delta's content
_MAX_LEARNED = 4  # envelopes learned per stream at most (a provider whose every chunk differs stops paying)


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
      grammar; it is read by comparing bytes, without building its dicts. Anything else is parsed.
    * **Batches** (:meth:`feed_batch`, what the client's stream assembler reads with): consecutive
      text chunks come back as one event whose ``texts`` lists their texts (the empty ones left
      out), with the first id and the last model among them, instead of one event object each.
    """

    __slots__ = ("_head", "_learned", "_meta", "_tail")

    def __init__(self) -> None:
        super().__init__()
        self._head = b""  # the envelope: the bytes before the content string (ending in its quote) …
        self._tail = b""  # … and after it (starting with its quote); empty: none learned yet
        self._meta: tuple[Any, Any] = (None, None)  # the envelope's id and model
        self._learned = 0  # envelopes learned so far

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        return self._read(chunk, False)

    def feed_batch(self, chunk: bytes) -> list[StreamEvent]:
        """:meth:`feed`, with each run of plain text chunks as one event (``texts``; see the class doc)."""
        return self._read(chunk, True)

    def _read(self, chunk: bytes, batch: bool) -> list[StreamEvent]:
        found = self._sse.feed_payloads(chunk)
        if not found or type(found[0]) is SSEMessage:  # events the line-by-line path parsed
            return [self._event(m.data) for m in cast("list[SSEMessage]", found)]
        payloads = cast("list[bytes]", found)
        out: list[StreamEvent] = []
        append = out.append
        head, tail = self._head, self._tail
        cut, after = len(head), len(tail)
        texts: list[str] = []  # a batch being gathered: its texts, its first id, its last model
        first_id: Any = None
        last_model: Any = None
        run = False
        for payload in payloads:
            text: str | None = None
            if cut and payload.startswith(head) and payload.endswith(tail):
                end = len(payload) - after
                if end >= cut and _PLAIN(payload, cut, end) is not None:  # the envelope around a plain string
                    text = payload[cut:end].decode("ascii")
                    chunk_id, model = self._meta
            if text is None:
                parsed = self._parse(payload)
                if cut != len(self._head):  # it taught the reader a new envelope
                    head, tail = self._head, self._tail
                    cut, after = len(head), len(tail)
                if type(parsed) is StreamEvent:
                    if run:
                        append(StreamEvent("", None, None, None, False, first_id, last_model, (), "", texts))
                        texts, first_id, last_model, run = [], None, None, False
                    append(parsed)
                    continue
                text, chunk_id, model = cast("tuple[str, Any, Any]", parsed)
            if not batch:
                append(StreamEvent(text, None, None, None, False, chunk_id, model))
                continue
            if text:
                texts.append(text)
            if not run:
                run, first_id = True, chunk_id
            elif first_id is None:
                first_id = chunk_id
            if model is not None:
                last_model = model
        if run:
            append(StreamEvent("", None, None, None, False, first_id, last_model, (), "", texts))
        return out

    def _parse(self, payload: bytes) -> tuple[str, Any, Any] | StreamEvent:
        """A payload's ``(text, id, model)`` if it is a plain text chunk, else its event (the reader of record)."""
        if payload[:6] == b"[DONE]":
            return _DONE_EVENT
        try:
            obj = _orjson_loads(payload)
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
        return self._event(payload.decode("utf-8", "replace"))  # anything else: the reader of record

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
        self._meta = (probe.get("id"), probe.get("model"))
        return True

    @staticmethod
    def _event(data: str) -> StreamEvent:
        if data.startswith("[DONE]"):
            return _DONE_EVENT
        try:
            obj = codec.loads(data)
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
