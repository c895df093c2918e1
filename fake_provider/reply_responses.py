"""A :class:`~fake_provider.replies.Reply` in the Responses API's wire format: function calls and JSON output.

The output items are a message (when the reply has text: prose, or the JSON of ``text.format``) and
one ``function_call`` item per call (``fc_…`` item id, ``call_…`` call id). Streamed, each item opens
with ``response.output_item.added`` (riding with its first delta), its deltas follow
(``response.output_text.delta``, or ``response.function_call_arguments.delta`` one token a piece), and
its closing events ride with its last delta; ``response.completed`` (``.incomplete`` when
``max_output_tokens`` cut it) is the terminator. Each content chunk carries the output tokens it
delivers, as :func:`fake_provider.reply_wire.stream_parts` does for the other APIs, so the stream
faults shape these streams too; a mid-stream error is numbered after the events sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fake_provider.context import CallContext
from fake_provider.replies import Reply
from harness.wire import openai, openai_responses
from harness.wire.openai_responses import ResponsesCall, ResponseStreamEncoder

__all__ = ["plain_body", "stream_parts"]

_FINISH = {"stop": "completed", "tool_calls": "completed", "length": "max_output_tokens"}
#: (data, output tokens) of one write
Part = tuple[bytes, int]


def finish_reason(reply: Reply) -> str:
    """The finish the request log records: "completed", or the reason the response is incomplete."""
    return _FINISH[reply.finish]


def _item_status(reply: Reply) -> str:
    return "incomplete" if reply.finish == "length" else "completed"


def _usage(ctx: CallContext, reply: Reply, output: int | None = None) -> dict[str, Any]:
    out = reply.tokens if output is None else output
    return openai_responses.usage_json(ctx.prompt_tokens, out, ctx.cached_tokens, reply.reasoning_tokens)


def _echo(ctx: CallContext) -> dict[str, Any]:
    assert isinstance(ctx.call, ResponsesCall)
    return ctx.call.echo


def _has_message(reply: Reply) -> bool:
    return bool(reply.answer.tokens) or not reply.calls


def plain_body(ctx: CallContext, reply: Reply, created: int) -> bytes:
    """The whole ``response`` object of a reply."""
    status = _item_status(reply)
    output: list[dict[str, Any]] = []
    if _has_message(reply):
        output.append(openai_responses.message_item(f"msg_{ctx.serial}", reply.answer.text, status))
    for rc in reply.calls:
        item_id = "fc_" + rc.call.id.removeprefix("call_")
        output.append(openai_responses.function_call_item(item_id, rc.call.id, rc.call.name, rc.call.arguments, status))
    name, finish, usage = ctx.model_name or "", finish_reason(reply), _usage(ctx, reply)
    return openai_responses.items_body(f"resp_{ctx.serial}", name, created, _echo(ctx), output, finish, usage)


def stream_parts(
    ctx: CallContext, reply: Reply, created: int, per_chunk: int
) -> tuple[list[Part], list[Part], bytes, list[int], ResponseStreamEncoder]:
    """``(head, content chunks, terminator, seq_after, encoder)``: ``seq_after[i]`` bounds the sequence
    numbers sent once content chunk ``i`` is (a mid-stream error after it is numbered from it)."""
    enc = ResponseStreamEncoder(f"resp_{ctx.serial}", f"msg_{ctx.serial}", ctx.model_name or "", created, _echo(ctx))
    head: list[Part] = [(enc.opening(), reply.hidden_reasoning)]
    status = _item_status(reply)
    body: list[Part] = []
    seq_after: list[int] = []
    output: list[dict[str, Any]] = []

    index = 0
    if _has_message(reply):
        item_id = f"msg_{ctx.serial}"
        opening = enc.message_added(index, item_id)
        parts: list[Part] = []
        for text, k in _groups(list(reply.answer.pieces), per_chunk):
            parts.append((enc.text(text), k))
            seq_after.append(enc.seq)
        closing, item = enc.message_done(index, item_id, reply.answer.text, status)
        body += _framed(opening, parts, closing, 0, seq_after, enc.seq)
        output.append(item)
        index += 1
    for rc in reply.calls:
        item_id = "fc_" + rc.call.id.removeprefix("call_")
        opening = enc.call_added(index, item_id, rc.call.id, rc.call.name)
        parts = []
        for text, k in _groups(rc.pieces, per_chunk):
            parts.append((enc.call_delta(index, item_id, text), k))
            seq_after.append(enc.seq)
        closing, item = enc.call_done(index, item_id, rc.call.id, rc.call.name, rc.call.arguments, status)
        body += _framed(opening, parts, closing, rc.name_tokens, seq_after, enc.seq)  # the name rides with the opening
        output.append(item)
        index += 1
    terminator = enc.final(finish_reason(reply), output, _usage(ctx, reply))
    return head, body, terminator, seq_after, enc


def _framed(
    opening: bytes, parts: list[Part], closing: bytes, extra_tokens: int, seq_after: list[int], seq_end: int
) -> list[Part]:
    """An item's deltas with its opening events before the first and its closing events after the last
    (``seq_after``, one entry per delta already, is extended or corrected to match)."""
    if not parts:
        seq_after.append(seq_end)
        return [(opening + closing, extra_tokens)]
    parts[0] = (opening + parts[0][0], parts[0][1] + extra_tokens)
    parts[-1] = (parts[-1][0] + closing, parts[-1][1])
    seq_after[-1] = seq_end
    return parts


def _groups(pieces: list[str], size: int) -> list[tuple[str, int]]:
    return [("".join(pieces[i : i + size]), len(pieces[i : i + size])) for i in range(0, len(pieces), size)]


def stream_error(
    enc: ResponseStreamEncoder, seq_after: list[int], head_seq: int, prompt: int
) -> Callable[..., bytes]:
    """The Responses API's mid-stream failure (``error``, then ``response.failed``), numbered after what was sent."""

    def error(provider: str, status: int, message: str | None, sent: tuple[int, int] = (0, 0)) -> bytes:
        type_, code, default = openai.default_error(status)
        enc.seq = seq_after[sent[0] - 1] if sent[0] else head_seq
        return enc.error(code or type_, message or default, prompt, sent[1])

    return error
