"""OpenAI's Responses API (``POST /v1/responses``), both sides: plain answers and the typed event stream.

Errors, auth and rate-limit headers are those of chat completions (:mod:`harness.wire.openai`,
:mod:`harness.wire.openai_limits`); this
module holds what differs: the request (``input`` items and ``instructions`` instead of ``messages``,
``max_output_tokens``), the ``response`` object and its stream of typed events::

    response.created → response.in_progress → response.output_item.added → response.content_part.added
      → response.output_text.delta × n → response.output_text.done → response.content_part.done
      → response.output_item.done → response.completed (response.incomplete when max_output_tokens cut it)

Every event is ``event: <type>`` + ``data: {"type": <type>, …, "sequence_number": k}``; there is no
``[DONE]``. A failure mid-stream is an ``error`` event followed by ``response.failed``.

Server side: :func:`parse_responses`, :func:`response_body`, :class:`ResponseStreamEncoder`.
Client side: :func:`build_responses_body`, :func:`parse_responses_body`, :class:`ResponseStreamReader`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.errors import StreamBroken
from harness.pricing import Usage
from harness.wire import checks, codec
from harness.wire.formats import json_string
from harness.wire.neutral import (
    ChatCall,
    ChatResult,
    ErrorInfo,
    Message,
    RequestInvalid,
    RoleContent,
    StreamEvent,
    message_pairs,
)
from harness.wire.sse import SSEParser

__all__ = [
    "FINISH_REASONS",
    "MIN_OUTPUT_TOKENS",
    "RESPONSES_PATH",
    "ResponseStreamEncoder",
    "ResponseStreamReader",
    "ResponsesCall",
    "build_responses_body",
    "finish_status",
    "parse_responses",
    "parse_responses_body",
    "response_body",
]

RESPONSES_PATH = "/v1/responses"
MIN_OUTPUT_TOKENS = 16  # the API refuses a smaller max_output_tokens
#: the finish the fake logs for a response ("completed", or the incomplete reason) → the neutral reason
FINISH_REASONS = {
    "completed": "stop",
    "max_output_tokens": "length",
    "content_filter": "content_filter",
    "failed": "error",
}
_ROLES = {"user": "user", "system": "system", "developer": "system", "assistant": "assistant"}
_TEXT_PARTS = {"input_text": "text", "output_text": "text", "refusal": "refusal", "text": "text"}
_dumps = json.JSONEncoder(separators=(",", ":")).encode


@dataclass(slots=True)  # not frozen: one per request; treat as read-only
class ResponsesCall(ChatCall):
    """A validated Responses request: the neutral chat call, and the request fields the response echoes."""

    echo: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------- server side
def _content_text(content: object, where: str) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise RequestInvalid(
            where, f"expected a string or an array of content parts, but got {checks.kind_of(content)}", "invalid_type"
        )
    texts = []
    for i, item in enumerate(content):
        part = checks.require_object(item, f"{where}[{i}]")
        kind = checks.get_str(part, "type", f"{where}[{i}]", required=True)
        key = _TEXT_PARTS.get(kind)
        if key is not None:
            texts.append(checks.get_str(part, key, f"{where}[{i}]", required=True))
        elif kind not in ("input_image", "input_file", "input_audio"):
            raise RequestInvalid(
                f"{where}[{i}].type",
                f"expected one of 'input_text', 'output_text', 'refusal', 'input_image', 'input_file', got {kind!r}",
                checks.VALUE_CODE,
            )
    return "\n".join(texts)


def _input_item(item: object, i: int) -> Message | None:
    """One ``input`` item as a message; items that carry no text (reasoning, references) give None."""
    where = f"input[{i}]"
    obj = checks.require_object(item, where)
    kind = checks.get_str(obj, "type", where) or "message"
    if kind == "message":
        role = checks.get_str(obj, "role", where, required=True)
        if role not in _ROLES:
            raise RequestInvalid(
                f"{where}.role",
                f"Invalid value: {role!r}. Supported values are: 'assistant', 'system', 'developer', and 'user'",
                checks.VALUE_CODE,
            )
        if "content" not in obj:
            raise RequestInvalid(f"{where}.content", "required field is missing", checks.MISSING_CODE)
        return _ROLES[role], _content_text(obj["content"], f"{where}.content")
    if kind == "function_call":
        name = checks.get_str(obj, "name", where, required=True)
        arguments = checks.get_str(obj, "arguments", where, required=True)
        checks.get_str(obj, "call_id", where, required=True)
        return "assistant", f"{name}\n{arguments}"
    if kind == "function_call_output":
        checks.get_str(obj, "call_id", where, required=True)
        output = obj.get("output")
        text = output if isinstance(output, str) else _content_text(output, f"{where}.output")
        return "tool", text
    if kind in ("reasoning", "item_reference"):
        return None
    raise RequestInvalid(f"{where}.type", f"the fake provider does not accept input items of type {kind!r}")


def parse_responses(body: object) -> ResponsesCall:
    """Validate a Responses body; raises :class:`RequestInvalid` naming the field."""
    obj = checks.require_object(body, "")
    model = checks.get_str(obj, "model", required=True, nonempty=True)
    messages: list[Message] = []
    instructions = checks.get_str(obj, "instructions")
    if instructions:
        messages.append(("system", instructions))
    raw = obj.get("input")
    previous = checks.get_str(obj, "previous_response_id")
    if raw is None and previous is None:
        raise RequestInvalid("input", "required field is missing", checks.MISSING_CODE)
    if isinstance(raw, str):
        messages.append(("user", raw))
    elif raw is not None:
        items = checks.get_list(obj, "input", nonempty=True)
        for i, item in enumerate(items):
            message = _input_item(item, i)
            if message is not None:
                messages.append(message)
    if not messages:
        raise RequestInvalid("input", "expected at least one message", checks.VALUE_CODE)
    max_tokens = checks.get_int(obj, "max_output_tokens", min=MIN_OUTPUT_TOKENS)
    stream = bool(checks.get_bool(obj, "stream"))
    if checks.get_object(obj, "stream_options") is not None and not stream:
        raise RequestInvalid("stream_options", "only allowed when 'stream' is enabled", checks.VALUE_CODE)
    temperature = checks.get_number(obj, "temperature", min=0, max=2)
    top_p = checks.get_number(obj, "top_p", min=0, max=1)
    store = checks.get_bool(obj, "store")
    tools = checks.get_list(obj, "tools")
    choice = obj.get("tool_choice")
    if choice is not None and not isinstance(choice, str | dict):
        raise RequestInvalid(
            "tool_choice", f"expected a string or an object, got {checks.kind_of(choice)}", "invalid_type"
        )
    text = checks.get_object(obj, "text")
    reasoning = checks.get_object(obj, "reasoning")
    metadata = checks.get_object(obj, "metadata")
    parallel = checks.get_bool(obj, "parallel_tool_calls")
    truncation = checks.get_str(obj, "truncation")
    if truncation not in (None, "auto", "disabled"):
        raise RequestInvalid("truncation", f"expected 'auto' or 'disabled', got {truncation!r}", checks.VALUE_CODE)
    checks.get_list(obj, "include")
    user = checks.get_str(obj, "user")
    tier = checks.get_str(obj, "service_tier")
    echo = {
        "instructions": instructions,
        "max_output_tokens": max_tokens,
        "metadata": metadata or {},
        "parallel_tool_calls": True if parallel is None else parallel,
        "previous_response_id": previous,
        "reasoning": {"effort": None, "summary": None, **(reasoning or {})},
        "service_tier": "default" if tier in (None, "auto") else tier,
        "store": True if store is None else store,
        "temperature": 1.0 if temperature is None else temperature,
        "text": {"format": {"type": "text"}, "verbosity": "medium", **(text or {})},
        "tool_choice": "auto" if choice is None else choice,
        "tools": tools or [],
        "top_p": 1.0 if top_p is None else top_p,
        "truncation": truncation or "disabled",
        "user": user,
    }
    prefill = messages[-1][0] == "assistant"
    return ResponsesCall(model, tuple(messages), max_tokens, stream, False, (), temperature, prefill, echo=echo)


def finish_status(finish: str) -> tuple[str, dict[str, str] | None]:
    """The response's ``status`` and ``incomplete_details`` for the finish the fake logs."""
    if finish == "completed":
        return "completed", None
    return "incomplete", {"reason": finish}


