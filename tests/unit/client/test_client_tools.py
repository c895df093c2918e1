"""The reference client's tools, structured output and re-ask policy on OpenAI, Anthropic and Gemini,
plain and streamed, against the fake provider in virtual time."""

from __future__ import annotations

import json
from decimal import Decimal

import jsonschema
import pytest

from fake_provider.schedule import FaultSchedule
from harness.client import ClientConfig, ModelSpec
from harness.client.structured import ReaskPolicy, StructuredOutputInvalid, StructuredStats, chat_structured
from harness.client.types import ChatRequest, Message, ResponseSchema, ToolSpec
from harness.errors import ConfigError
from tests.unit.client.test_client_support import KEY, World, config, provider, run

MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5", "gemini": "gemini-2.5-flash",
          "responses": "gpt-4o-mini"}  # fmt: skip
DAYS = {"type": "integer", "minimum": 1, "maximum": 3}
WEATHER = ToolSpec(
    "get_weather",
    {"type": "object", "properties": {"city": {"type": "string"}, "days": DAYS}, "required": ["city", "days"]},
    "Forecast for a city",
)
ANSWER = {"type": "object", "properties": {"verdict": {"type": "string", "enum": ["yes", "no"]},
          "score": {"type": "number", "minimum": 0, "maximum": 1}}, "required": ["verdict", "score"],
          "additionalProperties": False}  # fmt: skip
CASES = [(p, s) for p in MODELS for s in (False, True)]


def spec(api: str) -> ModelSpec | str:
    """The model of ``api`` ("responses": gpt-4o-mini over OpenAI's Responses API)."""
    return ModelSpec(MODELS[api], "openai", api_keys=(KEY,), api="responses") if api == "responses" else MODELS[api]


@pytest.mark.parametrize(("api", "stream"), CASES)
def test_tool_loop_call_result_answer(api: str, stream: bool) -> None:
    async def body(w: World) -> None:
        model = MODELS[api]
        question = Message("user", "Weather in Oslo?")
        first = await w.client.chat(
            ChatRequest(model, (question,), max_tokens=300, stream=stream, tools=(WEATHER,), tool_choice="required")
        )
        assert first.finish_reason == "tool_calls" if api != "gemini" else first.tool_calls
        assert [c.name for c in first.tool_calls] == ["get_weather"]
        jsonschema.validate(json.loads(first.tool_calls[0].arguments), WEATHER.parameters)
        call = first.tool_calls[0]
        history = (
            question,
            Message("assistant", first.text, tool_calls=first.tool_calls),
            Message("tool", '{"sky": "clear"}', tool_call_id=call.id, name=call.name),
        )
        second = await w.client.chat(ChatRequest(model, history, max_tokens=12, stream=stream, tools=(WEATHER,)))
        assert second.tool_calls == ()
        assert second.text
        records = w.records
        assert [r.status for r in records] == [200, 200]
        assert records[1].prompt_tokens > records[0].prompt_tokens  # the call and its result are in the prompt
        w.assert_costs_agree()

    run(body, config(spec(api)))


@pytest.mark.parametrize(("api", "stream"), [(p, s) for p in ("openai", "gemini", "responses") for s in (False, True)])
def test_structured_output_matches_the_schema(api: str, stream: bool) -> None:
    async def body(w: World) -> None:
        schema = ResponseSchema("verdict", ANSWER, strict=True)
        ask = (Message("user", "Is it good? JSON please."),)
        request = ChatRequest(MODELS[api], ask, max_tokens=200, stream=stream, response_schema=schema)
        response = await w.client.chat(request)
        jsonschema.validate(json.loads(response.text), ANSWER)
        w.assert_costs_agree()

    run(body, config(spec(api)))


