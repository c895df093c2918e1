"""Anthropic messages beyond text, both sides: tools, ``tool_use`` / ``tool_result``, extended thinking,
``cache_control`` breakpoints.

Server side: :func:`parse_content` reads a message's content blocks (text, ``tool_use``,
``tool_result``, thinking, images) into the text the prompt counts and notes each ``cache_control``
breakpoint at its token offset; :func:`parse_extras` validates ``tools``, ``tool_choice`` and
``thinking`` the way the API does (``budget_tokens`` ≥ 1024 and below ``max_tokens``, no forced tool
with thinking, temperature 1 only, at most four breakpoints). Client side: :func:`request_fields`,
:func:`parse_blocks`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from harness.tokenizer import MESSAGE_OVERHEAD, count_tokens
from harness.wire import checks
from harness.wire.extras import TOOL_NAME, CacheMark, Extras, Tool, canonical, check_tool_names, prefix_hasher
from harness.wire.neutral import RequestInvalid, ToolCall
from harness.wire.schemas import check_supported

__all__ = ["CacheState", "has_breakpoints", "parse_blocks", "parse_content", "parse_extras", "request_fields"]

_TTL = {"5m": 300.0, "1h": 3600.0}
_compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
MAX_BREAKPOINTS = 4


class CacheState:
    """The prompt read so far: its running hash, its token count and the breakpoints met."""

    __slots__ = ("active", "hasher", "marks", "tokens", "tool_uses")

    def __init__(self, active: bool = True) -> None:
        self.active = active  # False: no block has a breakpoint, so nothing is hashed or counted
        self.hasher = prefix_hasher()
        self.tokens = 0
        self.marks: list[CacheMark] = []
        self.tool_uses: set[str] = set()  # ids of the previous assistant message's tool_use blocks

    def block(self, block: dict[str, Any], text: str, where: str) -> None:
        """Account for one block of the prompt (its canonical form, its tokens), then its breakpoint."""
        if not self.active:
            return
        self.hasher.update(canonical({k: v for k, v in block.items() if k != "cache_control"}).encode())
        self.tokens += count_tokens(text)
        control = block.get("cache_control")
        if control is None:
            return
        control = checks.require_object(control, f"{where}.cache_control")
        if checks.get_str(control, "type", f"{where}.cache_control", required=True) != "ephemeral":
            raise RequestInvalid(f"{where}.cache_control.type", "Input should be 'ephemeral'")
        ttl = checks.get_str(control, "ttl", f"{where}.cache_control") or "5m"
        if ttl not in _TTL:
            raise RequestInvalid(f"{where}.cache_control.ttl", "Input should be '5m' or '1h'")
        if len(self.marks) >= MAX_BREAKPOINTS:
            raise RequestInvalid(None, f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
                                 f"Found {len(self.marks) + 1}.")  # fmt: skip
        self.marks.append(CacheMark(self.tokens, self.hasher.copy().digest(), _TTL[ttl]))

    def message(self, role: str) -> None:
        """A new message begins: its template tokens count before its blocks."""
        if not self.active:
            return
        self.hasher.update(f"\x1e{role}".encode())
        self.tokens += MESSAGE_OVERHEAD + count_tokens(role)


def has_breakpoints(obj: dict[str, Any]) -> bool:
    """Whether any tool, system block or message block carries ``cache_control`` (a cheap look first)."""
    lists: list[Any] = [obj.get("tools"), obj.get("system")]
    lists += [m.get("content") for m in obj.get("messages") or () if isinstance(m, dict)]
    return any(
        isinstance(blocks, list) and any(isinstance(b, dict) and "cache_control" in b for b in blocks)
        for blocks in lists
    )


def parse_content(content: object, param: str, role: str, cache: CacheState) -> tuple[str, bool]:
    """``(text the prompt counts, holds a tool_result)`` of a string or an array of content blocks."""
    if isinstance(content, str):
        cache.block({"type": "text", "text": content}, content, param)
        return content, False
    if not isinstance(content, list):
        raise RequestInvalid(param, f"expected a string or an array of content blocks, got {checks.kind_of(content)}")
    texts: list[str] = []
    results = False
    uses: set[str] = set()
    for i, item in enumerate(content):
        where = f"{param}.{i}"
        block = checks.require_object(item, where)
        kind = checks.get_str(block, "type", where, required=True)
        text = ""
        if kind == "text":
            text = checks.get_str(block, "text", where, required=True)
        elif kind == "tool_use":
            if role != "assistant":
                raise RequestInvalid(where, "tool_use blocks are only allowed in assistant messages")
            uses.add(checks.get_str(block, "id", where, required=True))
            name = checks.get_str(block, "name", where, required=True)
            text = f"{name} {canonical(checks.get_object(block, 'input', where, required=True))}"
        elif kind == "tool_result":
            if role != "user":
                raise RequestInvalid(where, "tool_result blocks are only allowed in user messages")
            use_id = checks.get_str(block, "tool_use_id", where, required=True)
            if use_id not in cache.tool_uses:
                raise RequestInvalid(
                    None,
                    f"{where}: unexpected `tool_use_id` found in `tool_result` blocks: {use_id[:64]}. Each "
                    "`tool_result` block must have a corresponding `tool_use` block in the previous message.",
                )
            results = True
            inner = block.get("content")
            if inner is not None:
                if isinstance(inner, str):
                    text = inner
                else:
                    parts = checks.get_list(block, "content", where) or []
                    text = "\n".join(
                        checks.get_str(checks.require_object(p, f"{where}.content.{j}"), "text", f"{where}.content.{j}")
                        or ""
                        for j, p in enumerate(parts)
                    )
        elif kind in ("thinking", "redacted_thinking"):
            if role != "assistant":
                raise RequestInvalid(where, f"{kind} blocks are only allowed in assistant messages")
            # earlier turns' thinking is not part of the prompt the model reads (the API strips it)
        elif kind not in ("image", "document", "search_result"):
            raise RequestInvalid(f"{where}.type", f"unknown content block type {kind[:40]!r}")
        cache.block(block, text, where)
        if text:
            texts.append(text)
    cache.tool_uses = uses if role == "assistant" else set()
    return "\n".join(texts), results


def parse_tools(obj: dict[str, Any], cache: CacheState) -> tuple[tuple[Tool, ...], int]:
    """The ``tools`` (custom tools only) and the prompt tokens their definitions add."""
    raw = checks.get_list(obj, "tools")
    if not raw:
        return (), 0
    tools = []
    tokens = 0
    for i, item in enumerate(raw):
        where = f"tools.{i}"
        tool = checks.require_object(item, where)
        kind = tool.get("type")
        if kind not in (None, "custom"):
            raise RequestInvalid(f"{where}.type", f"the fake provider serves custom tools only, got {str(kind)[:40]!r}")
        name = checks.get_str(tool, "name", where, required=True)
        if not TOOL_NAME.fullmatch(name):
            raise RequestInvalid(f"{where}.name", "String should match pattern '^[a-zA-Z0-9_-]{1,64}$'")
        schema = checks.get_object(tool, "input_schema", where, required=True)
        if schema.get("type") != "object":
            raise RequestInvalid(f"{where}.input_schema.type", "Input should be 'object'")
        try:
            check_supported(schema, f"{where}.input_schema")
        except RequestInvalid as exc:
            raise RequestInvalid(None, exc.message) from None
        definition = canonical({k: v for k, v in tool.items() if k != "cache_control"})
        tokens += count_tokens(definition)
        cache.block(tool, definition, where)
        tools.append(Tool(name, schema))
    check_tool_names(tuple(tools), "tools")
    return tuple(tools), tokens


def parse_extras(
    obj: dict[str, Any],
    tools: tuple[Tool, ...],
    tool_tokens: int,
    cache: CacheState,
    after_tool_result: bool,
    max_tokens: int,
) -> Extras | None:
    """The non-text asks of a messages body, validated; None when there are none."""
    thinking = checks.get_object(obj, "thinking")
    if not tools and thinking is None and not cache.marks and "tool_choice" not in obj:
        return None
    extras = Extras(tools=tools, after_tool_result=after_tool_result, cache_marks=tuple(cache.marks))
    extras.prompt_tokens = tool_tokens
    extras.tool_choice = "auto" if tools else "none"
    choice = checks.get_object(obj, "tool_choice")
    if choice is not None:
        kind = checks.get_str(choice, "type", "tool_choice", required=True)
        if kind not in ("auto", "any", "tool", "none"):
            raise RequestInvalid("tool_choice.type", "Input should be 'auto', 'any', 'tool' or 'none'")
        if kind != "none" and not tools:
            raise RequestInvalid(None, "tool_choice may only be specified while providing tools.")
        disable = checks.get_bool(choice, "disable_parallel_tool_use", "tool_choice")
        extras.parallel_tools = not disable
        extras.tool_choice = {"any": "required", "tool": "named"}.get(kind, kind)
        if kind == "tool":
            name = checks.get_str(choice, "name", "tool_choice", required=True)
            if all(t.name != name for t in tools):
                raise RequestInvalid(None, f"Tool '{name[:64]}' not found in provided tools")
            extras.tool_name = name
    if thinking is not None:
        kind = checks.get_str(thinking, "type", "thinking", required=True)
        if kind == "enabled":
            budget = checks.get_int(thinking, "budget_tokens", "thinking", required=True)
            if budget < 1024:
                raise RequestInvalid("thinking.enabled.budget_tokens", "Input should be greater than or equal to 1024")
            if budget >= max_tokens:
                raise RequestInvalid(None, "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult "
                                     "our documentation at https://docs.claude.com/en/docs/build-with-claude/"
                                     "extended-thinking#max-tokens-and-context-window-size")  # fmt: skip
            if extras.tool_choice in ("required", "named"):
                raise RequestInvalid(None, "Thinking may not be enabled when tool_choice forces tool use.")
            temperature = obj.get("temperature")
            if temperature is not None and temperature != 1:
                raise RequestInvalid(None, "`temperature` may only be set to 1 when thinking is enabled. Please "
                                     "consult our documentation at https://docs.claude.com/en/docs/build-with-claude/"
                                     "extended-thinking#feature-compatibility")  # fmt: skip
            extras.thinking_budget, extras.show_thoughts = budget, True
        elif kind != "disabled":
            raise RequestInvalid("thinking.type", "Input should be 'enabled' or 'disabled'")
    return extras


# ---------------------------------------------------------------------------------------- client side
def request_fields(
    tools: Sequence[tuple[str, str, dict[str, Any]]], tool_choice: str | None, thinking_budget: int | None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if tools:
        out["tools"] = [{"name": n, "description": d, "input_schema": p} for n, d, p in tools]
        if tool_choice is not None:
            out["tool_choice"] = (
                {"type": {"required": "any"}.get(tool_choice, tool_choice)}
                if tool_choice in ("auto", "required", "none")
                else {"type": "tool", "name": tool_choice}
            )
    if thinking_budget is not None:
        out["thinking"] = {"type": "enabled", "budget_tokens": thinking_budget}
    return out


def parse_blocks(blocks: Sequence[dict[str, Any]]) -> tuple[str, tuple[ToolCall, ...], str]:
    """``(text, tool calls, thinking)`` of a message's content blocks."""
    text = "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
    thinking = "".join(b.get("thinking", "") for b in blocks if b.get("type") == "thinking")
    calls = tuple(
        ToolCall(str(b.get("id") or ""), str(b["name"]), _compact(b.get("input") or {}))
        for b in blocks
        if b.get("type") == "tool_use"
    )
    return text, calls, thinking