def _usage(prompt: int, output: int) -> dict[str, Any]:
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cache_write_tokens": 0, "cached_tokens": 0},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + output,
    }


def _message_item(item_id: str, text: str | None, status: str) -> dict[str, Any]:
    content = [] if text is None else [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
    return {"id": item_id, "type": "message", "status": status, "role": "assistant", "content": content}


def _response(
    response_id: str,
    model: str,
    created: int,
    echo: Mapping[str, Any],
    status: str,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None,
    incomplete: dict[str, str] | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": response_id,
        "object": "response",
        "created_at": created,
        "status": status,
        "background": False,
        "error": error,
        "incomplete_details": incomplete,
        "max_tool_calls": None,
        "model": model,
        "output": output,
        "prompt_cache_key": None,
        "safety_identifier": None,
        "top_logprobs": 0,
        "usage": usage,
        **echo,
    }


def response_body(
    response_id: str,
    item_id: str,
    model: str,
    created: int,
    echo: Mapping[str, Any],
    text: str,
    finish: str,
    prompt_tokens: int,
    output_tokens: int,
) -> bytes:
    """A whole ``response`` object: one assistant message with one ``output_text`` part, and usage."""
    status, incomplete = finish_status(finish)
    output = [_message_item(item_id, text, status)]
    usage = _usage(prompt_tokens, output_tokens)
    return _dumps(_response(response_id, model, created, echo, status, output, usage, incomplete)).encode()


class ResponseStreamEncoder:
    """The typed events of one streamed response, numbered in order (``sequence_number`` from 0)."""

    __slots__ = ("_created", "_echo", "_id", "_item", "_model", "_prefix", "seq")

    def __init__(self, response_id: str, item_id: str, model: str, created: int, echo: Mapping[str, Any]) -> None:
        self._id, self._item, self._model, self._created, self._echo = response_id, item_id, model, created, echo
        self.seq = 0  # the next event's sequence_number
        self._prefix = f'"item_id":"{item_id}","output_index":0,"content_index":0,'

    def _event(self, kind: str, fields: str) -> bytes:
        seq = self.seq
        self.seq += 1
        return f'event: {kind}\ndata: {{"type":"{kind}",{fields}"sequence_number":{seq}}}\n\n'.encode()

    def _whole(self, status: str, output: list[dict[str, Any]], usage: dict[str, Any] | None, **kw: Any) -> str:
        return _dumps(_response(self._id, self._model, self._created, self._echo, status, output, usage, **kw))

    def start(self) -> bytes:
        """created, in_progress, output_item.added and content_part.added, written together."""
        whole = self._whole("in_progress", [], None)
        item = _dumps(_message_item(self._item, None, "in_progress"))
        part = '{"type":"output_text","text":"","annotations":[],"logprobs":[]}'
        return (
            self._event("response.created", f'"response":{whole},')
            + self._event("response.in_progress", f'"response":{whole},')
            + self._event("response.output_item.added", f'"output_index":0,"item":{item},')
            + self._event("response.content_part.added", f'{self._prefix}"part":{part},')
        )

    def text(self, delta: str) -> bytes:
        return self._event("response.output_text.delta", f'{self._prefix}"delta":{json_string(delta)},"logprobs":[],')

    def stop(self, text: str, finish: str, prompt_tokens: int, output_tokens: int) -> tuple[bytes, bytes]:
        """The closing events, and the last of them (``response.completed`` / ``.incomplete``) on its own:
        the stream's terminator, which the ``no_done`` fault leaves out."""
        status, incomplete = finish_status(finish)
        text_json = json_string(text)
        part = f'{{"type":"output_text","text":{text_json},"annotations":[],"logprobs":[]}}'
        item = _message_item(self._item, text, status)
        closing = (
            self._event("response.output_text.done", f'{self._prefix}"text":{text_json},"logprobs":[],')
            + self._event("response.content_part.done", f'{self._prefix}"part":{part},')
            + self._event("response.output_item.done", f'"output_index":0,"item":{_dumps(item)},')
        )
        whole = self._whole(status, [item], _usage(prompt_tokens, output_tokens), incomplete=incomplete)
        return closing, self._event(f"response.{status}", f'"response":{whole},')

    def error(self, code: str, message: str, prompt_tokens: int, output_tokens: int) -> bytes:
        """A failure mid-stream: the ``error`` event, then ``response.failed``."""
        error = {"code": code, "message": message}
        failed = self._whole("failed", [], _usage(prompt_tokens, output_tokens), error=error)
        return self._event("error", f'"code":{_dumps(code)},"message":{_dumps(message)},"param":null,') + self._event(
            "response.failed", f'"response":{failed},'
        )


# ---------------------------------------------------------------------------------------- client side
def build_responses_body(
    model: str,
    messages: Sequence[Message | RoleContent],
    *,
    max_tokens: int | None = None,
    temperature: float | None = None,
    stream: bool = False,
) -> bytes:
    """A Responses body from neutral inputs: system messages become ``instructions``, the rest ``input``.

    ``max_tokens`` below the API's minimum (16) is raised to it; the Responses API has no stop sequences.
    """
    pairs = message_pairs(messages)
    system = "\n".join(t for r, t in pairs if r == "system")
    items: list[dict[str, Any]] = []
    for role, text in pairs:
        if role == "system":
            continue
        if role == "tool":  # a tool result without its call id: sent as user text
            role = "user"
        items.append({"role": role, "content": text})
    body: dict[str, Any] = {"model": model, "input": items, "store": False}
    if system:
        body["instructions"] = system
    if max_tokens is not None:
        body["max_output_tokens"] = max(MIN_OUTPUT_TOKENS, max_tokens)
    if temperature is not None:
        body["temperature"] = temperature
    if stream:
        body["stream"] = True
    return codec.dumps(body)


def _read_usage(data: object) -> Usage | None:
    if not isinstance(data, dict):
        return None
    details = data.get("input_tokens_details")
    out_details = data.get("output_tokens_details")
    return Usage(
        int(data.get("input_tokens") or 0),
        int(data.get("output_tokens") or 0),
        int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0,
        0,
        int(out_details.get("reasoning_tokens") or 0) if isinstance(out_details, dict) else 0,
    )


def _finish(data: dict[str, Any]) -> str | None:
    """The finish reason of a response object: "completed", the incomplete reason, or "failed"."""
    status = data.get("status")
    if status == "incomplete":
        details = data.get("incomplete_details") or {}
        return str(details.get("reason") or "max_output_tokens")
    return None if status is None else str(status)


def _output_text(data: dict[str, Any]) -> str:
    texts = []
    for item in data.get("output") or ():
        if item.get("type") == "message":
            texts += [p.get("text", "") for p in item.get("content") or () if p.get("type") == "output_text"]
    return "".join(texts)


def parse_responses_body(body: bytes, headers: Mapping[str, str] | None = None) -> ChatResult:
    """Read a plain ``response`` object; raises ``StreamBroken`` on a body that is not one."""
    try:
        data = codec.loads(body)
        text = _output_text(data)
        usage = _read_usage(data.get("usage")) or Usage()
        finish = _finish(data)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StreamBroken(f"malformed response body: {exc!r}"[:200]) from None
    request_id = headers.get("x-request-id") if headers is not None else None
    return ChatResult(text, finish, usage, data.get("model"), request_id or data.get("id"))


class ResponseStreamReader:
    """Incremental reader of a Responses stream: text deltas, the final usage and finish, errors."""

    __slots__ = ("_sse",)

    def __init__(self) -> None:
        self._sse = SSEParser()

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        return [e for m in self._sse.feed(chunk) if (e := self._event(m.data)) is not None]

    def finish(self) -> list[StreamEvent]:
        return [e for m in self._sse.finish() if (e := self._event(m.data)) is not None]

    @staticmethod
    def _event(data: str) -> StreamEvent | None:
        if not data:
            return None
        try:
            obj = codec.loads(data)
            kind = obj["type"]
            if kind == "response.output_text.delta":
                return StreamEvent(text=obj["delta"])
            if kind == "response.created":
                response = obj["response"]
                return StreamEvent(request_id=response.get("id"), model=response.get("model"))
            if kind in ("response.completed", "response.incomplete"):
                response = obj["response"]
                usage = _read_usage(response.get("usage"))
                return StreamEvent(finish_reason=_finish(response), usage=usage, done=True)
            if kind == "error":
                return StreamEvent(error=ErrorInfo(0, "server_error", obj.get("code"), str(obj.get("message"))))
            if kind == "response.failed":
                err = obj["response"].get("error") or {}
                return StreamEvent(error=ErrorInfo(0, "server_error", err.get("code"), str(err.get("message"))))
            return None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StreamBroken(f"malformed stream event: {exc!r}"[:200]) from None
