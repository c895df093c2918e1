"""Conduct on a chain of models: how fast a request leaves a failing primary, and how a broken stream goes on.

Each test runs over real sockets ("socket": the fake provider on 127.0.0.1:0, the aiohttp transport,
real time) and in memory under virtual time ("memory"), with the set-up of ``test_client_conduct``:

* a silent or slow-first-token primary with a healthy fallback: answered within one first-token
  deadline plus the fallback's own latency (not ``max_attempts`` deadlines);
* a primary whose breaker is open, or opens on this failure: the request goes to the fallback at once,
  with no backoff sleep and no retry-budget token;
* a stream cut after 40 tokens: continued on a prefill-capable fallback with the caller's text intact;
  on a fallback that rejects the prefill (said in OpenAI's or Anthropic's words), the request ends in
  ``AllFallbacksFailed`` (a ``StreamInterrupted``) listing both errors and how much was delivered.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fake_provider import ModelConfig
from harness import vtime
from harness.client import BreakerConfig, RetryConfig, Timeouts, equal_jitter, fixed
from harness.client.config import RetryBudgetConfig
from harness.client.testing import by_model, model_of
from harness.errors import (
    AllFallbacksFailed,
    CircuitOpen,
    ConnectionReset,
    FirstTokenTimeout,
    Overloaded,
    PrefillRejected,
    StreamInterrupted,
)
from harness.pricing import ModelPrice
from harness.tokenizer import count_tokens
from tests.integration.test_client_conduct import KINDS, client_config, conduct, verdict
from tests.unit.client.test_client_support import World, ask, provider, spec

FIRST_TOKEN_S = 0.25
#: room for an 80-token stream (the shared conduct set-up's attempt deadline is 0.5 s)
LONG = Timeouts(connect_s=1, first_token_s=FIRST_TOKEN_S, stall_s=0.25, attempt_s=3, total_s=6)
#: an OpenAI-compatible model that refuses an assistant prefill with a 400 in words (as some servers do)
GPT_NO_PREFILL = ModelConfig("gpt-no-prefill", "openai", ModelPrice.per_million(1, 2), rejects_prefill=True)


def slack(w: World) -> float:
    """How far real time may run past a computed bound (scheduling, loopback); none in virtual time."""
    return 1e-6 if isinstance(asyncio.get_running_loop(), vtime.VirtualTimeLoop) else 0.15


# ------------------------------------------------------------------------------------------ timeouts fail over


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fault", ["silence_s=5", "ttft_s=5"])
@pytest.mark.parametrize("api", ["stream", "chat"])
def test_a_silent_primary_is_left_after_one_first_token_deadline(kind: str, fault: str, api: str) -> None:
    cfg = client_config("gpt-4o-mini", "claude-haiku-4-5", fallbacks={"gpt-4o-mini": ("claude-haiku-4-5",)})

    async def body(w: World) -> None:
        request = ask(stream=True)
        if api == "stream":
            async with w.client.stream(request) as stream:
                text = "".join([d.text async for d in stream])
            response = stream.response
            assert response is not None
            assert text == response.text
        else:
            response = await w.client.chat(request)
        outcome = await verdict(w, attempts=2, model="claude-haiku-4-5", response=response)
        primary, fallback = outcome.attempts
        assert (primary.model, primary.error) == ("gpt-4o-mini", FirstTokenTimeout.__name__)
        assert primary.t_end - primary.t_start == pytest.approx(FIRST_TOKEN_S, abs=slack(w))
        assert not primary.wait_s  # straight on: no backoff before the fallback
        # one first-token deadline plus the fallback's own latency
        assert outcome.latency_s <= FIRST_TOKEN_S + (fallback.t_end - fallback.t_start) + slack(w)

    conduct(kind, body, cfg, rule=by_model({"gpt-4o-mini": {"x-fake-fault": fault}}))


@pytest.mark.parametrize("kind", KINDS)
def test_timeouts_before_failover_is_configurable(kind: str) -> None:
    """``timeouts_before_failover = 2``: the primary gets a second deadline, then the fallback."""
    cfg = client_config(
        "gpt-4o-mini", "claude-haiku-4-5", fallbacks={"gpt-4o-mini": ("claude-haiku-4-5",)},
        retry=RetryConfig(max_attempts=3, backoff=fixed(0.01), timeouts_before_failover=2),
    )  # fmt: skip

    async def body(w: World) -> None:
        response = await w.client.chat(ask(stream=True))
        outcome = await verdict(w, attempts=3, model="claude-haiku-4-5", response=response)
        assert [a.model for a in outcome.attempts] == ["gpt-4o-mini", "gpt-4o-mini", "claude-haiku-4-5"]

    conduct(kind, body, cfg, rule=by_model({"gpt-4o-mini": {"x-fake-fault": "ttft_s=5"}}))


@pytest.mark.parametrize("kind", KINDS)
def test_a_timeout_is_retried_on_the_primary_when_the_fallbacks_breaker_is_open(kind: str) -> None:
    cfg = client_config(
        "gpt-4o-mini", "claude-haiku-4-5", fallbacks={"gpt-4o-mini": ("claude-haiku-4-5",)},
        retry=RetryConfig(max_attempts=3, backoff=fixed(0.01)),
        breaker=BreakerConfig(
            consecutive_failures=1, failure_rate=None, open_backoff=fixed(30), counts=frozenset({"server_error"})
        ),
    )  # fmt: skip

    async def body(w: World) -> None:
        with pytest.raises(CircuitOpen):  # trips the fallback's breaker (asked for directly)
            await w.client.chat(ask("claude-haiku-4-5", stream=True))
        response = await w.client.chat(ask(stream=True))
        (_, outcome) = w.client.outcomes()
        assert response.model == "gpt-4o-mini"
        assert [(a.model, a.error) for a in outcome.attempts] == [
            ("gpt-4o-mini", FirstTokenTimeout.__name__), ("gpt-4o-mini", None),
        ]  # fmt: skip

    def rule(request: Any) -> dict[str, str] | None:
        if model_of(request) == "claude-haiku-4-5":
            return {"x-fake-status": "500"}
        first = request.headers.get("x-harness-attempt") == "0"
        return {"x-fake-fault": "ttft_s=5"} if first else None

    conduct(kind, body, cfg, rule=rule)


# ------------------------------------------------------------------------------------------ breaker → fallback at once


@pytest.mark.parametrize("kind", KINDS)
def test_a_flapping_primarys_requests_reach_the_fallback_without_sleeps_or_retry_tokens(kind: str) -> None:
    """The primary's breaker opens on the first failure; backoff is long, so a sleep would show."""
    cfg = client_config(
        "gpt-4o-mini", "claude-haiku-4-5", fallbacks={"gpt-4o-mini": ("claude-haiku-4-5",)},
        retry=RetryConfig(max_attempts=3, backoff=equal_jitter(1.0, 2.0)),
        retry_budget=RetryBudgetConfig(ratio=0.1, reserve=5),
        breaker=BreakerConfig(consecutive_failures=1, failure_rate=None, open_backoff=fixed(0.6), half_open_probes=1),
    )  # fmt: skip
    outage = {"end": 0.0}

    def rule(request: Any) -> dict[str, str] | None:
        down = asyncio.get_running_loop().time() < outage["end"] and model_of(request) == "gpt-4o-mini"
        return {"x-fake-status": "503"} if down else None

    async def body(w: World) -> None:
        loop = asyncio.get_running_loop()
        outage["end"] = loop.time() + 1.5
        answered_by = []
        for i in range(20):
            response = await w.client.chat(ask(text=f"q{i}"))
            answered_by.append(response.model)
            await asyncio.sleep(0.15)
        outcomes = w.client.outcomes()
        assert all(o.ok for o in outcomes)
        assert answered_by[0] == "claude-haiku-4-5"
        assert answered_by[-1] == "gpt-4o-mini"
        for o in outcomes:
            for a, b in zip(o.attempts, o.attempts[1:], strict=False):
                assert a.model != b.model, o.attempts  # a failed primary attempt is never retried on the primary
                assert not a.wait_s
                assert b.t_start - a.t_end <= slack(w)  # no backoff sleep before the fallback
        failed_primary = [a for o in outcomes for a in o.attempts if a.model == "gpt-4o-mini" and a.error]
        assert 2 <= len(failed_primary) <= 4  # the trip, then a probe per open period: no hammering
        budget = w.client.retry_budget
        assert budget is not None
        assert (budget.retries, budget.refused) == (0, 0)
        w.assert_costs_agree()

    conduct(kind, body, cfg, rule=rule)


