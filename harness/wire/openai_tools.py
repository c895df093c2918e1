"""OpenAI chat completions beyond text, both sides: tools, ``response_format``, reasoning effort, logprobs.

Server side: :func:`parse_extras` (validation phrased as OpenAI phrases it: an invalid
``response_format`` type, ``top_logprobs`` over 20, a ``tool_choice`` without tools, a strict schema
without ``additionalProperties: false`` …), :func:`message_text` (what an assistant tool call or a
tool result counts as in the prompt), and the answer's pieces: :func:`tool_calls_json`,
:func:`logprobs_json`, :func:`usage_json`. Client side: :func:`request_fields` and
:func:`parse_tool_calls` / :func:`stream_tool_deltas`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from harness.tokenizer import count_tokens
from harness.wire import checks
from harness.wire.extras import TOOL_NAME, Extras, Tool, canonical, check_tool_names
from harness.wire.neutral import Message, RequestInvalid, ToolCall, ToolDelta
from harness.wire.schemas import check_strict, check_supported

__all__ = [
    "EXTRA_KEYS",
    "REASONING_EFFORTS",
    "logprobs_json",
    "message_text",
    "parse_extras",
    "parse_tool_calls",
    "request_fields",
    "stream_tool_deltas",
    "tool_calls_json",
    "usage_json",
]

#: body fields that make a request more than plain text (their presence sends it through parse_extras)
EXTRA_KEYS = frozenset(
    {"tools", "tool_choice", "parallel_tool_calls", "response_format", "logprobs", "top_logprobs", "reasoning_effort"}
)
REASONING_EFFORTS = ("minimal", "low", "medium", "high")
_FORMATS = "'json_object', 'json_schema', and 'text'"
_dumps = json.JSONEncoder(separators=(",", ":")).encode


# ---------------------------------------------------------------------------------------- server side
def message_text(msg: dict[str, Any], where: str, content: str) -> str:
    """An assistant message's text with its tool calls (name and arguments count as prompt tokens)."""
    calls = checks.get_list(msg, "tool_calls", where)
    if not calls:
        return content
    parts = [content] if content else []
    for i, item in enumerate(calls):
        at = f"{where}.tool_calls[{i}]"
        call = checks.require_object(item, at)
        checks.get_str(call, "id", at, required=True)
        function = checks.get_object(call, "function", at, required=True)
        name = checks.get_str(function, "name", f"{at}.function", required=True)
        arguments = checks.get_str(function, "arguments", f"{at}.function", required=True)
        parts.append(f"{name} {arguments}")
    return "\n".join(parts)


def tool_items(obj: dict[str, Any]) -> list[Any]:
    """The ``tools`` array (at most 128), or an empty list."""
    raw = checks.get_list(obj, "tools")
    if raw is None:
        return []
    if len(raw) > 128:
        raise RequestInvalid("tools", f"array too long. Expected an array with maximum length 128, but got {len(raw)}")
    return list(raw)


def sum_up(extras: Extras, tools: object, messages: Sequence[Message]) -> None:
    """What every OpenAI request with extras works out last: whether a tool result follows the last
    user message (the ``auto`` rule), and the prompt tokens the tools (``tools``: as sent) and schema add."""
    roles = [role for role, _ in messages]
    last_user = max((i for i, r in enumerate(roles) if r == "user"), default=-1)
    last_tool = max((i for i, r in enumerate(roles) if r == "tool"), default=-1)
    extras.after_tool_result = last_tool > last_user
    extras.tools_text = canonical(tools) if extras.tools else ""
    if extras.schema is not None:
        extras.tools_text += canonical(extras.schema)
    extras.prompt_tokens = count_tokens(extras.tools_text)


def _tools(obj: dict[str, Any]) -> tuple[Tool, ...]:
    raw = tool_items(obj)
    tools = []
    for i, item in enumerate(raw):
        where = f"tools[{i}]"
        tool = checks.require_object(item, where)
        kind = checks.get_str(tool, "type", where, required=True)
        if kind != "function":
            raise RequestInvalid(f"{where}.type", f"expected 'function', got {kind!r}", checks.VALUE_CODE)
        function = checks.get_object(tool, "function", where, required=True)
        name = checks.get_str(function, "name", f"{where}.function", required=True)
        if not TOOL_NAME.fullmatch(name):
            raise RequestInvalid(
                f"{where}.function.name",
                f"string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$' "
                f"of at most 64 characters, got {name[:80]!r}",
                checks.VALUE_CODE,
            )
        params = checks.get_object(function, "parameters", f"{where}.function")
        params = params if params is not None else {"type": "object", "properties": {}}
        strict = checks.get_bool(function, "strict", f"{where}.function")
        check_schema(params, f"{where}.function.parameters", name if strict else None)
        tools.append(Tool(name, params))
    check_tool_names(tuple(tools), "tools")
    return tuple(tools)


