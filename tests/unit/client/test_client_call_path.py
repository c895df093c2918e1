"""The call path over the in-memory transport, in virtual time: every policy, every provider, one outcome each."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from fake_provider import ProviderConfig, ProviderCore
from harness import vtime
from harness.client import (
    BreakerConfig,
    BudgetRule,
    LimitConfig,
    ResilientClient,
    RetryBudgetConfig,
    RetryConfig,
    ThrottleConfig,
    Timeouts,
    fixed,
    full_jitter,
    key_label,
)
from harness.client.testing import by_attempt, by_model
from harness.errors import (
    AllFallbacksFailed,
    BudgetExceeded,
    CircuitOpen,
    ContextLengthExceeded,
    NotFound,
    RateLimited,
    ServerError,
)
from harness.judge.metrics import retry_after_violations
from harness.runner.memory_transport import MemoryTransport
from tests.unit.client.test_client_support import KEY, World, ask, config, provider, run, spec


@pytest.mark.parametrize("model", ["gpt-4o-mini", "claude-haiku-4-5", "gemini-2.5-flash"])
@pytest.mark.parametrize("stream", [False, True])
def test_each_provider_answers_and_the_books_agree(model: str, stream: bool) -> None:
    async def body(w: World) -> None:
        response = await w.client.chat(ask(model, stream=stream, user="ana", feature="search", client_id="c-1"))
        (record,) = w.records
        assert response.model == model
        assert response.finish_reason == "length"  # neutral vocabulary, whatever the provider said
        assert response.usage.output_tokens == record.output_tokens == 8
        assert response.usage.input_tokens == record.prompt_tokens
        assert response.cost_usd == Decimal(record.cost_usd) == response.total_cost_usd
        assert response.attempts == 1
        assert response.provider_request_ids == (record.request_id,)
        assert (record.logical_id, record.attempt, record.client_id) == (response.request_id, 0, "c-1")
        assert (response.ttft_s is not None) == stream
        (outcome,) = w.client.outcomes()
        assert outcome.ok
        assert outcome.id == response.request_id
        assert (outcome.model, outcome.provider, outcome.user, outcome.feature) == (
            model,
            model.split("-")[0].replace("gpt", "openai").replace("claude", "anthropic"),
            "ana",
            "search",
        )
        assert (outcome.input_tokens, outcome.output_tokens, outcome.stream) == (record.prompt_tokens, 8, stream)
        assert len(outcome.attempts) == 1
        assert outcome.attempts[0].request_id == record.request_id
        w.assert_costs_agree()
        assert w.client.cost.totals("user") == {"ana": response.cost_usd}

    run(body, config(model))


def test_retry_hints_are_honoured_and_attempts_are_numbered() -> None:
    hint = {"x-fake-status": "429; retry_after_ms=700"}

    async def body(w: World) -> None:
        response = await w.client.chat(ask())
        assert response.attempts == 3
        assert [r.attempt for r in w.records] == [0, 1, 2]
        assert [r.status for r in w.records] == [429, 429, 200]
        assert retry_after_violations([w.records]) == 0
        gaps = [b.t - (a.t + a.duration_s) for a, b in zip(w.records, w.records[1:], strict=False)]
        assert all(0.7 <= g <= 0.7 + 0.7 * 0.25 + 1e-9 for g in gaps)  # the hint, plus jitter on top
        waits = [a.wait_s for a in w.client.outcomes()[0].attempts]
        assert waits[:2] == pytest.approx(gaps)
        assert waits[2] is None
        w.assert_costs_agree()

    run(body, rule=by_attempt({0: hint, 1: hint}))


def test_persistent_failure_ends_after_max_attempts_with_the_providers_error() -> None:
    async def body(w: World) -> None:
        with pytest.raises(RateLimited):
            await w.client.chat(ask())
        assert len(w.records) == 3
        (outcome,) = w.client.outcomes()
        assert (outcome.ok, outcome.status, outcome.cost_usd) == (False, "RateLimited", "0")
        assert [a.error for a in outcome.attempts] == ["RateLimited"] * 3
        assert all(a.wait_s is None or a.wait_s > 0 for a in outcome.attempts)  # no hammering

    run(body, rule=lambda r: {"x-fake-status": "429"})


def test_the_total_deadline_stops_retries_that_would_end_past_it() -> None:
    cfg = config(retry=RetryConfig(max_attempts=10, backoff=fixed(2.0)), timeouts=Timeouts(total_s=5))

    async def body(w: World) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(ServerError):
            await w.client.chat(ask())
        assert len(w.records) == 3  # t=0, 2, 4; a retry at 6 would pass the deadline
        assert loop.time() - start <= 5

    run(body, cfg, rule=lambda r: {"x-fake-status": "500"})


def test_non_retryable_errors_are_sent_once() -> None:
    async def body(w: World) -> None:
        with pytest.raises(NotFound):
            await w.client.chat(ask("gpt-4o-mini"))
        assert len(w.records) == 1

    run(body, rule=lambda r: {"x-fake-status": "404"})


def test_an_unconfigured_model_is_refused_without_sending() -> None:
    async def body(w: World) -> None:
        with pytest.raises(NotFound, match="not configured"):
            await w.client.chat(ask("gpt-4o"))
        assert w.records == []
        assert w.client.outcomes()[0].status == "NotFound"

    run(body)


def test_retry_budget_caps_amplification() -> None:
    cfg = config(retry_budget=RetryBudgetConfig(ratio=0.0, reserve=2))

    async def body(w: World) -> None:
        results = await asyncio.gather(*(w.client.call(ask(text=f"q{i}")) for i in range(5)), return_exceptions=True)
        assert results == [False] * 5
        assert len(w.records) == 5 + 2  # five first attempts, two retries from the reserve
        # each request wanted two retries; the reserve had two for everyone: every request ends refused
        assert [o.status for o in w.client.outcomes()] == ["RetryBudgetExhausted"] * 5

    run(body, cfg, rule=lambda r: {"x-fake-status": "503"})


def test_breaker_opens_refuses_locally_and_the_chain_falls_over() -> None:
    cfg = config(
        "gpt-4o-mini",
        "claude-haiku-4-5",
        fallbacks={"gpt-4o-mini": ("claude-haiku-4-5",)},
        retry=RetryConfig(max_attempts=1),
        breaker=BreakerConfig(consecutive_failures=2, failure_rate=None, open_backoff=fixed(30)),
    )

    async def body(w: World) -> None:
        for i in range(4):
            response = await w.client.chat(ask(text=f"q{i}"))
            assert response.model == "claude-haiku-4-5"
        sent_to_primary = [r for r in w.records if r.model == "gpt-4o-mini"]
        assert len(sent_to_primary) == 2  # then the open circuit refused without sending
        (event,) = [e for e in w.client.events() if e.kind == "breaker"]
        assert (event.name, event.detail) == ("gpt-4o-mini", "closed→open")
        assert "gpt-4o-mini=open" in w.client.state()
        w.assert_costs_agree()

    run(body, cfg, rule=by_model({"gpt-4o-mini": {"x-fake-status": "500"}}))


def test_an_open_circuit_without_fallback_is_the_error() -> None:
    cfg = config(
        retry=RetryConfig(max_attempts=1), breaker=BreakerConfig(consecutive_failures=1, open_backoff=fixed(9))
    )

    async def body(w: World) -> None:
        with pytest.raises(ServerError):
            await w.client.chat(ask())
        with pytest.raises(CircuitOpen):
            await w.client.chat(ask())
        assert len(w.records) == 1
        assert [o.status for o in w.client.outcomes()] == ["ServerError", "CircuitOpen"]
        assert w.client.outcomes()[1].attempts == ()

    run(body, cfg, rule=lambda r: {"x-fake-status": "500"})


def test_all_fallbacks_failing_reports_each() -> None:
    cfg = config(
        "gpt-4o-mini",
        "claude-haiku-4-5",
        fallbacks={"gpt-4o-mini": ("claude-haiku-4-5",)},
        retry=RetryConfig(max_attempts=2),
    )

    async def body(w: World) -> None:
        with pytest.raises(AllFallbacksFailed) as caught:
            await w.client.chat(ask())
        assert [m for m, _ in caught.value.errors] == ["gpt-4o-mini", "claude-haiku-4-5"]
        assert len(w.records) == 4
        assert w.client.outcomes()[0].status == "AllFallbacksFailed"

    run(body, cfg, rule=lambda r: {"x-fake-status": "503"})


def test_context_too_long_goes_to_a_larger_model_known_or_not() -> None:
    long_text = " ".join(["word"] * 60)
    unknown = config("tiny", "gpt-4o-mini", fallbacks={"tiny": ("gpt-4o-mini",)})
    known = config(spec("tiny", context_window=40), "gpt-4o-mini", fallbacks={"tiny": ("gpt-4o-mini",)})

    async def provider_says(w: World) -> None:
        response = await w.client.chat(ask("tiny", long_text))
        assert response.model == "gpt-4o-mini"
        assert [(r.model, r.status) for r in w.records] == [("tiny", 400), ("gpt-4o-mini", 200)]
        assert [a.error for a in w.client.outcomes()[0].attempts] == ["ContextLengthExceeded", None]

    async def client_knows(w: World) -> None:
        response = await w.client.chat(ask("tiny", long_text))
        assert response.model == "gpt-4o-mini"
        assert [r.model for r in w.records] == ["gpt-4o-mini"]  # never sent to the small model

    async def nowhere_to_go(w: World) -> None:
        with pytest.raises(ContextLengthExceeded):
            await w.client.chat(ask("tiny", long_text))

    run(provider_says, unknown)
    run(client_knows, known)
    run(nowhere_to_go, config(spec("tiny", context_window=40)))


def test_a_hard_budget_refuses_before_sending_and_a_soft_one_warns() -> None:
    rules = (
        BudgetRule("user", "*", "day", "rolling", soft_usd=Decimal("0.000005")),
        BudgetRule("global", "*", "day", "rolling", hard_usd=Decimal("0.000015")),  # two requests' worth
    )

    async def body(w: World) -> None:
        await w.client.chat(ask(user="ana"))
        await w.client.chat(ask(text="second", user="ana"))
        with pytest.raises(BudgetExceeded):
            await w.client.chat(ask(text="third", user="ana"))
        refused = [o for o in w.client.outcomes() if o.status == "BudgetExceeded"]
        assert len(refused) == 1
        assert refused[0].attempts == ()
        assert len(w.records) == len(w.client.outcomes()) - 1
        kinds = {e.kind for e in w.client.events()}
        assert {"budget_soft", "budget_hard"} <= kinds
        assert w.ledger_total() <= Decimal("0.000015")
        w.assert_costs_agree()

    run(body, config(budgets=rules))


def test_the_limiter_paces_requests_in_virtual_time() -> None:
    cfg = config(limits=LimitConfig(rpm=2), timeouts=Timeouts(total_s=None))

    async def body(w: World) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.gather(*(w.client.chat(ask(text=f"q{i}")) for i in range(5)))
        arrivals = sorted(r.t - start for r in w.records)
        assert arrivals[:2] == [0.0, 0.0]
        # a sliding 60 s window, never over the limit; capacity comes back the transit margin (0.25 s) after it
        assert arrivals[2] == pytest.approx(60.25, abs=0.05)
        assert arrivals[4] == pytest.approx(120.5, abs=0.05)

    run(body, cfg)


def test_rate_limit_headers_teach_the_limiter() -> None:
    class AddLimits:
        """Adds OpenAI rate-limit headers to every response (the fake's quotas come with another issue)."""

        def __init__(self, inner: object) -> None:
            self.inner = inner

        async def send(self, request: object) -> object:
            response = await self.inner.send(request)  # type: ignore[attr-defined]
            response.headers = {
                **response.headers,
                "x-ratelimit-limit-requests": "100",
                "x-ratelimit-remaining-requests": "99",
                "x-ratelimit-reset-requests": "600ms",
            }
            return response

        async def aclose(self) -> None:
            pass

    async def body(w: World) -> None:
        await w.client.chat(ask())
        limiter = w.client.routes["gpt-4o-mini"].limiter
        assert limiter.effective_limit(0) == 95  # type: ignore[attr-defined]  # learned at 95 % of the header

    run(body, wrap=AddLimits)  # type: ignore[arg-type]


def test_a_refused_key_rotates_to_the_next_and_stays_secret() -> None:
    cfg = config(spec("gpt-4o-mini", api_keys=("sk-revoked-123", KEY)))

    async def body(w: World) -> None:
        response = await w.client.chat(ask())
        assert [r.status for r in w.records] == [401, 200]
        assert response.attempts == 2
        (event,) = w.client.events()
        assert event.kind == "key_rotated"
        assert event.detail == f"auth: {key_label('sk-revoked-123')} → {key_label(KEY)}"
        await w.client.chat(ask(text="again"))
        assert w.records[-1].status == 200  # the ring stays on the good key
        everything = repr(w.client.outcomes()) + repr(w.client.events()) + repr(w.client) + repr(w.client.routes)
        assert "sk-revoked-123" not in everything
        assert KEY not in everything

    run(body, cfg, provider_config=provider(allowed_keys=frozenset({KEY})))


def test_quota_exhaustion_rotates_keys_then_falls_over() -> None:
    cfg = config(
        spec("gpt-4o-mini", api_keys=("sk-a", "sk-b")),
        "claude-haiku-4-5",
        fallbacks={"gpt-4o-mini": ("claude-haiku-4-5",)},
    )

    def rule(request: object) -> dict[str, str] | None:
        auth = request.headers.get("authorization", "")  # type: ignore[attr-defined]
        return {"x-fake-status": "429; code=insufficient_quota"} if auth.startswith("Bearer sk-") else None

    async def body(w: World) -> None:
        response = await w.client.chat(ask())
        assert response.model == "claude-haiku-4-5"
        assert [(r.model, r.status) for r in w.records] == [("gpt-4o-mini", 429)] * 2 + [("claude-haiku-4-5", 200)]
        assert [e.kind for e in w.client.events()] == ["key_rotated"]

    run(body, cfg, rule=rule)


def test_an_echoed_key_is_scrubbed_from_errors() -> None:
    secret = "sk-echoed-secret"
    cfg = config(spec("gpt-4o-mini", api_keys=(secret,)))

    async def body(w: World) -> None:
        with pytest.raises(Exception) as caught:
            await w.client.chat(ask())
        assert secret not in str(caught.value)
        (outcome,) = w.client.outcomes()
        assert secret not in (outcome.error or "")
        assert key_label(secret) in (outcome.error or "")

    run(body, cfg, rule=lambda r: {"x-fake-status": f"400; message=bad key {secret}"})


def test_a_cancelled_request_still_gets_exactly_one_outcome() -> None:
    async def body(w: World) -> None:
        task = asyncio.create_task(w.client.chat(ask()))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        (outcome,) = w.client.outcomes()
        assert (outcome.ok, outcome.status) == (False, "Cancelled")
        assert outcome.attempts[0].error == "Cancelled"
        assert w.records[0].finish == "client_gone"

    run(body, rule=lambda r: {"x-fake-fault": "silence; seconds=3"})


def test_call_reports_success_as_a_boolean_and_records_everything() -> None:
    async def body(w: World) -> None:
        assert await w.client.call(ask()) is True
        assert await w.client.call(ask("gpt-4o")) is False  # not configured: recorded, not raised
        assert [o.ok for o in w.client.outcomes()] == [True, False]
        assert w.client.name == "reference"

    run(body)


def test_adaptive_throttling_rejects_locally_under_overload() -> None:
    cfg = config(throttle=ThrottleConfig(k=1.1, window_s=60), retry=RetryConfig(max_attempts=1), retry_budget=None)

    async def body(w: World) -> None:
        for i in range(60):
            await w.client.call(ask(text=f"q{i}"))
        statuses = [o.status for o in w.client.outcomes()]
        assert statuses.count("RetryBudgetExhausted") > 10  # rejected locally, never sent
        assert len(w.records) == 60 - statuses.count("RetryBudgetExhausted")

    run(body, cfg, rule=lambda r: {"x-fake-status": "503"})


def test_retries_use_the_injected_sleep() -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    async def body(w: World) -> None:
        await w.client.chat(ask())
        assert len(slept) == 1
        assert 0 <= slept[0] <= 0.1

    cfg = config(retry=RetryConfig(max_attempts=2, backoff=full_jitter(0.1, 1)))
    run(body, cfg, rule=by_attempt({0: {"x-fake-status": "500"}}), sleep=fake_sleep)


def test_a_client_built_outside_a_loop_follows_the_loop_it_runs_in() -> None:
    def loop_time() -> float:
        try:
            return asyncio.get_running_loop().time()
        except RuntimeError:
            return 0.0

    core = ProviderCore(provider(), clock=loop_time)
    client = ResilientClient(config(), transport=MemoryTransport(core))  # no loop is running here

    async def main() -> None:
        await asyncio.sleep(1000)
        await client.chat(ask())

    vtime.run(main())
    assert client.outcomes()[0].t_start == 1000.0  # the virtual loop's clock, not the process's


def test_limits_learned_from_the_providers_headers_avoid_429s() -> None:
    from harness.judge.facts import LimitFact
    from harness.judge.metrics import limit_violations
    from harness.validate import Table

    async def body(w: World) -> None:
        async def user(i: int) -> None:
            for k in range(10):
                assert await w.client.call(ask(text=f"u{i} q{k}"))

        await asyncio.gather(*(user(i) for i in range(4)))
        assert len(w.records) == 40
        assert [r.status for r in w.records].count(429) == 0  # paced under the quota it learned
        assert limit_violations(w.records, LimitFact("rpm", 10)) == 0
        assert w.client.routes["gpt-4o-mini"].limiter.effective_limit(0) == 9  # type: ignore[attr-defined]

    quota = ProviderConfig.from_table(Table({"quotas": {"rpm": 10}}, "provider"))
    run(body, config(timeouts=Timeouts(total_s=None)), provider_config=quota)