def _input(arguments: str) -> Any:
    try:
        value = json.loads(arguments)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def wire_messages(messages: Sequence[Any]) -> list[dict[str, Any]]:
    """Messages with ``tool_use`` blocks (assistant tool calls) and ``tool_result`` blocks (tool messages,
    consecutive ones in one user message, as the API wants them)."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "tool":
            block = {"type": "tool_result", "tool_use_id": m.tool_call_id or "", "content": m.content}
            if out and out[-1]["role"] == "user" and isinstance(out[-1]["content"], list) and all(
                b.get("type") == "tool_result" for b in out[-1]["content"]
            ):
                out[-1]["content"].append(block)
            else:
                out.append({"role": "user", "content": [block]})
        elif getattr(m, "tool_calls", ()):
            blocks: list[dict[str, Any]] = [{"type": "text", "text": m.content}] if m.content else []
            blocks += [{"type": "tool_use", "id": c.id, "name": c.name, "input": _input(c.arguments)}
                       for c in m.tool_calls]  # fmt: skip
            out.append({"role": "assistant", "content": blocks})
        else:
            out.append({"role": m.role, "content": m.content})
        ttl = getattr(m, "cache_ttl", None)
        if ttl:
            content = out[-1]["content"]
            if isinstance(content, str):
                content = out[-1]["content"] = [{"type": "text", "text": content}]
            content[-1]["cache_control"] = _control(ttl)
    return out


def _control(ttl: str) -> dict[str, str]:
    return {"type": "ephemeral"} if ttl == "5m" else {"type": "ephemeral", "ttl": ttl}


def wire_system(messages: Sequence[Any]) -> str | list[dict[str, Any]]:
    """The ``system`` field: text, or text blocks when a system message carries a cache breakpoint."""
    if not any(getattr(m, "cache_ttl", None) for m in messages):
        return "\n".join(m.content for m in messages)
    blocks: list[dict[str, Any]] = []
    for m in messages:
        block: dict[str, Any] = {"type": "text", "text": m.content}
        if m.cache_ttl:
            block["cache_control"] = _control(m.cache_ttl)
        blocks.append(block)
    return blocks
