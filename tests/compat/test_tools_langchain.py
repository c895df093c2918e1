"""LangChain's bind_tools and with_structured_output on ChatOpenAI against the fake provider."""

from __future__ import annotations

import jsonschema
import pytest
from pydantic import BaseModel, Field

from fake_provider.testing import RunningServer

pytestmark = pytest.mark.compat

langchain_openai = pytest.importorskip("langchain_openai", reason="langchain-openai is in the dev extra")


class Invoice(BaseModel):
    """An invoice read from a document."""

    number: str
    total_eur: float = Field(ge=0, le=10_000)
    paid: bool


def weather(city: str, days: int) -> str:
    """Forecast for a city, for a number of days."""
    return f"{city}: sunny for {days} days"


def model(server: RunningServer) -> object:
    return langchain_openai.ChatOpenAI(
        model="gpt-4o-mini", base_url=server.openai_base_url, api_key="sk-test", max_retries=0
    )


async def test_bind_tools_returns_tool_calls_with_valid_args(server: RunningServer) -> None:
    bound = model(server).bind_tools([weather], tool_choice="required")  # type: ignore[attr-defined]
    reply = await bound.ainvoke("Weather in Oslo for three days?")
    assert [c["name"] for c in reply.tool_calls] == ["weather"]
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
              "required": ["city", "days"]}  # fmt: skip
    jsonschema.validate(reply.tool_calls[0]["args"], schema)
    streamed = [chunk async for chunk in bound.astream("Weather in Oslo for three days?")]
    total = streamed[0]
    for chunk in streamed[1:]:
        total += chunk
    assert [c["name"] for c in total.tool_calls] == ["weather"]
    assert total.tool_calls[0]["args"] == reply.tool_calls[0]["args"]


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
async def test_with_structured_output_parses_a_pydantic_model(server: RunningServer, method: str) -> None:
    structured = model(server).with_structured_output(Invoice, method=method)  # type: ignore[attr-defined]
    invoice = await structured.ainvoke("Read the invoice: INV-7, 120 EUR, paid.")
    assert isinstance(invoice, Invoice)
    assert 0 <= invoice.total_eur <= 10_000


def claude(server: RunningServer) -> object:
    langchain_anthropic = pytest.importorskip("langchain_anthropic", reason="langchain-anthropic is in the dev extra")
    return langchain_anthropic.ChatAnthropic(
        model="claude-haiku-4-5", base_url=server.url, api_key="ak-test", max_retries=0, max_tokens=500
    )


async def test_anthropic_bind_tools_and_structured_output(server: RunningServer) -> None:
    bound = claude(server).bind_tools([weather], tool_choice="weather")  # type: ignore[attr-defined]
    reply = await bound.ainvoke("Weather in Oslo for three days?")
    assert [c["name"] for c in reply.tool_calls] == ["weather"]
    assert set(reply.tool_calls[0]["args"]) == {"city", "days"}
    invoice = await claude(server).with_structured_output(Invoice).ainvoke("INV-7, 120 EUR, paid.")  # type: ignore[attr-defined]
    assert isinstance(invoice, Invoice)
