"""Plan builders for successful answers: plain bodies and timed streams, per provider.

A stream plan is a list of :class:`~fake_provider.plan.Chunk` writes, each tagged with the output
tokens it delivers, so a performer that stops early (a cut, a client that left) reports exactly
what was sent and the ledger bills exactly that. Timing: the status line waits for the first token
(``ttft``), then text chunks follow every ``inter_chunk`` seconds; a plain answer waits for the whole
generation (``ttft + (chunks - 1) · inter_chunk``). A fault adds its latency and shapes the stream:
cut after *k* text chunks, stall after *k*, a malformed chunk *k*, no terminator, a mid-stream error.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from typing import Protocol

from fake_provider import reply_responses, reply_wire
from fake_provider.context import CallContext
from fake_provider.fault import Fault
from fake_provider.plan import Chunk, Plan, StreamEnd, answer_plan
from fake_provider.plans import JSON, SSE, request_id_headers
from fake_provider.rejections import OVERLOADED_STATUS
from fake_provider.textgen import Answer
from harness.wire import anthropic, gemini, openai, openai_answers, openai_responses
from harness.wire.neutral import ChatCall
from harness.wire.sse import truncate_event

__all__ = ["chat_plan", "embeddings_plan", "finish_reason", "json_plan"]

_FINISH = {
    "openai": {"stop": "stop", "length": "length"},
    "openai.responses": {"stop": "completed", "length": "max_output_tokens"},
    "anthropic": {"stop": "end_turn", "length": "max_tokens"},
    "gemini": {"stop": "STOP", "length": "MAX_TOKENS"},
}


def finish_reason(provider: str, answer: Answer, api: str = "") -> str:
    """The answer's finish reason in the API's vocabulary (Anthropic: stop_sequence when one hit; the
    Responses API: "completed", or the reason the response is incomplete)."""
    if provider == "anthropic" and answer.stop_sequence is not None:
        return "stop_sequence"
    if api == "openai.responses":
        return _FINISH[api][answer.finish]
    return _FINISH[provider][answer.finish]


def processing_header(delay_s: float) -> tuple[str, str]:
    """OpenAI's ``openai-processing-ms``: the time the answer's headers waited, in whole milliseconds."""
    return ("openai-processing-ms", str(round(delay_s * 1000)))


def _groups(pieces: Sequence[str], size: int) -> list[tuple[str, int]]:
    if size == 1:  # a piece a chunk: paired in C (a stream of a thousand tokens pays no Python step per piece)
        return list(zip(pieces, repeat(1, len(pieces)), strict=True))
    return [("".join(pieces[i : i + size]), len(pieces[i : i + size])) for i in range(0, len(pieces), size)]


#: plan the common OpenAI stream by :func:`_openai_at_once` (False: by the general path, which tests compare it to)
_OPENAI_AT_ONCE = True


def json_plan(ctx: CallContext, body: bytes, delay_s: float = 0.0, tokens: int = 0) -> Plan:
    headers = (*request_id_headers(ctx.provider, ctx.request_id), JSON, *ctx.extra_headers)
    if ctx.provider == "openai":
        headers = (*headers, processing_header(delay_s))
    return answer_plan(headers, body, None, delay_s, tokens)


def chat_plan(ctx: CallContext, answer: Answer, ttft_s: float, inter_s: float, created: int) -> Plan:
    """The success plan for a chat request (plain or streamed), with any fault's timing and stream shape."""
    assert ctx.model is not None
    assert ctx.model_name is not None
    provider, name, prompt = ctx.provider, ctx.model_name, ctx.prompt_tokens
    finish = finish_reason(provider, answer, ctx.api)
    ctx.finish = finish
    fault = ctx.fault
    if fault is not None:
        ttft_s += fault.extra_ttft_s + fault.headers_delay_s
        inter_s += fault.inter_token_s
    per_chunk = ctx.model.tokens_per_chunk
    reply = ctx.reply
    if reply is not None:
        responses_api = ctx.api == "openai.responses"
        finish = reply_responses.finish_reason(reply) if responses_api else reply_wire.finish_reason(provider, reply)
        ctx.finish = finish
    if not ctx.stream:
        return _plain(ctx, answer, ttft_s, inter_s, created, finish, per_chunk)

    # a stream no fault shapes and whose text events are all due at once is planned as one text write
    # (a Gemini stream keeps a chunk per event: its last text event is also its end)
    at_once = inter_s <= 0 and provider != "gemini" and (fault is None or not _shapes_stream(fault))
    if _OPENAI_AT_ONCE and at_once and reply is None and per_chunk == 1 and ctx.api == "openai.chat":
        return _openai_at_once(ctx, answer, ttft_s, created, finish)
    groups = _groups(answer.pieces, per_chunk)
    head: list[bytes] = []
    head_tokens = 0
    stream_error: _StreamError = _stream_error
    if reply is not None and ctx.api == "openai.responses":
        opening, content, terminator, seq_after, rsenc = reply_responses.stream_parts(ctx, reply, created, per_chunk)
        head = [data for data, _ in opening]
        head_tokens = sum(k for _, k in opening)
        texts = [data for data, _ in content]
        groups = [("", k) for _, k in content]
        tail = terminator
        stream_error = reply_responses.stream_error(rsenc, seq_after, 2, prompt)
    elif reply is not None:
        parts, content, tail = reply_wire.stream_parts(ctx, reply, created, per_chunk)
        head = [data for data, _ in parts]
        head_tokens = sum(k for _, k in parts)
        texts = [data for data, _ in content]
        groups = [("", k) for _, k in content]
        terminator = {"openai": openai.DONE, "anthropic": anthropic.MESSAGE_STOP_EVENT}.get(provider, b"")
    elif ctx.api == "openai.responses":
        assert isinstance(ctx.call, openai_responses.ResponsesCall)
        renc = openai_responses.ResponseStreamEncoder(
            f"resp_{ctx.serial}", f"msg_{ctx.serial}", name, created, ctx.call.echo
        )
        head.append(renc.start())
        texts = [renc.text(t) for t, _ in groups]
        closing, terminator = renc.stop(answer.text, finish, prompt, answer.tokens)
        tail = closing + terminator
        stream_error = _responses_error(renc, prompt)
    elif provider == "openai":
        include_usage = isinstance(ctx.call, ChatCall) and ctx.call.include_usage
        enc = openai_answers.ChatStreamEncoder(f"chatcmpl-{ctx.serial}", name, created, include_usage)
        head.append(enc.role())
        pieces = answer.pieces if per_chunk == 1 else [t for t, _ in groups]
        texts = [enc.joined_texts(pieces)] if at_once else enc.texts(pieces)
        tail = enc.finish(finish) + (enc.usage(prompt, answer.tokens) if enc.include_usage else b"") + openai.DONE
        terminator = openai.DONE
    elif provider == "anthropic":
        aenc = anthropic.MessageStreamEncoder(f"msg_{ctx.serial}", name)
        head.append(aenc.start(prompt))
        texts = [aenc.text(t) for t, _ in groups]
        tail = aenc.stop(finish, answer.stop_sequence, prompt, answer.tokens)
        terminator = anthropic.MESSAGE_STOP_EVENT
    else:
        genc = gemini.GenerateStreamEncoder(ctx.request_id, name, prompt)
        texts = []
        sent = 0
        for i, (t, k) in enumerate(groups):
            sent += k
            texts.append(genc.text(t, sent, finish if i == len(groups) - 1 else None))
        tail = b"" if groups else genc.text("", 0, finish)
        terminator = b""  # a Gemini stream has none: it ends when the connection closes
    chunks = [Chunk(0.0, data) for data in head]
    if head_tokens:
        chunks[0] = Chunk(0.0, chunks[0].data, head_tokens)
    headers = _stream_headers(ctx, ttft_s)
    if at_once:
        if groups:
            tokens = len(groups) if per_chunk == 1 and reply is None else sum([k for _, k in groups])
            chunks.append(Chunk(0.0, texts[0] if len(texts) == 1 else b"".join(texts), tokens))
        if tail:
            chunks.append(Chunk(0.0, tail))
        return answer_plan(headers, b"", tuple(chunks), ttft_s)
    if fault is None or not _shapes_stream(fault):
        if texts:
            (_, k0), *rest = groups
            chunks.append(Chunk(0.0, texts[0], k0))
            # one Chunk per text event, built by tuple.__new__ directly: the named tuple's own __new__
            # is a Python-level call per event (this builds them in about two thirds of the time)
            make = tuple.__new__
            chunks += [make(Chunk, (inter_s, data, k)) for data, (_, k) in zip(texts[1:], rest, strict=True)]
        if tail:
            chunks.append(Chunk(0.0, tail))
        return answer_plan(headers, b"", tuple(chunks), ttft_s)
    end = _faulty_stream(ctx, fault, chunks, texts, [k for _, k in groups], inter_s, stream_error)
    if end is None:  # the stream runs to its end: the tail, less the terminator if the fault drops it
        if fault.no_done and terminator:
            tail = tail.removesuffix(terminator)
        if tail:
            chunks.append(Chunk(0.0, tail))
        end = StreamEnd.CLOSE
    return answer_plan(headers, b"", tuple(chunks), ttft_s, end=end)


