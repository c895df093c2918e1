"""The provider's fast plan paths give exactly the plans of the general paths (issue 19).

An OpenAI chat stream of one token per event, all due at once, with no reply and no fault that shapes it,
is planned by ``responses._openai_at_once``; ``responses._OPENAI_AT_ONCE = False`` sends it through the
general path of record. Answers are compared whole (status, headers, every chunk's delay, bytes and
tokens), on requests the core plans and on arbitrary answers (any text, quotes, non-ASCII, no tokens).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fake_provider import responses
from fake_provider.config import ProviderConfig
from fake_provider.core import ProviderCore, ProviderRequest
from fake_provider.plan import Chunk, Plan, StreamEnd, answer_plan
from fake_provider.textgen import Answer
from harness.wire import openai_answers

KEY = {"authorization": "Bearer sk-test", "content-type": "application/json"}
WORDS = st.sampled_from(["the", "a", "Hello", "wor", "ld", ",", ".", "naïve", "日本", '"q"', "b\\s", "🙂", "\n"])


@contextmanager
def general_path() -> Iterator[None]:
    saved = responses._OPENAI_AT_ONCE
    responses._OPENAI_AT_ONCE = False
    try:
        yield
    finally:
        responses._OPENAI_AT_ONCE = saved


def plan_of(body: dict[str, object], seed: int) -> Plan:
    core = ProviderCore(ProviderConfig(), clock=lambda: 100.0, wall_clock=lambda: 1_800_000_000.5, seed=seed)
    return core.handle(ProviderRequest("POST", "/v1/chat/completions", "", KEY, json.dumps(body).encode())).plan


@settings(max_examples=150, deadline=None)
@given(
    words=st.lists(WORDS, min_size=1, max_size=30),
    max_tokens=st.none() | st.integers(1, 300),
    usage=st.booleans(),
    stop=st.lists(st.sampled_from(["the", "a", "e", ".", "zz"]), max_size=2),
    model=st.sampled_from(["gpt-4o-mini", "gpt-4o", "gpt-4.1-nano"]),
    seed=st.integers(0, 2**32),
)
def test_the_core_plans_an_openai_stream_at_once_as_the_general_path_does(
    words: list[str], max_tokens: int | None, usage: bool, stop: list[str], model: str, seed: int
) -> None:
    body: dict[str, object] = {"model": model, "messages": [{"role": "user", "content": " ".join(words)}]}
    body["stream"] = True
    if usage:
        body["stream_options"] = {"include_usage": True}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if stop:
        body["stop"] = stop
    fast = plan_of(body, seed)
    with general_path():
        record = plan_of(body, seed)
    assert fast.status == 200
    assert fast == record


@settings(max_examples=200, deadline=None)
@given(
    pieces=st.lists(st.text(max_size=6), max_size=40),
    finish=st.sampled_from(["stop", "length"]),
    usage=st.booleans(),
    ttft=st.floats(0, 10),
    model=st.text(min_size=1, max_size=20),
)
def test_any_answer_is_planned_as_the_general_path_plans_it(
    pieces: list[str], finish: str, usage: bool, ttft: float, model: str
) -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    if usage:
        body["stream_options"] = {"include_usage": True}
    core = ProviderCore(ProviderConfig(), clock=lambda: 1.0, wall_clock=lambda: 2.0)
    ctx = core.handle(ProviderRequest("POST", "/v1/chat/completions", "", KEY, json.dumps(body).encode())).context
    ctx.model_name = model  # as requested: any name, quoted in the events
    answer = Answer(pieces, finish)
    fast = responses.chat_plan(ctx, answer, ttft, 0.0, 1_800_000_000)
    with general_path():
        record = responses.chat_plan(ctx, Answer(pieces, finish), ttft, 0.0, 1_800_000_000)
    assert fast == record


@pytest.mark.parametrize("at_once", [True, False])
def test_the_switch_selects_the_path(at_once: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparisons above compare two paths: the fast one is taken, and the switch leaves it."""
    calls: list[int] = []
    real = responses._openai_at_once
    monkeypatch.setattr(responses, "_openai_at_once", lambda *a: calls.append(1) or real(*a))
    monkeypatch.setattr(responses, "_OPENAI_AT_ONCE", at_once)
    plan_of({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": True}, 1)
    assert calls == ([1] if at_once else [])


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(st.text(max_size=8), max_size=30), usage=st.booleans(), model=st.text(max_size=12))
def test_joined_texts_with_the_known_text_are_the_events_of_record(pieces: list[str], usage: bool, model: str) -> None:
    enc = openai_answers.ChatStreamEncoder("chatcmpl-x", model, 7, usage)
    record = b"".join(enc.text(p) for p in pieces)
    assert enc.joined_texts(pieces, "".join(pieces)) == record
    assert enc.joined_texts(pieces) == record


def _chat_body_of_record(cid: str, model: str, created: int, text: str, finish: str, prompt: int, output: int) -> bytes:
    """The chat.completion object as the json module writes it (key order and separators of the template)."""
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": output,
        "total_tokens": prompt + output,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
    message = {"role": "assistant", "content": text, "refusal": None, "annotations": []}
    obj = {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": usage,
        "service_tier": "default",
        "system_fingerprint": openai_answers.system_fingerprint(model),
    }
    return json.dumps(obj, separators=(",", ":")).encode()


@settings(max_examples=300, deadline=None)
@given(
    model=st.text(max_size=15), text=st.text(max_size=30), prompt=st.integers(0, 10**6), output=st.integers(0, 10**5)
)
def test_chat_body_with_the_models_fields_looked_up_once_is_the_json_of_record(
    model: str, text: str, prompt: int, output: int
) -> None:
    for _ in range(2):  # built, then from the per-model cache
        body = openai_answers.chat_body("chatcmpl-1", model, 5, text, "stop", prompt, output)
        assert body == _chat_body_of_record("chatcmpl-1", model, 5, text, "stop", prompt, output)


def test_the_stream_envelope_names_the_model_as_json_does() -> None:
    for model in ['a "quoted" name', "naïve", "gpt-4o-mini"]:
        enc = openai_answers.ChatStreamEncoder("chatcmpl-1", model, 5, False)
        event = json.loads(enc.text("hi").removeprefix(b"data: "))
        assert event["model"] == model
        assert event["system_fingerprint"] == openai_answers.system_fingerprint(model)


@settings(max_examples=200, deadline=None)
@given(
    headers=st.lists(st.tuples(st.text(max_size=5), st.text(max_size=5)), max_size=4).map(tuple),
    body=st.binary(max_size=8),
    chunks=st.none() | st.lists(st.builds(Chunk, st.floats(0, 5), st.binary(max_size=4), st.integers(0, 3))).map(tuple),
    delay=st.floats(allow_nan=False),
    tokens=st.integers(0, 10**6),
    end=st.sampled_from(StreamEnd),
)
def test_answer_plan_is_the_plan_the_dataclass_builds(
    headers: tuple[tuple[str, str], ...],
    body: bytes,
    chunks: tuple[Chunk, ...] | None,
    delay: float,
    tokens: int,
    end: StreamEnd,
) -> None:
    made = answer_plan(headers, body, chunks, delay, tokens, end)
    record = Plan(200, headers, body, chunks, delay, body_tokens=tokens, end=end)
    assert made == record
    assert hash(made) == hash(record)
    assert repr(made) == repr(record)
    assert dataclasses.astuple(made) == dataclasses.astuple(record)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.status = 500  # type: ignore[misc]
    assert answer_plan(headers, body, chunks, delay) == Plan(200, headers, body, chunks, delay)
