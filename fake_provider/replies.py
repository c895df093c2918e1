"""The answer to a request that asks for more than text: tool calls, JSON output, reasoning.

A :class:`Reply` is what the model "produced", before any wire format: the visible text (prose, or
the JSON of a structured answer), the tool calls (name, arguments as JSON text), the reasoning (shown
as thinking text, or hidden and only counted), and the finish. Every token is a piece that is one
harness token, like the plain answers of :mod:`fake_provider.textgen`, so usage, stream chunks, the
request log and the ledger agree exactly, also for a stream cut midway.

The rules (documented in ``docs/fake-provider.md``), all functions of the seed and the request:

* a tool call happens when :attr:`Extras.calls_tools` says so (``auto``: unless a tool result follows
  the last user message); with parallel calls allowed and two or more tools, one or two calls are
  made (a draw from the digest), else one; a named tool choice calls that tool;
* arguments and structured output are instances of the schema (:mod:`fake_provider.instances`);
  ``json_object`` answers ``{"answer": "<words>"}``;
* reasoning comes first and takes its share of ``max_tokens``: a thinking budget *B* spends
  ``round(B · (0.2 + 0.6 u))`` tokens, an effort ``low`` / ``medium`` / ``high`` about 64 / 256 / 1024
  (× 0.5–1.5), ``minimal`` none;
* whatever does not fit in ``max_tokens`` is cut: finish ``length`` (a JSON answer or arguments cut
  short are not valid JSON, as on the real APIs);
* an output fault breaks the contract of a 200: ``invalid_json`` drops the JSON's last character,
  ``schema_violation`` drops the first required property (or, with none, answers an array).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

from fake_provider.instances import instance
from fake_provider.textgen import Answer, TextGenerator
from harness.wire.extras import Extras
from harness.wire.neutral import ToolCall

__all__ = ["Reply", "ReplyCall", "build_reply", "json_pieces"]

_PIECE = re.compile(r"\s*(?:[A-Za-z0-9]{1,4}|[^\sA-Za-z0-9])")
_JSON_MODE_SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}
_EFFORT_TOKENS = {"minimal": 0, "low": 64, "medium": 256, "high": 1024}
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def json_pieces(text: str) -> list[str]:
    """``text`` split into pieces of one harness token each (whitespace rides with the next token, trailing
    whitespace with the last; a text of whitespace alone holds no token and gives no piece)."""
    pieces = _PIECE.findall(text)
    rest = len(text) - sum(map(len, pieces))
    if rest and pieces:
        pieces[-1] += text[-rest:]  # trailing whitespace is free
    return pieces


class ReplyCall:
    """One generated tool call: the call, its decoded arguments, and the argument text as pieces."""

    __slots__ = ("args", "call", "name_tokens", "pieces")

    def __init__(self, call: ToolCall, args: Any, pieces: list[str], name_tokens: int) -> None:
        self.call = call
        self.args = args  # the decoded arguments (Anthropic's input, Gemini's args); a dict
        self.pieces = pieces  # the arguments' JSON text, one token a piece (possibly cut short)
        self.name_tokens = name_tokens

    @property
    def tokens(self) -> int:
        return self.name_tokens + len(self.pieces)


class Reply:
    """Everything one answer holds; ``tokens`` is the output the ledger bills for a full delivery."""

    __slots__ = ("answer", "calls", "finish", "hidden_reasoning", "thinking")

    def __init__(
        self, answer: Answer, calls: list[ReplyCall], thinking: Answer | None, hidden: int, finish: str
    ) -> None:
        self.answer = answer  # visible text: prose or JSON (may hold no tokens when the answer is tool calls)
        self.calls = calls
        self.thinking = thinking  # reasoning shown as text (Anthropic thinking, Gemini thoughts)
        self.hidden_reasoning = hidden  # reasoning counted and billed but not shown (OpenAI, Gemini)
        self.finish = finish  # "stop" | "length" | "tool_calls"

    @property
    def reasoning_tokens(self) -> int:
        return self.hidden_reasoning + (self.thinking.tokens if self.thinking is not None else 0)

    @property
    def tokens(self) -> int:
        return self.reasoning_tokens + self.answer.tokens + sum(c.tokens for c in self.calls)


def _u(digest: bytes, purpose: str) -> float:
    mixed = hashlib.blake2b(digest + purpose.encode(), digest_size=8).digest()
    return int.from_bytes(mixed[:7], "big") / float(1 << 56)


def call_id(prefix: str, digest: bytes, i: int) -> str:
    raw = hashlib.blake2b(digest + f"call{i}".encode(), digest_size=24).digest()
    return prefix + "".join(_ID_ALPHABET[b % len(_ID_ALPHABET)] for b in raw)


def _reasoning(extras: Extras, digest: bytes, cap: int, reasons: bool) -> int:
    u = _u(digest, "reasoning")
    if extras.thinking_budget is not None and extras.thinking_budget > 0:
        wanted = round(extras.thinking_budget * (0.2 + 0.6 * u))
    elif extras.reasoning_effort is not None and reasons:
        wanted = round(_EFFORT_TOKENS[extras.reasoning_effort] * (0.5 + u))
    else:
        return 0
    return max(0, min(wanted, cap - 1))  # at least one token is left for the answer


def _violate(value: Any, schema: dict[str, Any] | None) -> Any:
    """A value that breaks ``schema``: its first required property left out, else the value in an array."""
    required = (schema or {}).get("required") or []
    if isinstance(value, dict) and required and required[0] in value:
        return {k: v for k, v in value.items() if k != required[0]}
    return [value]


def build_reply(
    prefix: str,
    extras: Extras,
    digest: bytes,
    text: Answer,
    text_gen: TextGenerator,
    cap: int,
    reasons: bool,
    fault: str | None = None,
) -> Reply:
    """The reply to a request with ``extras``; ``text`` is the plain answer it would have had, ``cap`` the
    output tokens allowed, ``reasons`` whether the model reasons (effort applies), ``prefix`` the tool-call
    id prefix ("call_", "toolu_", "" for none)."""
    hidden = _reasoning(extras, digest, cap, reasons)
    thinking: Answer | None = None
    if hidden and extras.show_thoughts:
        thinking = text_gen.answer(hashlib.blake2b(digest + b"thinking", digest_size=16).digest(), hidden,
                                   lambda u: hidden)  # fmt: skip
        hidden = 0
    left = cap - hidden - (thinking.tokens if thinking is not None else 0)
    if extras.calls_tools:
        return _tool_reply(prefix, extras, digest, left, thinking, hidden, fault)
    if extras.output == "enum" and extras.schema is not None:
        text = Answer(json_pieces(str(instance(extras.schema, digest))), "stop")
    if extras.output in ("text", "enum"):
        if text.tokens > left:
            text = Answer(list(text.pieces[:left]), "length")
        return Reply(text, [], thinking, hidden, text.finish)
    schema = extras.schema if extras.output == "schema" and extras.schema is not None else _JSON_MODE_SCHEMA
    value = instance(schema, digest)
    if fault == "schema_violation":
        value = _violate(value, schema)
    body = _dumps(value)
    if fault == "invalid_json":
        body = body[:-1]
    pieces = json_pieces(body)
    finish = "stop"
    if len(pieces) > left:
        pieces, finish = pieces[:left], "length"
    return Reply(Answer(pieces, finish), [], thinking, hidden, finish)


def _tool_reply(
    prefix: str, extras: Extras, digest: bytes, left: int, thinking: Answer | None, hidden: int, fault: str | None
) -> Reply:
    tools = extras.tools
    if extras.tool_choice == "named" and extras.tool_name is not None:
        chosen = [extras.tool(extras.tool_name)]
    else:
        first = int(_u(digest, "tool") * len(tools))
        chosen = [tools[first]]
        if extras.parallel_tools and len(tools) > 1 and _u(digest, "parallel") < 0.5:
            chosen.append(tools[(first + 1) % len(tools)])
    calls: list[ReplyCall] = []
    finish = "tool_calls"
    for i, tool in enumerate(chosen):
        args = instance(tool.parameters, digest + bytes([i]))
        if i == 0 and fault == "schema_violation":
            args = _violate(args, tool.parameters)
        text = _dumps(args)
        if i == 0 and fault == "invalid_json":
            text = text[:-1]
        pieces = json_pieces(text)
        name_tokens = len(json_pieces(tool.name))
        if name_tokens + len(pieces) > left:
            if left > name_tokens:
                pieces = pieces[: left - name_tokens]
                calls.append(ReplyCall(ToolCall(call_id(prefix, digest, i), tool.name, "".join(pieces)), args,
                                       pieces, name_tokens))  # fmt: skip
            finish = "length"
            break
        left -= name_tokens + len(pieces)
        calls.append(ReplyCall(ToolCall(call_id(prefix, digest, i), tool.name, text), args, pieces, name_tokens))
    return Reply(Answer([], finish), calls, thinking, hidden, finish)


def logprob_entries(
    pieces: Sequence[str], digest: bytes, top: int, words: Sequence[str]
) -> list[tuple[str, float, list[tuple[str, float]]]]:
    """Deterministic log probabilities per output token: the token's own, and ``top`` alternatives
    (the token first, then others in decreasing order), as OpenAI reports them."""
    out = []
    for i, piece in enumerate(pieces):
        h = hashlib.blake2b(digest + i.to_bytes(4, "big"), digest_size=16).digest()
        own = -round((h[0] / 255) ** 2 * 2.5, 6)
        alts: list[tuple[str, float]] = []
        if top:
            alts.append((piece, own))
            lp = own
            for k in range(1, top):
                word = words[(h[1 + k % 14] * 31 + k) % len(words)]
                lp = round(lp - 0.25 - h[(k + 3) % 16] / 255, 6)
                alts.append((" " + word, lp))
        out.append((piece, own, alts))
    return out
