"""Gemini generateContent beyond text, both sides: function declarations and calls, JSON output
(``responseMimeType`` / ``responseSchema`` / ``responseJsonSchema``), ``thinkingConfig``.

Server side: :func:`part_text` (what a ``functionCall`` / ``functionResponse`` part counts as in the
prompt) and :func:`parse_extras`; Gemini accepts both proto JSON spellings (``responseSchema`` and
``response_schema``). Client side: :func:`request_fields`, :func:`parse_parts`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from harness.tokenizer import count_tokens
from harness.wire import checks
from harness.wire.extras import GEMINI_TOOL_NAME, Extras, Tool, canonical, check_tool_names
from harness.wire.neutral import RequestInvalid, ToolCall
from harness.wire.schemas import check_openapi, check_supported

__all__ = ["parse_extras", "parse_parts", "part_text", "request_fields"]

_MIME_TYPES = ("text/plain", "application/json", "text/x.enum")
_DYNAMIC_BUDGET = 2048  # thinkingBudget -1 ("dynamic") thinks as if the budget were this
_MAX_BUDGET = 32_768
_compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _get(obj: dict[str, Any], camel: str, snake: str) -> str:
    return snake if snake in obj and camel not in obj else camel


# ---------------------------------------------------------------------------------------- server side
def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def openapi_schema(schema: Any, depth: int = 0) -> Any:
    """A ``Schema`` object with proto JSON's snake_case field names (``property_ordering``) in camelCase, as
    Gemini reads both; property names are left alone."""
    if not isinstance(schema, dict) or depth > 64:
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        name = _camel(key)
        if name == "properties" and isinstance(value, dict):
            out[name] = {k: openapi_schema(v, depth + 1) for k, v in value.items()}
        elif name == "items":
            out[name] = openapi_schema(value, depth + 1)
        elif name == "anyOf" and isinstance(value, list):
            out[name] = [openapi_schema(v, depth + 1) for v in value]
        else:
            out[name] = value
    return out


def part_text(part: dict[str, Any], where: str) -> tuple[str, bool]:
    """``(text the prompt counts, is a function response)`` of one non-text part."""
    key = _get(part, "functionCall", "function_call")
    if key in part:
        call = checks.get_object(part, key, where, required=True)
        name = checks.get_str(call, "name", f"{where}.{key}", required=True)
        return f"{name} {canonical(call.get('args') or {})}", False
    key = _get(part, "functionResponse", "function_response")
    if key in part:
        response = checks.get_object(part, key, where, required=True)
        name = checks.get_str(response, "name", f"{where}.{key}", required=True)
        return f"{name} {canonical(response.get('response') or {})}", True
    return "", False


def _tools(obj: dict[str, Any]) -> tuple[tuple[Tool, ...], int]:
    raw = checks.get_list(obj, "tools")
    if not raw:
        return (), 0
    tools: list[Tool] = []
    for i, item in enumerate(raw):
        where = f"tools[{i}]"
        group = checks.require_object(item, where)
        key = _get(group, "functionDeclarations", "function_declarations")
        if key not in group:
            raise RequestInvalid(where, "the fake provider serves function declarations only", checks.VALUE_CODE)
        for j, decl in enumerate(checks.get_list(group, key, where, required=True)):
            at = f"{where}.{key}[{j}]"
            fn = checks.require_object(decl, at)
            name = checks.get_str(fn, "name", at, required=True)
            if not GEMINI_TOOL_NAME.fullmatch(name):
                raise RequestInvalid(f"{at}.name", "Invalid function name. Must start with a letter or an underscore. "
                                     "Must be a-z, A-Z, 0-9, or contain underscores, dots, colons and dashes, with a "
                                     "maximum length of 64.", checks.VALUE_CODE)  # fmt: skip
            json_key = _get(fn, "parametersJsonSchema", "parameters_json_schema")
            if json_key in fn:
                params = checks.get_object(fn, json_key, at, required=True)
                _supported(params, f"{at}.{json_key}")
            else:
                params = openapi_schema(checks.get_object(fn, "parameters", at) or {"type": "OBJECT", "properties": {}})
                check_openapi(params, f"{at}.parameters")
            tools.append(Tool(name, params))
    check_tool_names(tuple(tools), "tools")
    return tuple(tools), count_tokens(canonical(raw))


def _supported(schema: dict[str, Any], where: str) -> None:
    try:
        check_supported(schema, where)
    except RequestInvalid as exc:
        raise RequestInvalid(where, exc.message, checks.VALUE_CODE) from None


def _tool_config(obj: dict[str, Any], extras: Extras) -> None:
    key = _get(obj, "toolConfig", "tool_config")
    config = checks.get_object(obj, key)
    extras.tool_choice = "auto" if extras.tools else "none"
    if config is None:
        return
    fkey = _get(config, "functionCallingConfig", "function_calling_config")
    calling = checks.get_object(config, fkey, key) or {}
    mode = checks.get_str(calling, "mode", f"{key}.{fkey}") or "AUTO"
    if mode not in ("AUTO", "ANY", "NONE", "VALIDATED", "MODE_UNSPECIFIED"):
        raise RequestInvalid(f"{key}.{fkey}.mode", f'Invalid value ("{mode[:40]}")', checks.VALUE_CODE)
    names_key = _get(calling, "allowedFunctionNames", "allowed_function_names")
    allowed = checks.get_list(calling, names_key, f"{key}.{fkey}")
    if allowed:
        if mode != "ANY":
            raise RequestInvalid(f"{key}.{fkey}", "allowed_function_names may only be set when mode is ANY",
                                 checks.VALUE_CODE)  # fmt: skip
        unknown = [n for n in allowed if all(t.name != n for t in extras.tools)]
        if unknown:
            raise RequestInvalid(f"{key}.{fkey}", f"allowed function {str(unknown[0])[:64]!r} is not declared",
                                 checks.VALUE_CODE)  # fmt: skip
        extras.tools = tuple(t for t in extras.tools if t.name in allowed)
    if mode == "NONE":
        extras.tool_choice = "none"
    elif mode == "ANY":
        extras.tool_choice = "named" if len(extras.tools) == 1 else "required"
        extras.tool_name = extras.tools[0].name if len(extras.tools) == 1 else None


def parse_extras(obj: dict[str, Any], config: dict[str, Any], config_key: str, after_result: bool) -> Extras | None:
    """The non-text asks of a generateContent body, validated; None when there are none."""
    mime_key = _get(config, "responseMimeType", "response_mime_type")
    schema_key = _get(config, "responseSchema", "response_schema")
    json_key = _get(config, "responseJsonSchema", "response_json_schema")
    think_key = _get(config, "thinkingConfig", "thinking_config")
    if "tools" not in obj and not any(k in config for k in (mime_key, schema_key, json_key, think_key)):
        return None
    extras = Extras(after_tool_result=after_result)
    extras.tools, extras.prompt_tokens = _tools(obj)
    extras.tools_text = canonical(obj["tools"]) if extras.prompt_tokens else ""
    _tool_config(obj, extras)
    mime = checks.get_str(config, mime_key, config_key) or "text/plain"
    if mime not in _MIME_TYPES:
        raise RequestInvalid(f"{config_key}.response_mime_type", "allowed mimetypes are `text/plain`, "
                             "`application/json` and `text/x.enum`.", checks.VALUE_CODE)  # fmt: skip
    schema = None
    if schema_key in config:
        schema = openapi_schema(checks.get_object(config, schema_key, config_key, required=True))
        check_openapi(schema, f"{config_key}.response_schema")
    if json_key in config:
        if schema is not None:
            raise RequestInvalid(config_key, "response_schema and response_json_schema cannot both be set",
                                 checks.VALUE_CODE)  # fmt: skip
        schema = checks.get_object(config, json_key, config_key, required=True)
        _supported(schema, f"{config_key}.response_json_schema")
    if schema is not None and mime == "text/plain":
        raise RequestInvalid(f"{config_key}.response_mime_type", "response_mime_type must be application/json or "
                             "text/x.enum when a response schema is set.", checks.VALUE_CODE)  # fmt: skip
    if mime == "application/json":
        extras.output = "schema" if schema is not None else "json"
        extras.schema = schema
        if schema is not None:
            extras.prompt_tokens += count_tokens(canonical(schema))
            extras.tools_text += canonical(schema)
    elif mime == "text/x.enum":
        if schema is None or not schema.get("enum"):
            raise RequestInvalid(f"{config_key}.response_schema", "text/x.enum needs a schema with an enum",
                                 checks.VALUE_CODE)  # fmt: skip
        extras.output, extras.schema = "enum", schema
    thinking = checks.get_object(config, think_key, config_key)
    if thinking is not None:
        where = f"{config_key}.{think_key}"
        budget = checks.get_int(thinking, _get(thinking, "thinkingBudget", "thinking_budget"), where,
                                min=-1, max=_MAX_BUDGET)  # fmt: skip
        include = checks.get_bool(thinking, _get(thinking, "includeThoughts", "include_thoughts"), where)
        extras.thinking_budget = _DYNAMIC_BUDGET if budget in (None, -1) else budget
        extras.show_thoughts = bool(include)
    return extras


# ---------------------------------------------------------------------------------------- client side
def request_fields(
    tools: Sequence[tuple[str, str, dict[str, Any]]],
    tool_choice: str | None,
    schema: dict[str, Any] | None,
    json_mode: bool = False,
    thinking_budget: int | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(top-level fields, generationConfig fields)``; schemas go as ``responseJsonSchema`` /
    ``parametersJsonSchema`` (JSON Schema, not the OpenAPI subset)."""
    top: dict[str, Any] = {}
    config: dict[str, Any] = {}
    if tools:
        top["tools"] = [{"functionDeclarations": [
            {"name": n, "description": d, "parametersJsonSchema": p} for n, d, p in tools
        ]}]  # fmt: skip
        if tool_choice is not None:
            if tool_choice in ("auto", "none"):
                calling: dict[str, Any] = {"mode": tool_choice.upper()}
            elif tool_choice == "required":
                calling = {"mode": "ANY"}
            else:
                calling = {"mode": "ANY", "allowedFunctionNames": [tool_choice]}
            top["toolConfig"] = {"functionCallingConfig": calling}
    if schema is not None:
        config["responseMimeType"] = "application/json"
        config["responseJsonSchema"] = schema
    elif json_mode:
        config["responseMimeType"] = "application/json"
    if thinking_budget is not None:
        config["thinkingConfig"] = {"thinkingBudget": thinking_budget}
    return top, config


