"""Property: with prompt-cache reads and writes (Anthropic breakpoints with both TTLs, OpenAI and Gemini
automatic caching) and reasoning tokens (Anthropic thinking, Gemini thoughts), plain and streamed, the
reference client's cost equals the fake provider's ledger exactly, in total and per logical request."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.client.types import ChatRequest, Message
from tests.unit.client.test_client_support import World, config, run

MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5", "gemini": "gemini-2.5-flash"}
#: a system prompt long enough to be cached (1,500 tokens), and a second one
PREFIXES = (" ".join(["rule"] * 1500), " ".join(["note"] * 1800))

asks = st.lists(
    st.fixed_dictionaries(
        {
            "api": st.sampled_from(sorted(MODELS)),
            "prefix": st.sampled_from([None, 0, 1]),
            "ttl": st.sampled_from([None, "5m", "1h"]),
            "thinking": st.sampled_from([None, 1024, 1500]),
            "stream": st.booleans(),
            "question": st.integers(0, 3),
        }
    ),
    min_size=1,
    max_size=8,
)


def request(ask: dict[str, object]) -> ChatRequest:
    api = str(ask["api"])
    messages: list[Message] = []
    if ask["prefix"] is not None:
        ttl = ask["ttl"] if api == "anthropic" else None
        messages.append(Message("system", PREFIXES[int(ask["prefix"])], cache_ttl=ttl))  # type: ignore[call-overload]
    messages.append(Message("user", f"question {ask['question']}"))
    thinking = ask["thinking"] if api != "openai" else None
    return ChatRequest(
        MODELS[api], tuple(messages), max_tokens=2000, stream=bool(ask["stream"]),
        thinking_budget=thinking,  # type: ignore[arg-type]
    )  # fmt: skip


@settings(max_examples=25, deadline=None)
@given(asks)
def test_client_cost_equals_the_ledger_with_cache_and_reasoning(batch: list[dict[str, object]]) -> None:
    async def body(w: World) -> None:
        for ask in batch:
            response = await w.client.chat(request(ask))
            record = w.records[-1]
            assert response.cost_usd == Decimal(record.cost_usd)
            assert response.usage.output_tokens == record.output_tokens
        w.assert_costs_agree()

    run(body, config(*MODELS.values()))


def test_the_mix_reads_and_writes_the_cache_and_reasons() -> None:
    """The property's world really exercises what it claims: reads, 1-hour writes, reasoning."""
    seen: dict[str, int] = {}

    async def body(w: World) -> None:
        for api, ttl in (("anthropic", "1h"), ("anthropic", "1h"), ("openai", None), ("openai", None)):
            ask = {"api": api, "prefix": 0, "ttl": ttl, "thinking": 1024, "stream": False, "question": 1}
            response = await w.client.chat(request(ask))
            for key, value in response.usage.to_dict().items():
                seen[key] = seen.get(key, 0) + value
            seen["thinking_chars"] = seen.get("thinking_chars", 0) + len(response.thinking)
        ask = {"api": "gemini", "prefix": 1, "ttl": None, "thinking": 1024, "stream": True, "question": 0}
        for _ in range(2):
            usage = (await w.client.chat(request(ask))).usage
            seen["gemini_cached"] = seen.get("gemini_cached", 0) + usage.cached_input_tokens
            seen["reasoning_tokens"] += usage.reasoning_tokens  # Gemini reports thoughts; Anthropic does not
        w.assert_costs_agree()

    run(body, config(*MODELS.values()))
    assert seen["cache_write_1h_tokens"] > 1000
    assert seen["cached_input_tokens"] > 2000  # Anthropic's read and OpenAI's automatic one
    assert seen["reasoning_tokens"] > 200
    assert seen["thinking_chars"] > 500  # Anthropic's thinking blocks came back
    assert seen["gemini_cached"] >= 1024
