"""The reference client on OpenAI's Responses API (a model with ``api = "responses"``), in virtual time."""

from __future__ import annotations

from decimal import Decimal

import pytest

from harness.client import ModelSpec
from harness.client.testing import by_attempt
from harness.errors import ConfigError
from harness.tokenizer import count_tokens
from tests.unit.client.test_client_support import KEY, World, ask, config, run


def responses_spec() -> ModelSpec:
    return ModelSpec("gpt-4o-mini", "openai", api_keys=(KEY,), api="responses")


@pytest.mark.parametrize("stream", [False, True])
def test_a_responses_model_answers_and_the_books_agree(stream: bool) -> None:
    async def body(w: World) -> None:
        response = await w.client.chat(ask("gpt-4o-mini", stream=stream, max_tokens=20))
        (record,) = w.records
        assert record.api == "openai.responses"
        assert record.finish == "max_output_tokens"
        assert response.finish_reason == "length"  # the neutral vocabulary
        assert response.usage.output_tokens == record.output_tokens == 20
        assert response.usage.input_tokens == record.prompt_tokens
        assert count_tokens(response.text) == 20
        assert response.cost_usd == Decimal(record.cost_usd)
        assert response.provider_request_ids == (record.request_id,)
        w.assert_costs_agree()

    run(body, config(responses_spec()))


def test_a_mid_stream_failure_is_retried_and_billed_for_what_was_sent() -> None:
    async def body(w: World) -> None:
        response = await w.client.chat(ask("gpt-4o-mini", stream=True, max_tokens=20))
        first, second = w.records
        assert (first.finish, first.output_tokens) == ("error", 3)
        assert (second.status, second.output_tokens) == (200, 20)
        assert response.attempts == 2
        w.assert_costs_agree()

    run(body, config(responses_spec()), rule=by_attempt({0: {"x-fake-fault": "stream_error_after=3; status=500"}}))


def test_only_openai_models_speak_the_responses_api() -> None:
    with pytest.raises(ConfigError, match=r"model\.api"):
        ModelSpec("claude-haiku-4-5", "anthropic", api="responses")
    with pytest.raises(ConfigError, match=r"client\.models\[0\]\.api"):
        ModelSpec.parse({"name": "m", "provider": "gemini", "api": "responses"}, "client.models[0]")
    assert ModelSpec.parse({"name": "m", "provider": "openai", "api": "responses"}, "client.models[0]").api == (
        "responses"
    )
