"""OpenAI chat completions and embeddings requests, as the server reads them (the fake provider).

:func:`parse_chat` and :func:`parse_embeddings` validate a body and answer the neutral call, or raise
:class:`~harness.wire.neutral.RequestInvalid` naming the field; :func:`harness.wire.openai.invalid_body`
phrases that as OpenAI does. Tools and the other extras are read by :mod:`harness.wire.openai_tools`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.tokenizer import count_tokens
from harness.wire import checks, openai_tools
from harness.wire.neutral import ChatCall, EmbeddingCall, Message, RequestInvalid

__all__ = ["parse_chat", "parse_embeddings"]

#: OpenAI roles → the neutral ones the tokenizer counts (developer is the new name for system)
_ROLES = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
    "tool": "tool",
    "function": "tool",
}


def _content_text(content: object, param: str) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    if not isinstance(content, list):
        raise RequestInvalid(
            param,
            f"expected a string or an array of content parts, but got {checks.kind_of(content)}",
            checks.TYPE_CODE,
        )
    texts = []
    for i, part in enumerate(content):
        where = f"{param}[{i}]"
        part = checks.require_object(part, where)
        kind = checks.get_str(part, "type", where, required=True)
        if kind in ("text", "refusal"):
            texts.append(checks.get_str(part, kind, where, required=True))
    return "\n".join(texts)


def _n(obj: dict[str, Any], key: str) -> None:
    if checks.get_int(obj, key, min=1, max=128) not in (None, 1):
        raise RequestInvalid(key, "the fake provider generates one choice; expected n = 1", checks.VALUE_CODE)


#: optional fields that only need validating, checked only when present (the hot path skips the rest)
_OPTIONAL: dict[str, Callable[[dict[str, Any], str], object]] = {
    "top_p": lambda o, k: checks.get_number(o, k, min=0, max=1),
    "presence_penalty": lambda o, k: checks.get_number(o, k, min=-2, max=2),
    "frequency_penalty": lambda o, k: checks.get_number(o, k, min=-2, max=2),
    "seed": lambda o, k: checks.get_int(o, k),
    "user": lambda o, k: checks.get_str(o, k),
    "n": _n,
}
_OPTIONAL_KEYS = frozenset(_OPTIONAL)


def _message(item: object, i: int) -> Message:
    where = f"messages[{i}]"
    msg = checks.require_object(item, where)
    role = checks.get_str(msg, "role", where, required=True)
    if role not in _ROLES:
        allowed = "'system', 'developer', 'user', 'assistant', 'tool', 'function'"
        raise RequestInvalid(f"{where}.role", f"expected one of {allowed}, but got {role!r}", checks.VALUE_CODE)
    content = _content_text(msg.get("content"), f"{where}.content")
    if role == "assistant" and "tool_calls" in msg:
        content = openai_tools.message_text(msg, where, content)
    return _ROLES[role], content


def parse_chat(body: object) -> ChatCall:
    """Validate a chat completions body; raises :class:`RequestInvalid` naming the field.

    Common valid shapes take a fast path; anything else goes through :mod:`harness.wire.checks`,
    which names the field in its error.
    """
    obj = body if type(body) is dict else checks.require_object(body, "")
    model = obj.get("model")
    if type(model) is not str or not model:
        model = checks.get_str(obj, "model", required=True, nonempty=True)
    raw = obj.get("messages")
    if type(raw) is not list or not raw:
        raw = checks.get_list(obj, "messages", required=True, nonempty=True)
    messages: list[Message] = []
    tool_messages = False
    for i, item in enumerate(raw):
        if type(item) is dict:
            role, content = item.get("role"), item.get("content")
            if role == "tool" or (role == "assistant" and "tool_calls" in item):
                tool_messages = True
            elif type(role) is str and type(content) is str and role in _ROLES:
                messages.append((_ROLES[role], content))
                continue
        messages.append(_message(item, i))
    max_tokens = checks.get_int(obj, "max_completion_tokens", min=1) if "max_completion_tokens" in obj else None
    if max_tokens is None and "max_tokens" in obj:
        max_tokens = obj["max_tokens"]
        if type(max_tokens) is not int or max_tokens < 1:
            max_tokens = checks.get_int(obj, "max_tokens", min=1)
    # the usual values of the fields below are taken as they are; any other goes through checks, which
    # names the field in its error (a call to checks costs about as much as the rest of a field's reading)
    stream = obj.get("stream", False)
    if type(stream) is not bool:
        stream = bool(checks.get_bool(obj, "stream"))
    include_usage = False
    if "stream_options" in obj:
        options = checks.get_object(obj, "stream_options")
        if options is not None:
            if not stream:
                raise RequestInvalid("stream_options", "only allowed when 'stream' is enabled", checks.VALUE_CODE)
            include_usage = options.get("include_usage", False)
            if type(include_usage) is not bool:
                include_usage = bool(checks.get_bool(options, "include_usage", "stream_options"))
    temperature = obj.get("temperature")
    if temperature is not None and (type(temperature) is not float or not 0.0 <= temperature <= 2.0):
        temperature = checks.get_number(obj, "temperature", min=0, max=2)
    stop = checks.get_str_or_list(obj, "stop") if "stop" in obj else ()
    if not _OPTIONAL_KEYS.isdisjoint(obj):
        for key in obj:
            check = _OPTIONAL.get(key)
            if check is not None:
                check(obj, key)
    if tool_messages:
        openai_tools.check_tool_sequence(raw)
    extras = openai_tools.parse_extras(obj, messages, tool_messages)
    prefill = messages[-1][0] == "assistant"
    return ChatCall(model, tuple(messages), max_tokens, stream, include_usage, stop, temperature, prefill, extras)


def parse_embeddings(body: object) -> EmbeddingCall:
    """Validate an embeddings body; inputs are a string, strings, a token array or token arrays."""
    obj = checks.require_object(body, "")
    model = checks.get_str(obj, "model", required=True, nonempty=True)
    if "input" not in obj:
        raise RequestInvalid("input", "required field is missing", checks.MISSING_CODE)
    raw = obj["input"]
    items = [raw] if isinstance(raw, str) or (isinstance(raw, list) and raw and isinstance(raw[0], int)) else raw
    if not isinstance(items, list) or not items:
        raise RequestInvalid(
            "input", "expected a non-empty string, array of strings or of token arrays", "invalid_type"
        )
    counts: list[int] = []
    texts: list[str | None] = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            counts.append(count_tokens(item))
            texts.append(item)
        elif isinstance(item, list) and item and all(isinstance(t, int) and not isinstance(t, bool) for t in item):
            counts.append(len(item))
            texts.append(None)
        elif isinstance(item, int) and not isinstance(item, bool) and isinstance(raw, list):
            raise RequestInvalid(f"input[{i}]", "mixes token ids with other inputs", checks.TYPE_CODE)
        else:
            raise RequestInvalid(f"input[{i}]", "expected a string or a non-empty array of integers", "invalid_type")
    fmt = checks.get_str(obj, "encoding_format")
    if fmt not in (None, "float", "base64"):
        raise RequestInvalid("encoding_format", f"expected 'float' or 'base64', got {fmt!r}", checks.VALUE_CODE)
    dimensions = checks.get_int(obj, "dimensions", min=1, max=8192)
    checks.get_str(obj, "user")
    return EmbeddingCall(model, tuple(counts), fmt == "base64", dimensions, tuple(texts))
