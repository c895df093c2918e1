"""A :class:`~fake_provider.replies.Reply` in each provider's wire format: plain bodies and stream parts.

Plain: :func:`plain_body` (OpenAI ``message.tool_calls`` / ``logprobs``; Anthropic ``thinking``,
``text`` and ``tool_use`` blocks; Gemini ``functionCall`` and thought parts). Streams:
:func:`stream_parts` returns the stream as (head, content chunks, tail) the way
:func:`fake_provider.responses.chat_plan` lays out a plain text stream, so the stream faults (cut,
stall, malformed chunk, mid-stream error) shape these streams too. Each content chunk carries the
output tokens it delivers: OpenAI streams a tool call as a first delta with its id and name, then its
arguments in pieces; Anthropic as ``content_block_start`` (``tool_use``) and ``input_json_delta``
events, thinking as ``thinking_delta`` then ``signature_delta``; Gemini sends each function call
whole in one chunk. Hidden reasoning is billed with the first chunk (it happened before it).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from fake_provider.context import CallContext
from fake_provider.replies import Reply, logprob_entries
from fake_provider.textgen import WORDS
from harness.wire import openai_tools
from harness.wire.formats import json_string
from harness.wire.neutral import ChatCall
from harness.wire.sse import encode_event

__all__ = ["plain_body", "stream_parts"]

_dumps = json.JSONEncoder(separators=(",", ":")).encode
_FINISH = {
    "openai": {"stop": "stop", "length": "length", "tool_calls": "tool_calls"},
    "anthropic": {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"},
    "gemini": {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP"},
}
#: (data, output tokens) of one write
Part = tuple[bytes, int]


def finish_reason(provider: str, reply: Reply) -> str:
    return _FINISH[provider][reply.finish]


def _signature(ctx: CallContext) -> str:
    raw = hashlib.blake2b(f"signature:{ctx.serial}".encode(), digest_size=48).digest()
    return base64.b64encode(raw).decode()


def _groups(pieces: list[str] | tuple[str, ...], size: int) -> list[tuple[str, int]]:
    return [("".join(pieces[i : i + size]), len(pieces[i : i + size])) for i in range(0, len(pieces), size)]


# --------------------------------------------------------------------------------------------- usage
def _openai_usage(ctx: CallContext, reply: Reply, output: int | None = None) -> str:
    out = reply.tokens if output is None else output
    return openai_tools.usage_json(ctx.prompt_tokens, out, ctx.cached_tokens, reply.reasoning_tokens)


def anthropic_usage(ctx: CallContext, output: int) -> dict[str, Any]:
    read, written, hour = ctx.cached_tokens, ctx.cache_write_tokens, ctx.cache_write_1h_tokens
    return {
        "input_tokens": ctx.prompt_tokens - read - written,
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": read,
        "cache_creation": {"ephemeral_5m_input_tokens": written - hour, "ephemeral_1h_input_tokens": hour},
        "output_tokens": output,
        "service_tier": "standard",
    }


def gemini_usage(ctx: CallContext, reply: Reply, sent: int | None = None) -> dict[str, Any]:
    """usageMetadata; ``sent``: the output tokens delivered so far (a stream's running count)."""
    total = reply.tokens if sent is None else sent
    thoughts = min(reply.reasoning_tokens, total)
    usage: dict[str, Any] = {
        "promptTokenCount": ctx.prompt_tokens,
        "candidatesTokenCount": total - thoughts,
        "totalTokenCount": ctx.prompt_tokens + total,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": ctx.prompt_tokens}],
    }
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    if ctx.cached_tokens:
        usage["cachedContentTokenCount"] = ctx.cached_tokens
        usage["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": ctx.cached_tokens}]
    return usage


