"""The anthropic SDK's tool_use, extended thinking and validation against the fake provider."""

from __future__ import annotations

import anthropic
import jsonschema
import pytest
from anthropic.types import Message

from fake_provider.testing import RunningServer

from .conftest import assert_usage_matches_log_and_ledger, track
from .strict_types import assert_strict

pytestmark = pytest.mark.compat

LOOKUP = {
    "type": "object",
    "properties": {
        "sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
        "warehouses": {"type": "array", "items": {"type": "string", "enum": ["north", "south"]}, "minItems": 1},
        "express": {"type": "boolean"},
    },
    "required": ["sku", "warehouses"],
}
TOOLS = [
    {"name": "lookup_stock", "description": "Stock of an article", "input_schema": LOOKUP},
    {"name": "get_price", "description": "Price", "input_schema": {"type": "object", "properties": {
        "sku": {"type": "string"}, "currency": {"type": "string", "enum": ["EUR", "USD"]}}, "required": ["sku"]}},
]  # fmt: skip
ASK = [{"role": "user", "content": "Is ABC-1234 in stock?"}]


def client(server: RunningServer) -> anthropic.AsyncAnthropic:
    return track(anthropic.AsyncAnthropic(base_url=server.url, api_key="ak-test", max_retries=0))


def _schema(name: str) -> dict[str, object]:
    return next(t["input_schema"] for t in TOOLS if t["name"] == name)  # type: ignore[return-value]


async def test_tool_use_round_trip(server: RunningServer) -> None:
    api = client(server).messages
    first = await api.create(model="claude-sonnet-4-0", max_tokens=400, messages=ASK, tools=TOOLS)  # type: ignore[arg-type]
    assert_strict(Message, first.model_dump(mode="json", exclude_unset=True))
    assert first.stop_reason == "tool_use"
    uses = [b for b in first.content if b.type == "tool_use"]
    assert uses
    for use in uses:
        assert use.id.startswith("toolu_")
        jsonschema.validate(use.input, _schema(use.name))
    assert_usage_matches_log_and_ledger(server, first.usage.input_tokens, first.usage.output_tokens)
    results = [{"type": "tool_result", "tool_use_id": u.id, "content": "12 in north"} for u in uses]
    history = [*ASK, {"role": "assistant", "content": first.content}, {"role": "user", "content": results}]
    second = await api.create(model="claude-sonnet-4-0", max_tokens=20, messages=history, tools=TOOLS)  # type: ignore[arg-type]
    assert second.stop_reason in ("end_turn", "max_tokens")
    assert [b.type for b in second.content] == ["text"]


async def test_a_tool_result_without_its_tool_use_is_refused(server: RunningServer) -> None:
    bad = [*ASK, {"role": "assistant", "content": "ok"},
           {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_x",
                                         "content": "1"}]}]  # fmt: skip
    with pytest.raises(anthropic.BadRequestError, match="must have a corresponding `tool_use` block"):
        await client(server).messages.create(model="claude-sonnet-4-0", max_tokens=20, messages=bad, tools=TOOLS)  # type: ignore[arg-type]


async def test_streamed_tool_use_as_input_json_delta(server: RunningServer) -> None:
    api = client(server).messages
    kwargs = {"model": "claude-haiku-4-5", "max_tokens": 400, "messages": ASK, "tools": TOOLS,
              "tool_choice": {"type": "tool", "name": "lookup_stock"}}  # fmt: skip
    plain = await api.create(**kwargs)  # type: ignore[call-overload]
    deltas = []
    async with api.stream(**kwargs) as stream:  # type: ignore[arg-type]
        async for event in stream:
            if event.type == "content_block_delta" and event.delta.type == "input_json_delta":
                deltas.append(event.delta.partial_json)
        final = await stream.get_final_message()
    assert len(deltas) > 3
    assert_strict(Message, final.model_dump(mode="json", exclude_unset=True))
    assert [b.model_dump() for b in final.content] == [b.model_dump() for b in plain.content]
    assert final.usage.output_tokens == plain.usage.output_tokens
    assert [b.type for b in final.content] == ["tool_use"]
    assert assert_usage_matches_log_and_ledger(server, final.usage.input_tokens, final.usage.output_tokens).stream