def check_schema(schema: dict[str, Any], param: str, strict_name: str | None) -> None:
    """A schema the generator can honour, and OpenAI's strict rules when ``strict_name`` is given."""
    try:
        check_supported(schema, param)
        if strict_name is not None:
            check_strict(schema, strict_name)
    except RequestInvalid as exc:
        raise RequestInvalid(exc.param or param, exc.message, exc.code or checks.VALUE_CODE) from None


def _tool_choice(obj: dict[str, Any], extras: Extras) -> None:
    choice = obj.get("tool_choice")
    if choice is None:
        extras.tool_choice = "auto" if extras.tools else "none"
        return
    if not extras.tools:
        raise RequestInvalid(
            "tool_choice", "'tool_choice' is only allowed when 'tools' are specified.", checks.VALUE_CODE
        )
    if isinstance(choice, str):
        if choice not in ("none", "auto", "required"):
            raise RequestInvalid("tool_choice", f"expected 'none', 'auto' or 'required', got {choice[:40]!r}")
        extras.tool_choice = choice
        return
    if not isinstance(choice, dict):
        raise RequestInvalid("tool_choice", f"expected a string or an object, got {checks.kind_of(choice)}")
    if checks.get_str(choice, "type", "tool_choice", required=True) != "function":
        raise RequestInvalid("tool_choice.type", "expected 'function'", checks.VALUE_CODE)
    name = checks.get_str(checks.get_object(choice, "function", "tool_choice", required=True), "name",
                          "tool_choice.function", required=True)  # fmt: skip
    if all(t.name != name for t in extras.tools):
        raise RequestInvalid(
            "tool_choice", f"Tool choice '{name[:64]}' was not found in 'tools'.", checks.VALUE_CODE
        )
    extras.tool_choice, extras.tool_name = "named", name


def _response_format(obj: dict[str, Any], extras: Extras, messages: Sequence[Message]) -> None:
    fmt = checks.get_object(obj, "response_format")
    if fmt is None:
        return
    kind = checks.get_str(fmt, "type", "response_format", required=True)
    if kind == "text":
        return
    if kind == "json_object":
        if not any("json" in text.lower() for role, text in messages if role in ("system", "user")):
            raise RequestInvalid(
                "messages",
                "'messages' must contain the word 'json' in some form, to use 'response_format' of type "
                "'json_object'.",
                checks.VALUE_CODE,
            )
        extras.output = "json"
        return
    if kind != "json_schema":
        raise RequestInvalid(
            "response_format.type",
            f"Invalid value: '{kind[:40]}'. Supported values are: {_FORMATS}.",
            checks.VALUE_CODE,
        )
    spec = checks.get_object(fmt, "json_schema", "response_format", required=True)
    name = checks.get_str(spec, "name", "response_format.json_schema", required=True, nonempty=True)
    if not TOOL_NAME.fullmatch(name):
        raise RequestInvalid("response_format.json_schema.name", "expected a name matching ^[a-zA-Z0-9_-]{1,64}$")
    schema = checks.get_object(spec, "schema", "response_format.json_schema")
    schema = schema if schema is not None else {}
    strict = checks.get_bool(spec, "strict", "response_format.json_schema")
    check_schema(schema, "response_format.json_schema.schema", name if strict else None)
    extras.output, extras.schema, extras.schema_name = "schema", schema, name


def parse_extras(obj: dict[str, Any], messages: Sequence[Message], has_tool_messages: bool) -> Extras | None:
    """The non-text asks of a chat completions body, validated; None when there are none."""
    if not has_tool_messages and EXTRA_KEYS.isdisjoint(obj):
        return None
    extras = Extras()
    extras.tools = _tools(obj)
    _tool_choice(obj, extras)
    parallel = checks.get_bool(obj, "parallel_tool_calls")
    extras.parallel_tools = parallel is not False
    _response_format(obj, extras, messages)
    logprobs = checks.get_bool(obj, "logprobs")
    top = checks.get_int(obj, "top_logprobs")
    if top is not None:
        if top > 20:
            raise RequestInvalid(
                "top_logprobs",
                f"Invalid 'top_logprobs': integer above maximum value. Expected a value <= 20, but got {top} instead.",
                "integer_above_max_value",
            )
        if top < 0:
            raise RequestInvalid(
                "top_logprobs",
                f"Invalid 'top_logprobs': integer below minimum value. Expected a value >= 0, but got {top} instead.",
                "integer_below_min_value",
            )
        if not logprobs:
            raise RequestInvalid("top_logprobs", "'logprobs' must be set to true to use 'top_logprobs'",
                                 checks.VALUE_CODE)  # fmt: skip
    extras.logprobs, extras.top_logprobs = bool(logprobs), top or 0
    effort = checks.get_str(obj, "reasoning_effort")
    if effort is not None and effort not in REASONING_EFFORTS:
        shown = ", ".join(f"'{e}'" for e in REASONING_EFFORTS)
        raise RequestInvalid("reasoning_effort", f"Invalid value: '{effort[:40]}'. Supported values are: {shown}.",
                             checks.VALUE_CODE)  # fmt: skip
    extras.reasoning_effort = effort
    sum_up(extras, obj.get("tools"), messages)
    return extras