def _openai_at_once(ctx: CallContext, answer: Answer, ttft_s: float, created: int, finish: str) -> Plan:
    """:func:`chat_plan` of an OpenAI chat stream of one token per event, all due at once, with no reply and no
    fault that shapes it: the same plan, without the list of (piece, 1) pairs the general path builds for the
    tokens of each event (here they are the answer's tokens) and without joining the pieces again to see
    whether they are plain text (the answer has its text). Kept beside the general path because it pays: with
    the general path planning these streams instead, the 1,000-user storm costs about 2% more CPU a request
    (0.1683 -> 0.1731 and 0.1771 -> 0.1802 ms, alternating rounds). ``tests/unit/fake_provider/test_plan_fast_paths.py``
    holds it to the general path."""
    prompt = ctx.prompt_tokens
    include_usage = isinstance(ctx.call, ChatCall) and ctx.call.include_usage
    assert ctx.model_name is not None
    enc = openai_answers.ChatStreamEncoder(f"chatcmpl-{ctx.serial}", ctx.model_name, created, include_usage)
    chunks = [Chunk(0.0, enc.role())]
    if answer.tokens:
        chunks.append(Chunk(0.0, enc.joined_texts(answer.pieces, answer.text, answer.plain), answer.tokens))
    usage = enc.usage(prompt, answer.tokens) if include_usage else b""
    chunks.append(Chunk(0.0, enc.finish(finish) + usage + openai.DONE))
    return answer_plan(_stream_headers(ctx, ttft_s), b"", tuple(chunks), ttft_s)