def parse_parts(parts: Sequence[dict[str, Any]], prefix: str) -> tuple[str, tuple[ToolCall, ...], str]:
    """``(text, function calls, thoughts)`` of a candidate's parts; calls get ids ``{prefix}-{i}`` when the
    API sends none."""
    text = "".join(p.get("text", "") for p in parts if "text" in p and not p.get("thought"))
    thoughts = "".join(p.get("text", "") for p in parts if p.get("thought"))
    calls = []
    for i, p in enumerate(q for q in parts if "functionCall" in q):
        fc = p["functionCall"]
        calls.append(ToolCall(str(fc.get("id") or f"{prefix}-{i}"), str(fc["name"]), _compact(fc.get("args") or {})))
    return text, tuple(calls), thoughts


def wire_contents(messages: Sequence[Any]) -> list[dict[str, Any]]:
    """Contents with ``functionCall`` parts (assistant tool calls) and ``functionResponse`` parts (tool
    messages, consecutive ones in one user content)."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "tool":
            try:
                result = json.loads(m.content)
            except ValueError:
                result = m.content
            response = result if isinstance(result, dict) else {"result": result}
            part = {"functionResponse": {"name": getattr(m, "name", None) or "", "response": response}}
            if out and out[-1]["role"] == "user" and all("functionResponse" in p for p in out[-1]["parts"]):
                out[-1]["parts"].append(part)
            else:
                out.append({"role": "user", "parts": [part]})
        elif getattr(m, "tool_calls", ()):
            parts: list[dict[str, Any]] = [{"text": m.content}] if m.content else []
            for c in m.tool_calls:
                try:
                    args = json.loads(c.arguments)
                except ValueError:
                    args = {}
                parts.append({"functionCall": {"name": c.name, "args": args if isinstance(args, dict) else {}}})
            out.append({"role": "model", "parts": parts})
        else:
            out.append({"role": "model" if m.role == "assistant" else "user", "parts": [{"text": m.content}]})
    return out