async def test_streamed_thinking_with_a_signature(server: RunningServer) -> None:
    api = client(server).messages
    kwargs = {"model": "claude-sonnet-4-0", "max_tokens": 3000, "messages": ASK,
              "thinking": {"type": "enabled", "budget_tokens": 1024}}  # fmt: skip
    thinking, text, signatures = "", "", []
    async with api.stream(**kwargs) as stream:  # type: ignore[arg-type]
        async for event in stream:
            if event.type == "content_block_delta":
                if event.delta.type == "thinking_delta":
                    thinking += event.delta.thinking
                elif event.delta.type == "signature_delta":
                    signatures.append(event.delta.signature)
                elif event.delta.type == "text_delta":
                    text += event.delta.text
        final = await stream.get_final_message()
    assert_strict(Message, final.model_dump(mode="json", exclude_unset=True))
    assert [b.type for b in final.content] == ["thinking", "text"]
    block = final.content[0]
    assert block.type == "thinking"
    assert block.thinking == thinking
    assert thinking
    assert len(signatures) == 1
    assert block.signature == signatures[0]
    plain = await api.create(**kwargs)  # type: ignore[call-overload]
    assert plain.content[0].type == "thinking"
    assert plain.content[0].thinking == thinking
    assert final.usage.output_tokens == plain.usage.output_tokens > 0
    # thinking spends between 20 % and 80 % of its budget, billed as output
    thought_tokens = final.usage.output_tokens - len(text.split()) - text.count(".") - text.count(",")
    assert 0.2 * 1024 - 1 <= thought_tokens <= 0.8 * 1024 + 1


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"max_tokens": 1000, "thinking": {"type": "enabled", "budget_tokens": 1024}}, "must be greater than"),
        ({"max_tokens": 4000, "thinking": {"type": "enabled", "budget_tokens": 512}}, "greater than or equal to 1024"),
        ({"max_tokens": 4000, "thinking": {"type": "enabled", "budget_tokens": 2000}, "tools": TOOLS,
          "tool_choice": {"type": "any"}}, "Thinking may not be enabled when tool_choice forces tool use"),
        ({"max_tokens": 4000, "thinking": {"type": "enabled", "budget_tokens": 2000},
          "extra_body": {"temperature": 0.5}},
         "temperature` may only be set to 1"),
        ({"max_tokens": 100, "tools": TOOLS, "tool_choice": {"type": "tool", "name": "nope"}}, "not found"),
        ({"max_tokens": 100, "tools": [{"name": "t", "input_schema": {"type": "array"}}]}, "Input should be 'object'"),
        ({"max_tokens": 100, "tools": [{"name": "t", "input_schema": {"type": "object", "properties": {
            "n": {"type": "number", "minimum": 0.1, "maximum": 0.4, "multipleOf": 0.5}}}}]},
         "no number that is a multiple of 0.5 satisfies"),
    ],
)  # fmt: skip
async def test_invalid_asks_are_anthropics_400(server: RunningServer, kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        await client(server).messages.create(model="claude-sonnet-4-0", messages=ASK, **kwargs)  # type: ignore[call-overload]
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert needle in body["error"]["message"]


async def test_prompt_caching_writes_then_reads_and_bills_at_cache_prices(server: RunningServer) -> None:
    api = client(server).messages
    control = {"type": "ephemeral", "ttl": "1h"}
    system = [{"type": "text", "text": " ".join(["policy"] * 1400), "cache_control": control}]
    first = await api.create(model="claude-sonnet-4-0", max_tokens=5, system=system, messages=ASK)  # type: ignore[arg-type]
    second = await api.create(model="claude-sonnet-4-0", max_tokens=5, system=system,  # type: ignore[arg-type]
                              messages=[{"role": "user", "content": "And ABC-9999?"}])  # fmt: skip
    assert_strict(Message, first.model_dump(mode="json", exclude_unset=True))
    written = first.usage.cache_creation_input_tokens
    assert written is not None
    assert written > 1400
    assert first.usage.cache_creation is not None
    assert first.usage.cache_creation.ephemeral_1h_input_tokens == written
    assert (second.usage.cache_read_input_tokens, second.usage.cache_creation_input_tokens) == (written, 0)
    price = server.core.models["claude-sonnet-4-0"].price
    entries = server.core.ledger.entries
    for entry, message in zip(entries, (first, second), strict=True):
        assert entry.usage.output_tokens == message.usage.output_tokens
        assert entry.cost_usd == price.cost(entry.usage)
    assert entries[0].usage.cache_write_1h_tokens == written
    assert entries[1].usage.cached_input_tokens == written
    assert entries[1].cost_usd < entries[0].cost_usd
