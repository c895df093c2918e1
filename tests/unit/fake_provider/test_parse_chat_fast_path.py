"""``openai_requests.parse_chat`` takes the usual values of stream, stream_options, temperature and the optional
fields as they are; it must read every body as the reader of record does (the same call, or the same error).

The reader of record is the function as it was before that fast path (kept here): each of those fields
through :mod:`harness.wire.checks`, and every key of the body looked up in the table of optional fields.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.wire import checks, openai_requests, openai_tools
from harness.wire.neutral import ChatCall, Message, RequestInvalid
from harness.wire.openai_requests import _OPTIONAL, _ROLES, _message


def parse_chat_of_record(body: object) -> ChatCall:
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
    stream = bool(checks.get_bool(obj, "stream")) if "stream" in obj else False
    include_usage = False
    if "stream_options" in obj:
        options = checks.get_object(obj, "stream_options")
        if options is not None:
            if not stream:
                raise RequestInvalid("stream_options", "only allowed when 'stream' is enabled", checks.VALUE_CODE)
            include_usage = bool(checks.get_bool(options, "include_usage", "stream_options"))
    temperature = checks.get_number(obj, "temperature", min=0, max=2) if "temperature" in obj else None
    stop = checks.get_str_or_list(obj, "stop") if "stop" in obj else ()
    for key in obj:
        check = _OPTIONAL.get(key)
        if check is not None:
            check(obj, key)
    if tool_messages:
        openai_tools.check_tool_sequence(raw)
    extras = openai_tools.parse_extras(obj, messages, tool_messages)
    prefill = messages[-1][0] == "assistant"
    return ChatCall(model, tuple(messages), max_tokens, stream, include_usage, stop, temperature, prefill, extras)


ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-1, 3),
    st.sampled_from([0.0, -0.0, 2.0, 2.0000001, 1e-300, "1", [], {}]),
)
FIELDS = {
    "stream": st.one_of(st.booleans(), ODD),
    "stream_options": st.one_of(
        st.none(), st.fixed_dictionaries({}, optional={"include_usage": st.one_of(st.booleans(), ODD)}), ODD
    ),
    "temperature": st.one_of(st.floats(0, 2), ODD),
    "top_p": ODD,
    "n": st.one_of(st.just(1), ODD),
    "seed": ODD,
    "user": st.one_of(st.text(max_size=3), ODD),
    "presence_penalty": ODD,
    "max_tokens": st.one_of(st.integers(1, 500), ODD),
}


def _outcome(parse: Any, body: dict[str, Any]) -> object:
    try:
        return parse(body)
    except RequestInvalid as exc:
        return ("invalid", type(exc), exc.args, exc.param, exc.code)


def _same(a: object, b: object) -> bool:
    if isinstance(a, ChatCall) and isinstance(b, ChatCall):
        ta, tb = a.temperature, b.temperature
        if ta is not None and tb is not None and math.copysign(1, ta) != math.copysign(1, tb):
            return False  # -0.0 == 0.0, but a log could tell them apart
        return a == b and type(ta) is type(tb)
    return a == b


@settings(max_examples=600, deadline=None)
@given(fields=st.fixed_dictionaries({}, optional=FIELDS), order=st.randoms(use_true_random=False))
def test_parse_chat_reads_every_body_as_the_reader_of_record(fields: dict[str, Any], order: Any) -> None:
    items = [("model", "gpt-4o-mini"), ("messages", [{"role": "user", "content": "hi"}]), *fields.items()]
    order.shuffle(items)  # the first invalid field named depends on the order only through the optional ones
    body = dict(items)
    fast = _outcome(openai_requests.parse_chat, body)
    record = _outcome(parse_chat_of_record, body)
    assert _same(fast, record), (fast, record)