def check_tool_sequence(raw: Sequence[Any]) -> None:
    """A ``tool`` message answers a preceding assistant message with ``tool_calls`` (OpenAI refuses others)."""
    open_calls: set[str] = set()
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            continue
        role = item.get("role")
        if role == "assistant":
            open_calls = {str(c.get("id")) for c in item.get("tool_calls") or () if isinstance(c, dict)}
        elif role == "tool":
            call_id = checks.get_str(item, "tool_call_id", f"messages[{i}]", required=True)
            if call_id not in open_calls:
                raise RequestInvalid(
                    f"messages.[{i}].role",
                    "messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
                )
        elif role not in ("tool",):
            open_calls = set()


def tool_calls_json(calls: Sequence[ToolCall]) -> str:
    return _dumps(
        [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in calls]
    )


def usage_json(prompt: int, output: int, cached: int = 0, reasoning: int = 0) -> str:
    return (
        f'{{"prompt_tokens":{prompt},"completion_tokens":{output},"total_tokens":{prompt + output},'
        f'"prompt_tokens_details":{{"cached_tokens":{cached},"audio_tokens":0}},'
        f'"completion_tokens_details":{{"reasoning_tokens":{reasoning},"audio_tokens":0,'
        '"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}'
    )


def logprobs_json(entries: Sequence[tuple[str, float, Sequence[tuple[str, float]]]]) -> str:
    """``{"content": [...], "refusal": null}`` from (token, logprob, top alternatives) per output token."""
    content = [
        {
            "token": token,
            "logprob": lp,
            "bytes": list(token.encode()),
            "top_logprobs": [{"token": t, "logprob": v, "bytes": list(t.encode())} for t, v in top],
        }
        for token, lp, top in entries
    ]
    return _dumps({"content": content, "refusal": None})


# ---------------------------------------------------------------------------------------- client side
def request_fields(
    tools: Sequence[tuple[str, str, dict[str, Any]]],
    tool_choice: str | None,
    schema: tuple[str, dict[str, Any], bool] | None,
    json_mode: bool = False,
) -> dict[str, Any]:
    """Body fields for (name, description, parameters) tools, a tool choice ("auto", "required", "none" or a
    tool's name) and a (name, schema, strict) structured-output schema."""
    out: dict[str, Any] = {}
    if tools:
        out["tools"] = [
            {"type": "function", "function": {"name": n, "description": d, "parameters": p}} for n, d, p in tools
        ]
        if tool_choice is not None:
            out["tool_choice"] = (
                tool_choice
                if tool_choice in ("auto", "required", "none")
                else {"type": "function", "function": {"name": tool_choice}}
            )
    if schema is not None:
        name, body, strict = schema
        spec = {"name": name, "schema": body, "strict": strict}
        out["response_format"] = {"type": "json_schema", "json_schema": spec}
    elif json_mode:
        out["response_format"] = {"type": "json_object"}
    return out


def parse_tool_calls(message: dict[str, Any]) -> tuple[ToolCall, ...]:
    calls = message.get("tool_calls") or ()
    return tuple(
        ToolCall(str(c.get("id") or ""), str(c["function"]["name"]), str(c["function"].get("arguments") or ""))
        for c in calls
    )


def stream_tool_deltas(delta: dict[str, Any]) -> tuple[ToolDelta, ...]:
    out = []
    for item in delta.get("tool_calls") or ():
        function = item.get("function") or {}
        out.append(ToolDelta(int(item.get("index", 0)), item.get("id"), function.get("name"),
                             function.get("arguments") or ""))  # fmt: skip
    return tuple(out)


def wire_messages(messages: Sequence[Any]) -> list[dict[str, Any]]:
    """Chat messages with tool calls (assistant) and tool results (``tool`` with ``tool_call_id``)."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if isinstance(m, tuple):
            out.append({"role": m[0], "content": m[1]})
            continue
        item: dict[str, Any] = {"role": m.role, "content": m.content}
        calls = getattr(m, "tool_calls", ())
        if calls:
            item["content"] = m.content or None
            item["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in calls
            ]
        if m.role == "tool":
            item["tool_call_id"] = getattr(m, "tool_call_id", None) or ""
        out.append(item)
    return out
