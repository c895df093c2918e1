"""OpenAI chat completions, as the client sends and reads them (the reference client).

:func:`build_chat_body` writes the request from neutral inputs, :func:`parse_chat_body` reads a plain
answer and :class:`ChatStreamReader` reads a stream incrementally, with a one-pass path for a read
that completes many events. Errors and headers are in :mod:`harness.wire.openai`, rate limits in
:mod:`harness.wire.openai_limits`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

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


class ChatStreamReader(DataEventReader[StreamEvent]):
    """Incremental reader of a chat completion stream: ``feed(bytes)`` → events.

    A read that completes many events (a whole stream delivered at one instant, in virtual time) is
    read in one pass: each payload goes to orjson as bytes, the common chunk (a text delta, nothing
    else) is read with a few lookups, and anything else — an error, a finish, usage, a payload that
    is not UTF-8 or not JSON — goes through :meth:`_event`, the reader of record.
    """

    __slots__ = ()

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        payloads = self._sse.feed_payloads(chunk)
        out: list[StreamEvent] = []
        append = out.append
        slow = self._event
        loads = _orjson_loads
        for payload in payloads:
            if isinstance(payload, SSEMessage):
                append(slow(payload.data))
                continue
            try:
                obj = loads(payload)
                if type(obj) is dict and "error" not in obj and obj.get("usage") is None:
                    choices = obj["choices"]
                    if type(choices) is list and len(choices) == 1:
                        choice = choices[0]
                        delta = choice["delta"]
                        if choice["finish_reason"] is None and type(delta) is dict and "tool_calls" not in delta:
                            text = delta.get("content") or ""
                            append(StreamEvent(text, None, None, None, False, obj.get("id"), obj.get("model")))
                            continue
            except (ValueError, KeyError, IndexError, TypeError, AttributeError):
                pass
            append(slow(payload.decode("utf-8", "replace")))  # anything else: the reader of record
        return out

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