def _stream_headers(ctx: CallContext, ttft_s: float) -> tuple[tuple[str, str], ...]:
    """A stream's response headers (OpenAI's say how long it processed before the first byte)."""
    provider = ctx.provider
    headers = (*request_id_headers(provider, ctx.request_id), SSE, ("cache-control", "no-cache"), *ctx.extra_headers)
    return (*headers, processing_header(ttft_s)) if provider == "openai" else headers


def _shapes_stream(fault: Fault) -> bool:
    """Whether ``fault`` changes a stream's chunks (a latency fault only changes their timing)."""
    return (
        fault.cut_after_tokens is not None
        or fault.cut_after_chunks is not None
        or fault.error_after_tokens is not None
        or fault.error_after_chunks is not None
        or fault.stall_after_chunks is not None
        or fault.malformed_at is not None
        or fault.no_done
    )


def _faulty_stream(
    ctx: CallContext,
    fault: Fault,
    chunks: list[Chunk],
    texts: list[bytes],
    tokens: list[int],
    inter_s: float,
    stream_error: _StreamError,
) -> StreamEnd | None:
    """Append the text chunks as ``fault`` shapes them; the end it imposes, or None to run to the end."""
    limit_tokens = fault.cut_after_tokens if fault.cut_after_tokens is not None else fault.error_after_tokens
    limit_chunks = fault.cut_after_chunks if fault.cut_after_chunks is not None else fault.error_after_chunks
    stall_at, malformed = fault.stall_after_chunks, fault.malformed_at
    sent = 0
    sent_chunks = 0
    stopped = False
    for i, (data, k) in enumerate(zip(texts, tokens, strict=True)):
        if (limit_tokens is not None and sent + k > limit_tokens) or (limit_chunks is not None and i >= limit_chunks):
            stopped = True
            break
        sent_chunks = i + 1
        if stall_at == i:
            chunks.append(Chunk(fault.stall_s, b""))  # a pure wait: the gap a stalled upstream leaves
            if fault.stall_close:
                ctx.finish = "stalled"
                return StreamEnd.CUT
        chunks.append(Chunk(inter_s if i else 0.0, truncate_event(data) if malformed == i + 1 else data, k))
        sent += k
    if stall_at is not None and stall_at >= len(texts) and not stopped:
        chunks.append(Chunk(fault.stall_s, b""))
        if fault.stall_close:
            ctx.finish = "stalled"
            return StreamEnd.CUT
    if fault.cut_after_tokens is not None or fault.cut_after_chunks is not None:
        return StreamEnd.CUT
    if fault.error_after_tokens is not None or fault.error_after_chunks is not None:
        status = fault.status or OVERLOADED_STATUS[ctx.provider]
        chunks.append(Chunk(0.0, stream_error(ctx.provider, status, fault.message, (sent_chunks, sent))))
        ctx.finish = "error"
        return StreamEnd.CLOSE
    return None


