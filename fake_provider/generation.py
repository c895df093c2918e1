"""Generation: the answer to a valid request (text, length, latency) and its success plan.

Everything is a function of the seed and the canonical request (:meth:`Generator.digest`): the same
request gives the same text and length, streamed or not; its latency is drawn from the model's
distributions with the attempt number mixed in, so a retry draws its own. Faults shape the plan
(:func:`fake_provider.responses.chat_plan`); they never change the answer.
"""

from __future__ import annotations

import hashlib

from fake_provider import responses
from fake_provider.config import ModelConfig
from fake_provider.context import CallContext
from fake_provider.embeddings import embed_text
from fake_provider.plan import Plan
from fake_provider.replies import Reply, build_reply
from fake_provider.textgen import Answer, TextGenerator, embedding_vector, request_digest
from harness.wire import gemini_models
from harness.wire.neutral import ChatCall, EmbeddingCall

__all__ = ["Generator"]

_CALL_ID_PREFIX = {"openai": "call_", "anthropic": "toolu_", "gemini": ""}


class Generator:
    """Answers and success plans for one seed."""

    __slots__ = ("seed", "text")

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.text = TextGenerator(seed)

    def digest(self, provider: str, call: ChatCall) -> bytes:
        """The canonical request: seed, API, model, messages, max_tokens and stop (not stream, not headers)."""
        text = "\x1e".join([f"{role}\x1f{content}" for role, content in call.messages])
        key = f"{self.seed}\x1f{provider}\x1f{call.model}\x1f{call.max_tokens}\x1f{call.stop!r}\x1f{text}"
        return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest()

    def latency(self, model: ModelConfig, digest: bytes, attempt: int) -> tuple[float, float]:
        """``(ttft, inter_chunk)`` seconds for this request and attempt."""
        if model.ttft.is_zero and model.inter_chunk.is_zero:
            return 0.0, 0.0
        mixed = request_digest(digest, str(attempt))
        u1, u2 = int.from_bytes(mixed[:7], "big") / 2**56, int.from_bytes(mixed[8:15], "big") / 2**56
        return model.ttft.at(u1), model.inter_chunk.at(u2)

    def answer(self, ctx: CallContext, call: ChatCall, model: ModelConfig) -> Answer:
        """The answer to a chat request (kept on ``ctx``: the quota step may need its length first)."""
        if ctx.answer is not None:
            return ctx.answer
        digest = ctx.digest = self.digest(ctx.provider, call)
        window = model.context_window - ctx.prompt_tokens
        cap = min(call.max_tokens or model.max_output_tokens, model.max_output_tokens, window)
        ctx.answer = answer = self.text.answer(digest, max(1, cap), model.output_tokens.at, call.stop)
        if call.extras is not None:
            ctx.reply = self.reply(ctx, call, model, answer, max(1, cap))
        return answer

    def reply(self, ctx: CallContext, call: ChatCall, model: ModelConfig, answer: Answer, cap: int) -> Reply:
        """The answer to a request with tools, JSON output or reasoning (an output fault breaks its contract)."""
        assert call.extras is not None
        assert ctx.digest is not None
        fault = ctx.fault.output if ctx.fault is not None else None
        prefix = _CALL_ID_PREFIX[ctx.provider]
        return build_reply(prefix, call.extras, ctx.digest, answer, self.text, cap, model.reasoning, fault)

    def output_tokens(self, ctx: CallContext, call: ChatCall, model: ModelConfig) -> int:
        """The output tokens of the answer (what a request without max_tokens counts for in the quotas)."""
        answer = self.answer(ctx, call, model)
        return ctx.reply.tokens if ctx.reply is not None else answer.tokens

    def chat_plan(self, ctx: CallContext, call: ChatCall, model: ModelConfig) -> Plan:
        answer = self.answer(ctx, call, model)
        assert ctx.digest is not None
        if ctx.reply is None and ctx.cached_tokens and ctx.api != "openai.responses":
            ctx.reply = Reply(answer, [], None, 0, answer.finish)  # a text answer whose usage shows a cache read
        if ctx.reply is not None and ctx.fault is not None and ctx.fault.output is not None:
            window = model.context_window - ctx.prompt_tokens
            cap = min(call.max_tokens or model.max_output_tokens, model.max_output_tokens, window)
            ctx.reply = self.reply(ctx, call, model, answer, max(1, cap))
        ttft, inter = self.latency(model, ctx.digest, ctx.attempt)
        ctx.billable = True
        return responses.chat_plan(ctx, answer, ttft, inter, int(ctx.wall))

    def embeddings_plan(self, ctx: CallContext, call: EmbeddingCall, body: bytes) -> Plan:
        assert ctx.model is not None
        dims = call.dimensions or ctx.model.dimensions
        texts = call.texts or (None,) * len(call.token_counts)
        vectors = [
            embedding_vector(request_digest(str(self.seed), body, str(i)), dims)
            if text is None
            else embed_text(self.seed, text, dims)  # paraphrases near each other (fake_provider.embeddings)
            for i, text in enumerate(texts)
        ]
        ttft, _ = self.latency(ctx.model, request_digest(body), ctx.attempt)
        fault = ctx.fault
        if fault is not None:
            ttft += fault.extra_ttft_s + fault.headers_delay_s
        ctx.billable = True
        if ctx.provider == "gemini":
            body = gemini_models.embed_body(vectors, ctx.api == "gemini.batch_embed")
            return responses.json_plan(ctx, body, ttft)
        return responses.embeddings_plan(ctx, vectors, call.base64, ttft)