def test_anthropic_thinking_comes_back_and_is_billed() -> None:
    async def body(w: World) -> None:
        for stream in (False, True):
            ask = (Message("user", "Think."),)
            request = ChatRequest(MODELS["anthropic"], ask, max_tokens=3000, stream=stream, thinking_budget=1024)
            response = await w.client.chat(request)
            assert response.thinking
            assert response.usage.output_tokens == w.records[-1].output_tokens
        w.assert_costs_agree()

    run(body, config(MODELS["anthropic"]))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_reask_policy_against_invalid_json(seed: int) -> None:
    """A third of the answers do not parse: re-asking (up to 2) recovers nearly all, and every re-ask is
    billed by the provider exactly as the client costed it."""
    faults = FaultSchedule.parse([{"kind": "invalid_json", "always": True, "fraction": 0.35}])
    stats = StructuredStats()
    gave_up: list[int] = []

    async def body(w: World) -> None:
        for i in range(40):
            request = ChatRequest(MODELS["openai"], (Message("user", f"case {i}: verdict as JSON"),), max_tokens=200,
                                  response_schema=ResponseSchema("verdict", ANSWER))  # fmt: skip
            try:
                result = await chat_structured(w.client, request, ReaskPolicy(max_reasks=2), stats=stats)
            except StructuredOutputInvalid as exc:
                gave_up.append(len(exc.errors))
            else:
                jsonschema.validate(result.value, ANSWER)
        assert all(n == 3 for n in gave_up)
        w.assert_costs_agree()
        assert stats.cost_usd == w.ledger_total()  # every ask, re-asks included, and nothing else
        broken = sum(1 for r in w.records if r.fault is not None)
        assert stats.invalid_answers == broken == stats.by_problem["invalid_json"]

    run(body, config(MODELS["openai"]), provider_config=provider(seed=seed, faults=faults))
    assert stats.requests == 40
    assert stats.success_rate >= 0.9  # 1 - 0.35³ ≈ 0.96 expected
    assert 0.1 <= stats.reasks_per_request <= 0.8
    assert Decimal(0) < stats.extra_cost_usd < stats.cost_usd


def test_call_with_the_structured_policy_reports_verdicts_and_reask_ids() -> None:
    """The runner's entry point re-asks under ``[client.structured]``: re-asks are ``<id>.reask<n>``
    logical requests, the verdicts a ``structured`` event; other answers' tool calls a ``tool_calls`` event."""
    faults = FaultSchedule.parse([{"kind": "invalid_json", "always": True, "fraction": 0.5}])

    async def body(w: World) -> None:
        results = []
        for i in range(12):
            request = ChatRequest(MODELS["openai"], (Message("user", f"case {i}: verdict as JSON"),), max_tokens=200,
                                  response_schema=ResponseSchema("verdict", ANSWER), request_id=f"q{i}")  # fmt: skip
            results.append(await w.client.call(request))
        tools = ChatRequest(MODELS["openai"], (Message("user", "Weather in Oslo?"),), max_tokens=300, tools=(WEATHER,),
                            request_id="t0")  # fmt: skip
        assert await w.client.call(tools)
        events = [e for e in w.client.events() if e.kind in ("structured", "tool_calls")]
        chains = {e.name: e.detail.split(",") for e in events if e.kind == "structured"}
        assert set(chains) == {f"q{i}" for i in range(12)}
        outcome_ids = {o.id for o in w.client.outcomes()}
        for root, verdicts in chains.items():
            assert verdicts[-1] == "valid" or len(verdicts) == 3  # valid, or gave up after 2 re-asks
            assert all(v in ("valid", "invalid_json") for v in verdicts)
            assert {f"{root}.reask{n}" for n in range(1, len(verdicts))} <= outcome_ids
        assert results == [chains[f"q{i}"][-1] == "valid" for i in range(12)]
        assert any(len(v) > 1 for v in chains.values())  # the fault made some re-asks
        (tool_event,) = [e for e in events if e.kind == "tool_calls"]
        assert tool_event.name == "t0"
        assert set(tool_event.detail.split(",")) <= {"valid", "invalid_json"}

    run(body, config(MODELS["openai"], structured=ReaskPolicy(max_reasks=2)), provider_config=provider(faults=faults))


def test_the_structured_table_is_validated() -> None:
    models = [{"name": "gpt-4o-mini", "provider": "openai"}]
    assert ClientConfig.parse({"models": models, "structured": {"max_reasks": 3}}).structured == ReaskPolicy(3)
    assert ClientConfig.parse({"models": models}).structured is None
    for bad, needle in (({"max_reasks": 11}, "max_reasks"), ({"retries": 1}, "retries")):
        with pytest.raises(ConfigError, match=rf"client\.structured\.{needle}"):
            ClientConfig.parse({"models": models, "structured": bad}, "client")