@pytest.mark.parametrize("kind", KINDS)
def test_a_chain_of_one_with_an_open_breaker_ends_now_instead_of_after_a_sleep(kind: str) -> None:
    cfg = client_config(
        "gpt-4o-mini", retry=RetryConfig(max_attempts=3, backoff=fixed(1.0)),
        retry_budget=RetryBudgetConfig(ratio=0.1, reserve=5),
        breaker=BreakerConfig(consecutive_failures=1, failure_rate=None, open_backoff=fixed(10)),
    )  # fmt: skip

    async def body(w: World) -> None:
        with pytest.raises(CircuitOpen) as caught:
            await w.client.chat(ask())
        assert isinstance(caught.value.__cause__, Overloaded)  # the failure that opened it
        (outcome,) = w.client.outcomes()
        assert len(outcome.attempts) == 1
        assert outcome.latency_s < 1.0
        budget = w.client.retry_budget
        assert budget is not None
        assert budget.retries == 0

    conduct(kind, body, cfg, rule=by_model({"gpt-4o-mini": {"x-fake-status": "503"}}))


# ------------------------------------------------------------------------------------------ streams that continue


async def read_stream(w: World, deltas: list[str]) -> None:
    """Stream an 80-token answer into ``deltas``."""
    async with w.client.stream(ask(max_tokens=80)) as stream:
        async for delta in stream:
            deltas.append(delta.text)