# --------------------------------------------------------------------------------------------- plain
def plain_body(ctx: CallContext, reply: Reply, created: int) -> bytes:
    provider, name = ctx.provider, ctx.model_name or ""
    finish = finish_reason(provider, reply)
    text = reply.answer.text
    if provider == "openai":
        message: dict[str, Any] = {"role": "assistant", "content": text if text or not reply.calls else None,
                                   "refusal": None, "annotations": []}  # fmt: skip
        if reply.calls:
            message["tool_calls"] = json.loads(openai_tools.tool_calls_json([c.call for c in reply.calls]))
        logprobs = _openai_logprobs(ctx, list(reply.answer.pieces), 0)
        return (
            f'{{"id":"chatcmpl-{ctx.serial}","object":"chat.completion","created":{created},"model":{_dumps(name)},'
            f'"choices":[{{"index":0,"message":{_dumps(message)},"logprobs":{logprobs},"finish_reason":"{finish}"}}],'
            f'"usage":{_openai_usage(ctx, reply)},"service_tier":"default","system_fingerprint":null}}'
        ).encode()
    if provider == "anthropic":
        blocks: list[dict[str, Any]] = []
        if reply.thinking is not None:
            blocks.append({"type": "thinking", "thinking": reply.thinking.text, "signature": _signature(ctx)})
        if text or not reply.calls:
            blocks.append({"type": "text", "text": text})
        blocks += [{"type": "tool_use", "id": c.call.id, "name": c.call.name, "input": c.args} for c in reply.calls]
        body = {
            "id": f"msg_{ctx.serial}", "type": "message", "role": "assistant", "model": name, "content": blocks,
            "stop_reason": finish, "stop_sequence": None, "usage": anthropic_usage(ctx, reply.tokens),
        }  # fmt: skip
        return _dumps(body).encode()
    parts: list[dict[str, Any]] = []
    if reply.thinking is not None:
        parts.append({"text": reply.thinking.text, "thought": True})
    if text or not reply.calls:
        parts.append({"text": text})
    parts += [{"functionCall": {"name": c.call.name, "args": c.args}} for c in reply.calls]
    candidate = {"content": {"parts": parts, "role": "model"}, "finishReason": finish, "index": 0}
    body = {"candidates": [candidate], "usageMetadata": gemini_usage(ctx, reply), "modelVersion": name,
            "responseId": ctx.request_id}  # fmt: skip
    return _dumps(body).encode()


def _openai_logprobs(ctx: CallContext, pieces: list[str], start: int) -> str:
    call = ctx.call
    extras = call.extras if isinstance(call, ChatCall) else None
    if extras is None or not extras.logprobs:
        return "null"
    digest = (ctx.digest or b"") + start.to_bytes(4, "big")
    return openai_tools.logprobs_json(logprob_entries(pieces, digest, extras.top_logprobs, WORDS))


# --------------------------------------------------------------------------------------------- streams
def stream_parts(ctx: CallContext, reply: Reply, created: int, per_chunk: int) -> tuple[list[Part], list[Part], bytes]:
    """``(head, content chunks, tail)`` of the stream; the tail ends with the terminator, if the API has one."""
    if ctx.provider == "openai":
        return _openai_stream(ctx, reply, created, per_chunk)
    if ctx.provider == "anthropic":
        return _anthropic_stream(ctx, reply, per_chunk)
    return _gemini_stream(ctx, reply, per_chunk)


def _openai_stream(
    ctx: CallContext, reply: Reply, created: int, per_chunk: int
) -> tuple[list[Part], list[Part], bytes]:
    call = ctx.call
    include_usage = isinstance(call, ChatCall) and call.include_usage
    head_text = (
        f'data: {{"id":"chatcmpl-{ctx.serial}","object":"chat.completion.chunk","created":{created},'
        f'"model":{_dumps(ctx.model_name or "")},"service_tier":"default","system_fingerprint":null,"choices":['
    )
    tail_text = '],"usage":null}\n\n' if include_usage else "]}\n\n"

    def chunk(delta: str, logprobs: str = "null", finish: str = "null") -> bytes:
        choice = f'{{"index":0,"delta":{delta},"logprobs":{logprobs},"finish_reason":{finish}}}'
        return f"{head_text}{choice}{tail_text}".encode()

    head = [(chunk('{"role":"assistant","content":"","refusal":null}'), reply.hidden_reasoning)]
    body: list[Part] = []
    sent = 0
    for text, k in _groups(list(reply.answer.pieces), per_chunk):
        pieces = list(reply.answer.pieces[sent : sent + k])
        body.append((chunk(f'{{"content":{json_string(text)}}}', _openai_logprobs(ctx, pieces, sent)), k))
        sent += k
    for i, rc in enumerate(reply.calls):
        start = {"index": i, "id": rc.call.id, "type": "function", "function": {"name": rc.call.name, "arguments": ""}}
        body.append((chunk(_dumps({"tool_calls": [start]})), rc.name_tokens))
        for text, k in _groups(rc.pieces, per_chunk):
            body.append((chunk(_dumps({"tool_calls": [{"index": i, "function": {"arguments": text}}]})), k))
    tail = chunk("{}", finish=f'"{finish_reason("openai", reply)}"')
    if include_usage:
        tail += f'{head_text}],"usage":{_openai_usage(ctx, reply)}}}\n\n'.encode()
    return head, body, tail + b"data: [DONE]\n\n"


