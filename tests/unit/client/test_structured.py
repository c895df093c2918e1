"""Validate-and-re-ask: parse, validate, re-ask with the error, count and cost every ask, give up typed."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import pytest

from harness.client.structured import (
    ReaskPolicy,
    StructuredOutputInvalid,
    StructuredStats,
    chat_structured,
    check_answer,
)
from harness.client.types import ChatRequest, ChatResponse, Message, ResponseSchema, ToolSpec
from harness.errors import ConfigError
from harness.pricing import Usage
from harness.wire.neutral import ToolCall

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


class Scripted:
    """A client answering the scripted texts in turn; records what it was asked."""

    def __init__(self, answers: Sequence[str], tool: bool = False) -> None:
        self.answers = list(answers)
        self.tool = tool
        self.asked: list[ChatRequest] = []

    async def chat(self, request: ChatRequest) -> ChatResponse:
        self.asked.append(request)
        text = self.answers.pop(0)
        calls = (ToolCall("call_1", "f", text),) if self.tool else ()
        return ChatResponse(
            "" if self.tool else text, "m", "openai", "stop", Usage(10, 5), Decimal("0.001"), "id",
            total_cost_usd=Decimal("0.0015"), tool_calls=calls,
        )  # fmt: skip


REQUEST = ChatRequest("m", (Message("user", "give n as JSON"),), response_schema=ResponseSchema("n", SCHEMA))


async def test_a_valid_first_answer_costs_one_ask() -> None:
    stats = StructuredStats()
    result = await chat_structured(Scripted(['{"n": 3}']), REQUEST, stats=stats)
    assert (result.value, result.reasks, result.errors) == ({"n": 3}, 0, ())
    assert (result.cost_usd, result.extra_cost_usd) == (Decimal("0.0015"), Decimal(0))
    assert stats.to_dict()["success_rate"] == 1.0


async def test_reasks_carry_the_error_and_are_costed() -> None:
    client = Scripted(['{"n": 3', '{"m": 1}', '{"n": 4}'])
    stats = StructuredStats()
    result = await chat_structured(client, REQUEST, ReaskPolicy(max_reasks=2), stats=stats)
    assert result.value == {"n": 4}
    assert result.reasks == 2
    assert [e.split(":")[0] for e in result.errors] == ["invalid_json", "schema_violation"]
    assert result.cost_usd == Decimal("0.0045")
    assert result.extra_cost_usd == Decimal("0.0030")
    last = client.asked[-1].messages
    assert [m.role for m in last] == ["user", "assistant", "user", "assistant", "user"]
    assert "'n' is a required property" in last[-1].content
    assert last[1].content == '{"n": 3'
    assert client.asked[1].request_id is None  # each re-ask is its own logical request
    assert (stats.reasks, stats.invalid_answers, stats.by_problem) == (
        2, 2, {"invalid_json": 1, "schema_violation": 1},
    )  # fmt: skip


async def test_giving_up_raises_with_the_numbers() -> None:
    stats = StructuredStats()
    with pytest.raises(StructuredOutputInvalid) as caught:
        await chat_structured(Scripted(["no", "nope"]), REQUEST, ReaskPolicy(max_reasks=1), stats=stats)
    assert caught.value.reasks == 1
    assert caught.value.cost_usd == Decimal("0.0030")
    assert caught.value.extra_cost_usd == Decimal("0.0015")
    assert (stats.given_up, stats.valid, stats.success_rate) == (1, 0, 0.0)


async def test_a_forced_tool_call_is_validated_against_its_parameters() -> None:
    request = ChatRequest("m", (Message("user", "x"),), tools=(ToolSpec("f", SCHEMA),), tool_choice="f")
    result = await chat_structured(Scripted(['{"n": "x"}', '{"n": 1}'], tool=True), request)
    assert result.value == {"n": 1}
    assert result.reasks == 1


def test_policy_and_schema_mistakes_name_the_field() -> None:
    with pytest.raises(ConfigError, match=r"structured\.max_reasks"):
        ReaskPolicy(max_reasks=11)
    assert check_answer("[1]", None) == ([1], None, None)
    assert check_answer("{", None)[1] == "invalid_json"


async def test_an_invalid_schema_is_a_config_error() -> None:
    request = ChatRequest("m", (Message("user", "x"),), response_schema=ResponseSchema("s", {"type": "nope"}))
    with pytest.raises(ConfigError, match="response_schema"):
        await chat_structured(Scripted(["{}"]), request)