def _cut_after_40(request: Any) -> dict[str, str] | None:
    return {"x-fake-fault": "stream_cut_after=40"} if model_of(request) == "gpt-4o-mini" else None


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fallback", ["claude-haiku-4-5", "gemini-2.5-flash"])
def test_a_stream_cut_after_40_tokens_continues_on_a_prefill_capable_fallback(kind: str, fallback: str) -> None:
    cfg = client_config("gpt-4o-mini", fallback, fallbacks={"gpt-4o-mini": (fallback,)}, timeouts=LONG)

    async def body(w: World) -> None:
        deltas: list[str] = []
        async with w.client.stream(ask(max_tokens=80)) as stream:
            async for delta in stream:
                deltas.append(delta.text)
        response = stream.response
        assert response is not None
        assert "".join(deltas) == response.text  # nothing repeated, nothing missing
        records = await w.settled(2)
        cut, rest = records
        assert (cut.model, cut.finish, cut.output_tokens) == ("gpt-4o-mini", "cut", 40)
        assert (rest.model, rest.status) == (fallback, 200)
        delivered = "".join(deltas[:40])
        assert count_tokens(delivered) == 40
        assert response.text.startswith(delivered)
        assert count_tokens(response.text) == 40 + rest.output_tokens  # the fallback continued from the prefill
        assert rest.prompt_tokens > records[0].prompt_tokens  # it was sent the partial answer
        assert response.model == fallback
        (outcome,) = w.client.outcomes()
        assert outcome.ok
        assert [a.model for a in outcome.attempts] == ["gpt-4o-mini", fallback]
        w.assert_costs_agree()

    conduct(kind, body, cfg, rule=_cut_after_40)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fallback", ["claude-no-prefill", "gpt-no-prefill"])
def test_a_continuation_on_a_prefill_rejecting_fallback_ends_in_all_fallbacks_failed(kind: str, fallback: str) -> None:
    """The client was not told the fallback rejects prefills: the provider's 400 (in its own format) says so."""
    told = spec(fallback, "openai", price=GPT_NO_PREFILL.price) if fallback == "gpt-no-prefill" else spec(fallback)
    cfg = client_config("gpt-4o-mini", told, fallbacks={"gpt-4o-mini": (fallback,)}, timeouts=LONG)

    async def body(w: World) -> None:
        deltas: list[str] = []
        with pytest.raises(AllFallbacksFailed) as caught:
            await read_stream(w, deltas)
        err = caught.value
        assert isinstance(err, StreamInterrupted)
        assert [(m, type(e)) for m, e in err.errors] == [("gpt-4o-mini", ConnectionReset), (fallback, PrefillRejected)]
        assert err.delivered_text == "".join(deltas)
        assert count_tokens(err.delivered_text) == 40
        assert f"{err.delivered_chars} characters" in str(err)
        (outcome,) = w.client.outcomes()
        assert (outcome.ok, outcome.status) == (False, "StreamInterrupted")
        records = await w.settled(2)
        assert [(r.model, r.status) for r in records] == [("gpt-4o-mini", 200), (fallback, 400)]
        w.assert_costs_agree()

    pc = provider().with_models(GPT_NO_PREFILL)
    conduct(kind, body, cfg, rule=_cut_after_40, provider_config=pc)


@pytest.mark.parametrize("kind", KINDS)
def test_without_a_fallback_a_broken_stream_says_how_much_was_delivered(kind: str) -> None:
    async def body(w: World) -> None:
        deltas: list[str] = []
        with pytest.raises(StreamInterrupted) as caught:
            await read_stream(w, deltas)
        assert caught.value.delivered_chars == len("".join(deltas)) > 0
        assert isinstance(caught.value.cause, ConnectionReset)
        await verdict(w, attempts=1, model=None)

    conduct(kind, body, client_config("gpt-4o-mini", timeouts=LONG), rule=_cut_after_40)