def _event(name: str, data: dict[str, Any]) -> bytes:
    return encode_event(_dumps(data), name)


def _anthropic_stream(ctx: CallContext, reply: Reply, per_chunk: int) -> tuple[list[Part], list[Part], bytes]:
    message: dict[str, Any] = {
        "id": f"msg_{ctx.serial}", "type": "message", "role": "assistant", "model": ctx.model_name or "",
        "content": [], "stop_reason": None, "stop_sequence": None, "usage": anthropic_usage(ctx, 0),
    }  # fmt: skip
    head = [(_event("message_start", {"type": "message_start", "message": message})
             + b'event: ping\ndata: {"type": "ping"}\n\n', reply.hidden_reasoning)]  # fmt: skip
    body: list[Part] = []
    index = 0

    def block(start: dict[str, Any], deltas: list[tuple[dict[str, Any], int]]) -> None:
        nonlocal index
        opening = _event("content_block_start", {"type": "content_block_start", "index": index, "content_block": start})
        closing = _event("content_block_stop", {"type": "content_block_stop", "index": index})
        events = [
            (_event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}), k)
            for d, k in deltas
        ]
        if not events:
            body.append((opening + closing, 0))
        else:
            events[0] = (opening + events[0][0], events[0][1])
            events[-1] = (events[-1][0] + closing, events[-1][1])
            body.extend(events)
        index += 1

    if reply.thinking is not None:
        deltas = [({"type": "thinking_delta", "thinking": t}, k) for t, k in _groups(list(reply.thinking.pieces),
                                                                                   per_chunk)]  # fmt: skip
        deltas.append(({"type": "signature_delta", "signature": _signature(ctx)}, 0))
        block({"type": "thinking", "thinking": "", "signature": ""}, deltas)
    if reply.answer.tokens or not reply.calls:
        texts = [({"type": "text_delta", "text": t}, k) for t, k in _groups(list(reply.answer.pieces), per_chunk)]
        block({"type": "text", "text": ""}, texts)
    for rc in reply.calls:
        parts = [({"type": "input_json_delta", "partial_json": t}, k) for t, k in _groups(rc.pieces, per_chunk)]
        if parts:
            parts[0] = (parts[0][0], parts[0][1] + rc.name_tokens)
        else:
            parts = [({"type": "input_json_delta", "partial_json": ""}, rc.name_tokens)]
        block({"type": "tool_use", "id": rc.call.id, "name": rc.call.name, "input": {}}, parts)
    usage = anthropic_usage(ctx, reply.tokens)
    usage.pop("service_tier")
    tail = _event(
        "message_delta",
        {"type": "message_delta", "delta": {"stop_reason": finish_reason("anthropic", reply), "stop_sequence": None},
         "usage": usage},
    ) + b'event: message_stop\ndata: {"type":"message_stop"}\n\n'  # fmt: skip
    return head, body, tail


def _gemini_stream(ctx: CallContext, reply: Reply, per_chunk: int) -> tuple[list[Part], list[Part], bytes]:
    finish = finish_reason("gemini", reply)
    items: list[tuple[dict[str, Any], int]] = []
    if reply.thinking is not None:
        items += [({"text": t, "thought": True}, k) for t, k in _groups(list(reply.thinking.pieces), per_chunk)]
    items += [({"text": t}, k) for t, k in _groups(list(reply.answer.pieces), per_chunk)]
    items += [({"functionCall": {"name": c.call.name, "args": c.args}}, c.tokens) for c in reply.calls]
    if not items:
        items.append(({"text": ""}, 0))
    body: list[Part] = []
    sent = reply.hidden_reasoning
    for i, (part, k) in enumerate(items):
        sent += k
        candidate: dict[str, Any] = {"content": {"parts": [part], "role": "model"}, "index": 0}
        if i == len(items) - 1:
            candidate["finishReason"] = finish
        chunk = {"candidates": [candidate], "usageMetadata": gemini_usage(ctx, reply, sent),
                 "modelVersion": ctx.model_name or "", "responseId": ctx.request_id}  # fmt: skip
        body.append((b"data: " + _dumps(chunk).encode() + b"\n\n", k + (reply.hidden_reasoning if i == 0 else 0)))
    return [], body, b""
