"""The stream API, restarts, coalescing, the cache, the outcome log's exports, and the public API."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
from decimal import Decimal

import pytest

import harness.client as client_api
from harness.client import (
    CacheConfig,
    OutcomeLog,
    RetryConfig,
    StreamingConfig,
    client_event,
)
from harness.client.events import PolicyEvent
from harness.client.testing import by_attempt, by_model
from harness.errors import ConnectionReset, Overloaded, StreamBroken, StreamInterrupted
from harness.records import OutcomeRecord, load_jsonl
from harness.report.series import Period, breaker_periods
from tests.unit.client.test_client_support import World, ask, config, run, spec


def test_a_stream_yields_deltas_then_the_usage() -> None:
    async def body(w: World) -> None:
        deltas = []
        async with w.client.stream(ask("claude-haiku-4-5", max_tokens=6)) as stream:
            async for delta in stream:
                deltas.append(delta)
        *texts, final = deltas
        assert all(not d.final for d in texts)
        assert final.final
        assert final.text == ""
        assert final.response is not None
        assert final.response is stream.response
        (record,) = w.records
        assert len(texts) == record.output_tokens == 6
        assert "".join(d.text for d in texts) == final.response.text
        assert final.response.usage.output_tokens == 6
        assert final.response.ttft_s is not None
        (outcome,) = w.client.outcomes()
        assert outcome.stream
        assert outcome.ttft_s == final.response.ttft_s
        w.assert_costs_agree()

    run(body, config("claude-haiku-4-5"))


def test_before_the_first_token_a_stream_is_retried_silently() -> None:
    async def body(w: World) -> None:
        async with w.client.stream(ask(max_tokens=5)) as stream:
            text = await stream.text()
        assert [r.status for r in w.records] == [503, 200]
        assert stream.response is not None
        assert text == stream.response.text
        assert stream.response.attempts == 2

    run(body, rule=by_attempt({0: {"x-fake-status": "503"}}))


def test_after_the_first_token_a_broken_stream_is_the_callers_error() -> None:
    async def body(w: World) -> None:
        got = []

        async def consume() -> None:
            async with w.client.stream(ask(max_tokens=8)) as stream:
                async for delta in stream:
                    got.append(delta.text)

        with pytest.raises(StreamInterrupted) as caught:
            await consume()
        assert len(got) == 3  # the three tokens sent before the cut, never a "complete" answer
        assert caught.value.delivered_text == "".join(got)  # says how much the caller has
        assert caught.value.delivered_chars == len("".join(got))
        assert isinstance(caught.value.cause, ConnectionReset)
        assert [m for m, _ in caught.value.errors] == ["gpt-4o-mini"]
        assert len(w.records) == 1  # no silent retry once the caller has text (no other model to continue on)
        (outcome,) = w.client.outcomes()
        assert (outcome.ok, outcome.status) == (False, "StreamInterrupted")
        assert f"{len(''.join(got))} characters reached the caller" in (outcome.error or "")
        w.assert_costs_agree()  # the cut stream was billed its prompt and three tokens, on both sides
        assert Decimal(outcome.cost_usd) > 0

    run(body, rule=by_attempt({0: {"x-fake-fault": "cut; after_tokens=3"}}))


def test_chat_on_a_streamed_request_retries_a_cut_from_scratch() -> None:
    async def body(w: World) -> None:
        response = await w.client.chat(ask(max_tokens=8, stream=True))
        assert response.usage.output_tokens == 8
        assert [r.finish for r in w.records] == ["cut", "length"]
        assert response.total_cost_usd == response.cost_usd + Decimal(w.records[0].cost_usd)
        w.assert_costs_agree()

    run(body, rule=by_attempt({0: {"x-fake-fault": "cut; after_tokens=3"}}))


def test_a_mid_stream_error_event_is_typed_and_retried_before_delivery() -> None:
    async def body(w: World) -> None:
        response = await w.client.chat(ask("claude-haiku-4-5", stream=True))
        assert response.attempts == 2
        assert w.client.outcomes()[0].attempts[0].error == Overloaded.__name__

    run(body, config("claude-haiku-4-5"), rule=by_attempt({0: {"x-fake-fault": "error; after_tokens=2; status=529"}}))


def test_restart_on_break_continues_on_a_model_that_accepts_a_prefill() -> None:
    cfg = config(
        "gpt-4o-mini",
        spec("claude-no-prefill", accepts_prefill=False),
        "claude-haiku-4-5",
        fallbacks={"gpt-4o-mini": ("claude-no-prefill", "claude-haiku-4-5")},
        streaming=StreamingConfig(restart_on_break=True),
    )

    async def body(w: World) -> None:
        async with w.client.stream(ask(max_tokens=8)) as stream:
            deltas = [d.text async for d in stream if not d.final]
        response = stream.response
        assert response is not None
        assert response.model == "claude-haiku-4-5"
        first, second = w.records
        assert (first.model, first.finish, first.output_tokens) == ("gpt-4o-mini", "cut", 3)
        assert second.model == "claude-haiku-4-5"  # the no-prefill model was skipped, never sent a prefill
        assert "".join(deltas) == response.text  # the caller's text continues without a gap or a repeat
        assert len(deltas) == 3 + second.output_tokens
        (outcome,) = w.client.outcomes()
        assert [a.model for a in outcome.attempts] == ["gpt-4o-mini", "claude-haiku-4-5"]
        w.assert_costs_agree()

    run(body, cfg, rule=by_model({"gpt-4o-mini": {"x-fake-fault": "cut; after_tokens=3"}}))


def test_restart_sends_the_partial_answer_as_an_assistant_prefill() -> None:
    cfg = config(
        "gpt-4o-mini",
        "claude-haiku-4-5",
        fallbacks={"gpt-4o-mini": ("claude-haiku-4-5",)},
        streaming=StreamingConfig(restart_on_break=True),
    )
    bodies: list[bytes] = []

    class Spy:
        def __init__(self, inner: object) -> None:
            self.inner = inner

        async def send(self, request: object) -> object:
            bodies.append(request.body)  # type: ignore[attr-defined]
            return await self.inner.send(request)  # type: ignore[attr-defined]

        async def aclose(self) -> None:
            pass

    async def body(w: World) -> None:
        got = []
        async with w.client.stream(ask(max_tokens=8)) as stream:
            async for delta in stream:
                got.append(delta.text)
        partial = "".join(got[:3])
        sent = json.loads(bodies[1])
        assert sent["messages"][-1] == {"role": "assistant", "content": partial}
        assert stream.response is not None
        assert stream.response.text.startswith(partial)

    def wrap(inner: object) -> object:
        return Spy(inner)

    run(body, cfg, rule=by_model({"gpt-4o-mini": {"x-fake-fault": "cut; after_tokens=3"}}), wrap=wrap)  # type: ignore[arg-type]


def test_a_request_ending_with_a_prefill_skips_models_that_reject_one() -> None:
    cfg = config(
        spec("claude-no-prefill", accepts_prefill=False), "claude-haiku-4-5",
        fallbacks={"claude-no-prefill": ("claude-haiku-4-5",)},
    )  # fmt: skip
    from harness.client.types import ChatRequest, Message

    request = ChatRequest("claude-no-prefill", (Message("user", "hi"), Message("assistant", "Sure,")), max_tokens=4)

    async def body(w: World) -> None:
        response = await w.client.chat(request)
        assert response.model == "claude-haiku-4-5"
        assert [r.model for r in w.records] == ["claude-haiku-4-5"]
        (outcome,) = w.client.outcomes()
        assert outcome.attempts[0].model == "claude-haiku-4-5"

    run(body, cfg)


def test_closing_a_stream_early_cancels_and_records_once() -> None:
    async def body(w: World) -> None:
        async with w.client.stream(ask("slow", max_tokens=10)) as stream:
            async for _ in stream:
                break
        await asyncio.sleep(0)
        (outcome,) = w.client.outcomes()
        assert outcome.status == "Cancelled"
        assert w.records[0].finish == "client_gone"
        w.assert_costs_agree()

    run(body, config("slow"))


def test_identical_in_flight_requests_share_one_call() -> None:
    async def body(w: World) -> None:
        responses = await asyncio.gather(*(w.client.chat(ask("slow", max_tokens=2)) for _ in range(5)))
        assert len(w.records) == 1
        assert len({r.request_id for r in responses}) == 5
        assert sorted(r.source for r in responses) == ["coalesced"] * 4 + ["provider"]
        assert {r.text for r in responses} == {responses[0].text}
        outcomes = w.client.outcomes()
        assert len(outcomes) == 5
        assert sum(len(o.attempts) for o in outcomes) == 1
        w.assert_costs_agree()

    run(body, config("slow", coalesce=True))


def test_a_follower_survives_its_leaders_cancellation() -> None:
    async def body(w: World) -> None:
        leader = asyncio.create_task(w.client.chat(ask("slow", max_tokens=2)))
        await asyncio.sleep(0.01)
        follower = asyncio.create_task(w.client.chat(ask("slow", max_tokens=2)))
        await asyncio.sleep(0.01)
        leader.cancel()
        response = await follower
        assert response.source == "provider"
        assert len(w.records) == 2
        assert sorted(o.status for o in w.client.outcomes()) == ["Cancelled", "ok"]

    run(body, config("slow", coalesce=True))


def test_the_cache_serves_temperature_zero_requests_only() -> None:
    cfg = config(cache=CacheConfig(enabled=True, ttl_s=60))

    async def body(w: World) -> None:
        first = await w.client.chat(ask(temperature=0.0))
        again = await w.client.chat(ask(temperature=0.0))
        assert (first.source, again.source) == ("provider", "cache")
        assert again.text == first.text
        assert again.cost_usd == 0
        assert again.request_id != first.request_id
        await w.client.chat(ask(temperature=0.7))
        await w.client.chat(ask(temperature=0.7))
        assert len(w.records) == 3
        await asyncio.sleep(61)
        expired = await w.client.chat(ask(temperature=0.0))
        assert expired.source == "provider"
        assert len(w.client.outcomes()) == 5 + 0 + 0  # one outcome per logical request, cached or not
        w.assert_costs_agree()

    run(body, cfg)


def test_the_outcome_log_exports_jsonl_and_prometheus() -> None:
    async def body(w: World) -> None:
        await w.client.chat(ask(user="u"))
        await w.client.call(ask(text="fails"))
        log = w.client.log
        back = list(load_jsonl(OutcomeRecord, log.jsonl()))
        assert back == w.client.outcomes()
        text = log.prometheus_text()
        assert 'harness_client_requests_total{model="gpt-4o-mini",status="ok"} 1' in text
        assert 'harness_client_requests_total{model="gpt-4o-mini",status="ServerError"} 1' in text
        assert 'harness_client_attempts_total{model="gpt-4o-mini",code="500"} 3' in text
        assert "harness_client_request_duration_seconds_count 2" in text
        assert 'harness_client_tokens_total{model="gpt-4o-mini",kind="output"} 8' in text

    run(body, rule=lambda r: {"x-fake-status": "500"} if b"fails" in r.body else None)


def test_a_second_terminal_record_is_refused() -> None:
    log = OutcomeLog()
    record = OutcomeRecord("r1", True, "ok", 0.0, 1.0, "m")
    log.write(record)
    with pytest.raises(RuntimeError, match="second terminal outcome"):
        log.write(record)


def test_policy_events_become_report_rows() -> None:
    breaker = client_event(PolicyEvent("breaker.state", "gpt-4o", 3.0, {"from": "closed", "to": "open", "reason": "x"}))
    assert (breaker.kind, breaker.name, breaker.detail) == ("breaker", "gpt-4o", "closed→open")
    assert breaker_periods([breaker], 0.0, 10.0) == [Period(3.0, 10.0, "open")]  # the report reads it
    soft = client_event(PolicyEvent("budget.soft_limit", "r=ana", 1.0, {"limit_usd": "4", "spent_usd": "4.1"}))
    assert (soft.kind, soft.detail) == ("budget_soft", "spent 4.1 of 4 USD")
    other = client_event(PolicyEvent("limiter.fallback", "l", 1.0, {"reason": "ConnectionError"}))
    assert (other.kind, other.detail) == ("limiter_fallback", "ConnectionError")
    log = OutcomeLog()
    log.event(breaker)
    assert json.loads(log.events_jsonl()) == {
        "t": 3.0,
        "kind": "breaker",
        "name": "gpt-4o",
        "detail": "closed→open",
    }


def test_retry_config_allows_no_retry() -> None:
    async def body(w: World) -> None:
        with pytest.raises(StreamBroken):
            await w.client.chat(ask(stream=True))
        assert len(w.records) == 1

    run(body, config(retry=RetryConfig(max_attempts=1)), rule=lambda r: {"x-fake-fault": "error; after_tokens=1"})


def test_the_public_api_is_complete() -> None:
    exported = set(client_api.__all__)
    assert len(exported) == len(client_api.__all__)
    for name in exported:
        assert getattr(client_api, name) is not None
    # everything the client modules declare public is reachable from harness.client
    for module_name in ("client", "config", "types", "transport", "outcomes", "stream_api", "cache", "coalesce"):
        module = importlib.import_module(f"harness.client.{module_name}")
        missing = set(module.__all__) - exported
        assert not missing, f"harness.client.{module_name} exports {missing} but harness.client does not"
    # and the policies' main classes
    for name in ("RateLimiter", "CircuitBreaker", "RetryPolicy", "RetryBudget", "AdaptiveThrottle", "CostTracker"):
        assert inspect.isclass(getattr(client_api, name))


def test_a_cached_answer_streams_as_one_delta() -> None:
    cfg = config(cache=CacheConfig(enabled=True))

    async def body(w: World) -> None:
        first = await w.client.chat(ask(temperature=0.0))
        async with w.client.stream(ask(temperature=0.0)) as stream:
            deltas = [d async for d in stream]
        assert [d.text for d in deltas] == [first.text, ""]
        assert deltas[-1].response is not None
        assert deltas[-1].response.source == "cache"
        assert len(w.records) == 1

    run(body, cfg)


def test_a_content_filter_finish_on_a_200_is_a_refusal_not_an_answer() -> None:
    from harness.client.testing import RewriteBody
    from harness.errors import ContentFiltered

    def filtered(index: int, data: bytes) -> bytes:
        return data.replace(b'"finish_reason":"length"', b'"finish_reason":"content_filter"')

    cfg = config("gpt-4o-mini", "claude-haiku-4-5", fallbacks={"gpt-4o-mini": ("claude-haiku-4-5",)})

    async def body(w: World) -> None:
        with pytest.raises(ContentFiltered):
            await w.client.chat(ask())
        assert len(w.records) == 1  # neither retried nor failed over
        (outcome,) = w.client.outcomes()
        assert outcome.status == "ContentFiltered"
        w.assert_costs_agree()  # the provider billed the filtered answer; so did the client

    run(body, cfg, wrap=lambda t: RewriteBody(t, filtered, lambda r: True))


def test_a_restart_that_passes_an_open_circuit_does_not_repeat_the_partial_answer() -> None:
    from harness.client import BreakerConfig, fixed

    cfg = config(
        "gpt-4o-mini", "claude-haiku-4-5", "gemini-2.5-flash",
        fallbacks={"gpt-4o-mini": ("claude-haiku-4-5", "gemini-2.5-flash")},
        streaming=StreamingConfig(restart_on_break=True), retry=RetryConfig(max_attempts=1),
        breaker=BreakerConfig(consecutive_failures=1, failure_rate=None, open_backoff=fixed(60)),
    )  # fmt: skip
    sent: list[bytes] = []

    def rule(request: object) -> dict[str, str] | None:
        body = request.body  # type: ignore[attr-defined]
        sent.append(body)
        if b'"model":"gpt-4o-mini"' in body:
            return {"x-fake-fault": "stream_cut_after=3"}
        return {"x-fake-status": "529"} if b"trip" in body else None

    async def body(w: World) -> None:
        with pytest.raises(Overloaded):
            await w.client.chat(ask("claude-haiku-4-5", text="trip the breaker"))
        async with w.client.stream(ask(max_tokens=8)) as stream:
            deltas = [d.text async for d in stream if not d.final]
        assert stream.response is not None
        assert stream.response.model == "gemini-2.5-flash"
        partial = "".join(deltas[:3])
        prefill = json.loads(sent[-1])["contents"][-1]
        assert prefill == {"role": "model", "parts": [{"text": partial}]}  # once, not twice
        assert "".join(deltas) == stream.response.text

    run(body, cfg, rule=rule)
