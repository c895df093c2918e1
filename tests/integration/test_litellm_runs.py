"""LiteLLM as the client under test, over sockets (its own aiohttp transport, as shipped) and in
virtual time (httpx routed by respx to the provider core): every request accounted for, its cost
reconciled with the provider's bill, across the OpenAI, Anthropic and Gemini APIs."""

from __future__ import annotations

import pytest

from harness.runner.run import RunOptions, run_scenario
from harness.scenario.model import parse_scenario

pytestmark = [pytest.mark.compat, pytest.mark.filterwarnings("ignore::UserWarning:pydantic.*")]

SCENARIO = {
    "name": "litellm_mix",
    "seed": 5,
    "duration_s": 2.0,
    "drain_s": 30.0,
    "load": {
        "mode": "open",
        "arrivals": "constant",
        "rate": 6.0,
        "models": {"gpt-4o-mini": 1.0, "claude-haiku-4-5": 1.0, "gemini-2.5-flash": 1.0},
        "max_tokens": 12,
        "stream_share": 0.5,
    },
    "faults": [{"kind": "brownout", "always": True, "p": 0.25, "status": 503}],
    "client": {"kind": "litellm", "max_retries": 3, "timeout_s": 20},
}


@pytest.mark.parametrize("mode", ["virtual", "real-time"])
def test_litellm_under_a_brownout_is_judged_like_any_client(mode: str) -> None:
    result = run_scenario(parse_scenario(SCENARIO), RunOptions(mode=mode))  # type: ignore[arg-type]
    m = result.metrics
    assert result.client == "litellm"
    assert m["requests_logical"] == 12
    assert m["lost_requests"] == 0  # one terminal outcome per logical request
    assert m["truncated_answers"] == 0
    assert float(m["cost_abs_error_usd"]) == 0  # type: ignore[arg-type]  # the app's cost is the bill
    assert m["attempts"] > m["requests_logical"]  # the 503s were retried: attempts reached the provider
    assert float(m["success_rate"]) >= 0.9  # type: ignore[arg-type]
    apis = {r.api.split(".")[0] for r in result.provider_records}
    assert apis == {"openai", "anthropic", "gemini"}  # each model through its own API
    answered = {o.model for o in result.outcomes if o.ok}
    assert answered == {"gpt-4o-mini", "claude-haiku-4-5", "gemini-2.5-flash"}