def _plain(
    ctx: CallContext, answer: Answer, ttft_s: float, inter_s: float, created: int, finish: str, per_chunk: int
) -> Plan:
    """A plain answer: the whole body after the generation time; a cut or malformed fault breaks it."""
    provider, name, prompt = ctx.provider, ctx.model_name or "", ctx.prompt_tokens
    text, n = answer.text, answer.tokens
    reply = ctx.reply
    if reply is not None:
        n = reply.tokens
    latency = ttft_s + max(0, -(-n // per_chunk) - 1) * inter_s if inter_s else ttft_s
    headers: tuple[tuple[str, str], ...]
    if reply is not None and ctx.api == "openai.responses":
        body = reply_responses.plain_body(ctx, reply, created)
        headers = (*request_id_headers(provider, ctx.request_id), JSON, processing_header(latency), *ctx.extra_headers)
    elif reply is not None:
        body = reply_wire.plain_body(ctx, reply, created)
        headers = (*request_id_headers(provider, ctx.request_id), JSON, *ctx.extra_headers)
        if provider == "openai":
            headers = (*headers, processing_header(latency))
        elif provider == "gemini":
            headers = (JSON, *ctx.extra_headers)
    elif ctx.api == "openai.responses":
        assert isinstance(ctx.call, openai_responses.ResponsesCall)
        body = openai_responses.response_body(
            f"resp_{ctx.serial}", f"msg_{ctx.serial}", name, created, ctx.call.echo, text, finish, prompt, n
        )
        headers = (*request_id_headers(provider, ctx.request_id), JSON, processing_header(latency), *ctx.extra_headers)
    elif provider == "openai":
        body = openai_answers.chat_body(f"chatcmpl-{ctx.serial}", name, created, text, finish, prompt, n, answer.plain)
        processing = ("openai-processing-ms", str(round(latency * 1000)))
        headers = (*request_id_headers(provider, ctx.request_id), JSON, processing, *ctx.extra_headers)
    elif provider == "anthropic":
        body = anthropic.message_body(f"msg_{ctx.serial}", name, text, finish, answer.stop_sequence, prompt, n)
        headers = (*request_id_headers(provider, ctx.request_id), JSON, *ctx.extra_headers)
    else:
        body = gemini.response_body(ctx.request_id, name, text, finish, prompt, n)
        headers = (JSON, *ctx.extra_headers)
    fault = ctx.fault
    if fault is not None:
        if fault.cut_after_tokens is not None or fault.cut_after_chunks is not None:
            # a plain body cut midway: half of it, then the connection drops; only the prompt is billed
            half = (Chunk(0.0, body[: len(body) // 2]),)
            return answer_plan(headers, b"", half, latency, end=StreamEnd.CUT)
        if fault.malformed_at is not None:
            body = body[: len(body) // 2]  # the whole body arrives, but it is not valid JSON
    return answer_plan(headers, body, None, latency, n)


def _responses_error(encoder: openai_responses.ResponseStreamEncoder, prompt: int) -> _StreamError:
    """The Responses API's mid-stream failure (``error``, then ``response.failed``), numbered after what was sent."""

    def error(provider: str, status: int, message: str | None, sent: tuple[int, int] = (0, 0)) -> bytes:
        type_, code, default = openai.default_error(status)
        encoder.seq = 4 + sent[0]  # after the four opening events and the deltas sent
        return encoder.error(code or type_, message or default, prompt, sent[1])

    return error


class _StreamError(Protocol):
    def __call__(self, provider: str, status: int, message: str | None, sent: tuple[int, int] = (0, 0)) -> bytes: ...


def _stream_error(provider: str, status: int, message: str | None, sent: tuple[int, int] = (0, 0)) -> bytes:
    """A mid-stream error event in the provider's shape (the stream then ends without its terminator)."""
    if provider == "anthropic":
        type_, default = anthropic.default_error(status)
        return anthropic.error_event(type_, message or default)
    if provider == "openai":
        type_, code, default = openai.default_error(status)
        return openai.error_event(message or default, type_, code)
    name, default = gemini.default_error(status)
    return gemini.error_event(status, message or default, name)


def embeddings_plan(ctx: CallContext, vectors: Sequence[bytes], as_base64: bool, delay_s: float) -> Plan:
    assert ctx.model_name is not None
    body = openai_answers.embeddings_body(ctx.model_name, vectors, as_base64, ctx.prompt_tokens)
    return json_plan(ctx, body, delay_s)
