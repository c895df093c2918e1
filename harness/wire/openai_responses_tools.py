"""The Responses API beyond text, both sides: function tools, ``tool_choice``, ``text.format``.

The Responses API spells these differently from chat completions: a function tool is flat
(``{"type": "function", "name", "parameters", "strict"}``), a named choice is ``{"type": "function",
"name"}``, structured output is ``text.format`` (``{"type": "json_schema", "name", "schema",
"strict"}`` or ``{"type": "json_object"}``), a call is a ``function_call`` output item (``call_id``,
``arguments``) and its result a ``function_call_output`` input item. The answer's rules (when a tool is
called, what the arguments are) are those of chat completions (:class:`~harness.wire.extras.Extras`).

Server side: :func:`parse_extras`. Client side: :func:`request_fields`, :func:`input_items`,
:func:`parse_calls`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.wire import checks, openai_tools
from harness.wire.extras import TOOL_NAME, Extras, Tool, check_tool_names
from harness.wire.neutral import Message, RequestInvalid, ToolCall

__all__ = ["EXTRA_KEYS", "input_items", "parse_calls", "parse_extras", "request_fields"]

#: body fields that make a Responses request more than plain text
EXTRA_KEYS = frozenset({"tools", "tool_choice", "text"})
_FORMATS = "'text', 'json_object', and 'json_schema'"


# ---------------------------------------------------------------------------------------- server side
def _check_schema(schema: dict[str, Any], param: str, strict_name: str | None) -> None:
    """As chat completions checks a schema, the error naming ``param`` (the Responses field)."""
    try:
        openai_tools.check_schema(schema, param, strict_name)
    except RequestInvalid as exc:
        raise RequestInvalid(param, exc.message, exc.code) from None


def _tools(obj: dict[str, Any]) -> tuple[Tool, ...]:
    tools = []
    for i, item in enumerate(openai_tools.tool_items(obj)):
        where = f"tools[{i}]"
        tool = checks.require_object(item, where)
        kind = checks.get_str(tool, "type", where, required=True)
        if kind != "function":
            raise RequestInvalid(
                f"{where}.type",
                f"the fake provider serves function tools only, not {kind[:40]!r} (hosted tools run on OpenAI's side)",
                checks.VALUE_CODE,
            )
        name = checks.get_str(tool, "name", where, required=True)
        if not TOOL_NAME.fullmatch(name):
            raise RequestInvalid(
                f"{where}.name",
                f"Invalid '{where}.name': string does not match pattern. Expected a string that matches the "
                f"pattern '^[a-zA-Z0-9_-]+$'.",
                checks.VALUE_CODE,
            )
        params = checks.get_object(tool, "parameters", where)
        params = params if params is not None else {"type": "object", "properties": {}}
        strict = checks.get_bool(tool, "strict", where)
        _check_schema(params, f"{where}.parameters", name if strict else None)
        tools.append(Tool(name, params))
    check_tool_names(tuple(tools), "tools")
    return tuple(tools)


def _tool_choice(obj: dict[str, Any], extras: Extras) -> None:
    choice = obj.get("tool_choice")
    if choice is None:
        extras.tool_choice = "auto" if extras.tools else "none"
        return
    if isinstance(choice, str):
        if choice not in ("none", "auto", "required"):
            raise RequestInvalid(
                "tool_choice", f"Invalid value: '{choice[:40]}'. Supported values are: 'none', 'auto', and 'required'.",
                checks.VALUE_CODE,
            )  # fmt: skip
        if choice == "required" and not extras.tools:
            raise RequestInvalid("tool_choice", "Tool choice 'required' must be used with tools.", checks.VALUE_CODE)
        extras.tool_choice = choice if extras.tools else "none"
        return
    if not isinstance(choice, dict):
        raise RequestInvalid("tool_choice", f"expected a string or an object, got {checks.kind_of(choice)}")
    kind = checks.get_str(choice, "type", "tool_choice", required=True)
    if kind != "function":
        raise RequestInvalid("tool_choice.type", f"the fake provider names function tools only, not {kind[:40]!r}",
                             checks.VALUE_CODE)  # fmt: skip
    name = checks.get_str(choice, "name", "tool_choice", required=True)
    if all(t.name != name for t in extras.tools):
        raise RequestInvalid("tool_choice", f"Tool choice '{name[:64]}' not found in 'tools' parameter.",
                             checks.VALUE_CODE)  # fmt: skip
    extras.tool_choice, extras.tool_name = "named", name


def _text_format(obj: dict[str, Any], extras: Extras, messages: Sequence[Message]) -> None:
    text = checks.get_object(obj, "text")
    fmt = checks.get_object(text, "format", "text") if text is not None else None
    if fmt is None:
        return
    kind = checks.get_str(fmt, "type", "text.format", required=True)
    if kind == "text":
        return
    if kind == "json_object":
        if not any("json" in content.lower() for _, content in messages):
            raise RequestInvalid(
                "input",
                "Response input messages must contain the word 'json' in some form to use 'text.format' of type "
                "'json_object'.",
                checks.VALUE_CODE,
            )
        extras.output = "json"
        return
    if kind != "json_schema":
        raise RequestInvalid(
            "text.format.type", f"Invalid value: '{kind[:40]}'. Supported values are: {_FORMATS}.", checks.VALUE_CODE
        )
    name = checks.get_str(fmt, "name", "text.format", required=True, nonempty=True)
    if not TOOL_NAME.fullmatch(name):
        raise RequestInvalid("text.format.name", "expected a name matching ^[a-zA-Z0-9_-]{1,64}$", checks.VALUE_CODE)
    schema = checks.get_object(fmt, "schema", "text.format", required=True)
    strict = checks.get_bool(fmt, "strict", "text.format")
    _check_schema(schema, "text.format.schema", name if strict else None)
    extras.output, extras.schema, extras.schema_name = "schema", schema, name


def parse_extras(obj: dict[str, Any], messages: Sequence[Message]) -> Extras | None:
    """The tools and structured-output asks of a Responses body, validated; None when there are none."""
    has_results = any(role == "tool" for role, _ in messages)
    if not has_results and EXTRA_KEYS.isdisjoint(obj):
        return None
    extras = Extras()
    extras.tools = _tools(obj)
    _tool_choice(obj, extras)
    extras.parallel_tools = checks.get_bool(obj, "parallel_tool_calls") is not False
    _text_format(obj, extras, messages)
    openai_tools.sum_up(extras, obj.get("tools"), messages)
    if not extras.tools and extras.output == "text":
        return None
    return extras


def check_call_outputs(items: Sequence[Any]) -> None:
    """Every ``function_call_output`` answers a ``function_call`` earlier in ``input`` (OpenAI refuses others)."""
    calls: set[str] = set()
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        if item.get("type") == "function_call":
            calls.add(str(item.get("call_id")))
        elif item.get("type") == "function_call_output" and str(item.get("call_id")) not in calls:
            raise RequestInvalid(
                f"input[{i}]",
                f"No tool call found for function call output with call_id {str(item.get('call_id'))[:64]}.",
                checks.VALUE_CODE,
            )


# ---------------------------------------------------------------------------------------- client side
def request_fields(
    tools: Sequence[tuple[str, str, dict[str, Any]]],
    tool_choice: str | None,
    schema: tuple[str, dict[str, Any], bool] | None,
    json_mode: bool = False,
) -> dict[str, Any]:
    """Body fields for (name, description, parameters) tools, a tool choice ("auto", "required", "none" or
    a tool's name) and a (name, schema, strict) structured-output schema. Tools are sent with ``strict:
    false`` (the API's default is strict, which refuses most hand-written schemas)."""
    out: dict[str, Any] = {}
    if tools:
        out["tools"] = [
            {"type": "function", "name": n, "description": d, "parameters": p, "strict": False} for n, d, p in tools
        ]
        if tool_choice is not None:
            named = tool_choice not in ("auto", "required", "none")
            out["tool_choice"] = {"type": "function", "name": tool_choice} if named else tool_choice
    if schema is not None:
        name, body, strict = schema
        out["text"] = {"format": {"type": "json_schema", "name": name, "schema": body, "strict": strict}}
    elif json_mode:
        out["text"] = {"format": {"type": "json_object"}}
    return out


def input_items(role: str, content: str, calls: Sequence[ToolCall], call_id: str | None) -> list[dict[str, Any]]:
    """The ``input`` items of one message: an assistant's text and its ``function_call`` items, a tool
    result as a ``function_call_output``, anything else as a message."""
    if role == "tool":
        return [{"type": "function_call_output", "call_id": call_id or "", "output": content}]
    items: list[dict[str, Any]] = []
    if content or not calls:
        items.append({"role": role, "content": content})
    items += [{"type": "function_call", "call_id": c.id, "name": c.name, "arguments": c.arguments} for c in calls]
    return items


def parse_calls(output: Sequence[Any]) -> tuple[ToolCall, ...]:
    """The ``function_call`` items of a response's ``output``, as tool calls (``id`` is the ``call_id``)."""
    return tuple(
        ToolCall(str(item.get("call_id") or ""), str(item["name"]), str(item.get("arguments") or ""))
        for item in output
        if isinstance(item, dict) and item.get("type") == "function_call"
    )
