"""The degradation ladder: its rules as pure functions, its config's mistakes, and the client walking it."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from harness.client import ClientConfig
from harness.client.backoff import fixed
from harness.client.breaker import BreakerConfig
from harness.client.budget import BudgetRule
from harness.client.degradation import DegradationConfig, QuotaGauge, Signals, StaleAnswers, steps_for, trigger
from harness.client.retry import RetryConfig
from harness.client.testing import by_model
from harness.errors import ConfigError, Degraded, HarnessError
from harness.wire.neutral import RateLimits
from tests.unit.client.test_client_support import World, ask, config, run

LADDER = DegradationConfig(cheaper_model="gpt-4o-mini", degrade_above=0.8, static_above=0.95, quota_below=0.1)
DOWN = {"x-fake-fault": "status=503"}


# -- rules (sans I/O) --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("signals", "expected"),
    [
        (Signals(), None),
        (Signals(primary_open=True), "breaker_open"),
        (Signals(primary_failed=True), "primary_failed"),
        (Signals(spent_share=0.79), None),
        (Signals(spent_share=0.8), "budget"),
        (Signals(spent_share=0.9, primary_open=True), "budget"),  # the budget rule is read first
        (Signals(quota_share=0.05), "quota"),
        (Signals(quota_share=0.1), None),  # below, not at
    ],
)
def test_the_trigger_names_the_rule_that_fired(signals: Signals, expected: str | None) -> None:
    assert trigger(LADDER, signals) == expected


def test_rules_switched_off_do_not_fire() -> None:
    quiet = replace(LADDER, on_breaker_open=False, on_failure=False)
    assert trigger(quiet, Signals(primary_open=True, primary_failed=True)) is None
    assert trigger(replace(LADDER, degrade_above=None), Signals(spent_share=1.0)) is None


@pytest.mark.parametrize(
    ("signals", "expected"),
    [
        (Signals(spent_share=0.5), ("cache", "cheaper", "static")),
        (Signals(spent_share=0.95), ("cache", "static")),  # nearly spent: not even the cheaper model
        (Signals(cheaper_open=True), ("cache", "static")),
        (Signals(), ("cache", "cheaper", "static")),
    ],
)
def test_the_steps_leave_out_the_cheaper_model_when_its_rule_says(signals: Signals, expected: tuple[str]) -> None:
    assert steps_for(LADDER, signals) == expected


def test_stale_answers_expire_and_stay_bounded_on_the_injected_clock() -> None:
    now = [0.0]
    store: StaleAnswers[str] = StaleAnswers(10.0, 2, clock=lambda: now[0])
    store.put("a", "A")
    store.put("b", "B")
    assert store.get("a") == "A"  # a is now the most recent
    store.put("c", "C")  # b goes
    assert (store.get("b"), len(store)) == (None, 2)
    now[0] = 10.5
    assert store.get("a") is None  # older than ten seconds


def test_the_quota_gauge_reads_the_scarcest_dimension_until_its_reset() -> None:
    gauge = QuotaGauge(hold_s=30)
    assert gauge.share(0.0) is None
    gauge.see(RateLimits(requests_limit=100, requests_remaining=50, requests_reset_s=20,
                         tokens_limit=1000, tokens_remaining=40, tokens_reset_s=5), now=10.0)  # fmt: skip
    assert gauge.share(14.9) == 0.04  # tokens: 40 of 1000
    assert gauge.share(15.0) is None  # the earliest reset has passed: not known any more
    gauge.see(RateLimits(requests_limit=10, requests_remaining=3), now=20.0)  # no reset: held 30 s
    assert (gauge.share(49.9), gauge.share(50.0)) == (0.3, None)
    gauge.see(RateLimits(retry_after_s=1.0), now=60.0)  # no limit said: nothing learned
    assert gauge.share(60.0) is None


@pytest.mark.parametrize(
    ("table", "field"),
    [
        ({"steps": ["static", "cache"]}, "client.degradation.steps"),
        ({"steps": ["cache", "pray"]}, "client.degradation.steps"),
        ({"steps": ["cheaper"]}, "client.degradation.cheaper_model"),
        ({"steps": ["cheaper"], "cheaper_model": "gpt-5"}, "client.degradation.cheaper_model"),
        ({"degrade_above": 1.5}, "client.degradation.degrade_above"),
        ({"degrade_above": 0.8}, "client.degradation.budget_usd"),  # no budget to count against
        ({"budget_usd": "-1", "degrade_above": 0.5}, "client.degradation.budget_usd"),
        ({"static_answer": ""}, "client.degradation.static_answer"),
        ({"quota_below": 1}, "client.degradation.quota_below"),
        ({"colour": "red"}, "client.degradation.colour"),
        ({"primary_deadline_s": 0}, "client.degradation.primary_deadline_s"),
    ],
)
def test_mistakes_are_refused_naming_the_field(table: dict[str, Any], field: str) -> None:
    data = {"models": [{"name": "gpt-4o-mini", "provider": "openai"}], "degradation": {"steps": ["static"], **table}}
    with pytest.raises(ConfigError) as caught:
        ClientConfig.parse(data)
    assert field in str(caught.value)


def test_the_ladder_is_off_unless_declared() -> None:
    base = {"models": [{"name": "gpt-4o-mini", "provider": "openai"}]}
    assert ClientConfig.parse(base).degradation is None
    assert ClientConfig.parse({**base, "degradation": {"enabled": False}}).degradation is None


# -- the client walking the ladder -------------------------------------------------------------
def laddered(**kw: Any) -> ClientConfig:
    cfg = config("gpt-4o", "gpt-4o-mini", retry=RetryConfig(max_attempts=1))
    return replace(cfg, degradation=replace(LADDER, degrade_above=None, static_above=None, **kw))


def test_a_failing_primary_is_served_from_the_cache_then_the_cheaper_model() -> None:
    async def body(w: World) -> None:
        assert (await w.client.chat(ask("gpt-4o", "what is new?"))).source == "provider"  # primary, remembered
        w.extra["down"] = True
        cached = await w.client.chat(ask("gpt-4o", "what is new?"))
        cheaper = await w.client.chat(ask("gpt-4o", "something else"))
        assert (cached.source, cached.cost_usd) == ("cache", Decimal(0))
        assert (cheaper.model, cheaper.source) == ("gpt-4o-mini", "provider")
        steps = [o.degradation_step for o in w.client.outcomes()]
        assert steps == ["primary", "cache", "cheaper"]
        assert [e.detail for e in w.client.events() if e.kind == "degraded"] == ["primary_failed", "primary_failed"]

    state: dict[str, bool] = {}
    down = by_model({"gpt-4o": DOWN})

    async def wrapped(w: World) -> None:
        w.extra = state  # body sets "down"; the rule reads it
        await body(w)

    run(wrapped, laddered(), rule=lambda r: down(r) if state.get("down") else None)


def test_with_every_model_down_the_static_answer_costs_nothing() -> None:
    async def body(w: World) -> None:
        answer = await w.client.chat(ask("gpt-4o"))
        assert (answer.source, answer.text, answer.cost_usd) == ("static", "busy", Decimal(0))
        outcome = w.client.outcomes()[0]
        assert (outcome.ok, outcome.source, outcome.degradation_step, outcome.cost_usd) == (
            True,
            "static",
            "static",
            "0",
        )

    run(body, laddered(static_answer="busy"), rule=lambda r: DOWN)


def test_without_a_static_step_the_request_ends_in_an_error_recorded_as_such() -> None:
    async def body(w: World) -> None:
        with pytest.raises(HarnessError):
            await w.client.chat(ask("gpt-4o"))
        outcome = w.client.outcomes()[0]
        assert (outcome.ok, outcome.degradation_step) == (False, "error")

    run(body, laddered(steps=("cache", "cheaper")), rule=lambda r: DOWN)


def test_a_nearly_spent_budget_keeps_requests_off_the_primary() -> None:
    async def body(w: World) -> None:
        first = await w.client.chat(ask("gpt-4o", "one"))  # spends past 80 % of the tiny budget
        second = await w.client.chat(ask("gpt-4o", "two"))
        assert first.model == "gpt-4o"
        assert second.source == "static"  # ≥ 95 %: not even the cheaper model
        assert [r.model for r in w.records] == ["gpt-4o"]  # nothing more was sent
        assert w.client.outcomes()[1].degradation_step == "static"

    cfg = replace(laddered(), degradation=replace(LADDER, budget_usd=Decimal("0.00001")))
    run(body, cfg)


def test_the_budget_share_counts_against_the_global_hard_budget_by_default() -> None:
    cfg = replace(config("gpt-4o", "gpt-4o-mini"), budgets=(BudgetRule(period="total", hard_usd=Decimal("2")),))
    assert replace(cfg, degradation=LADDER).ladder_budget() == Decimal("2")


def test_an_open_breaker_with_no_step_left_says_degraded_without_asking() -> None:
    async def body(w: World) -> None:
        for text in ("a", "b"):  # each fails (no cached answer); the second opens the breaker
            with pytest.raises(HarnessError):
                await w.client.chat(ask("gpt-4o", text))
        with pytest.raises(Degraded, match="breaker_open"):
            await w.client.chat(ask("gpt-4o", "c"))
        assert len(w.records) == 2  # the open breaker was not asked
        assert [o.degradation_step for o in w.client.outcomes()] == ["error"] * 3

    breaker = BreakerConfig(consecutive_failures=2, failure_rate=None, open_backoff=fixed(60))
    run(body, replace(laddered(steps=("cache",)), breaker=breaker), rule=lambda r: DOWN)


def test_an_open_primary_breaker_with_a_fallback_that_answers_does_not_degrade() -> None:
    """The breaker rule looks at the primary's whole chain: while a fallback's breaker admits calls the
    request stays on the normal path (the fallback answers it); once every breaker of the chain refuses,
    the request goes down the ladder without asking any of them."""

    async def body(w: World) -> None:
        for text in ("a", "b"):  # gpt-4o fails both (its breaker opens); the fallback answers
            answer = await w.client.chat(ask("gpt-4o", text))
            assert answer.model == "claude-haiku-4-5"
        answer = await w.client.chat(ask("gpt-4o", "c"))  # gpt-4o refuses at once; the fallback answers
        assert answer.model == "claude-haiku-4-5"
        assert [o.degradation_step for o in w.client.outcomes()] == ["primary"] * 3
        assert not [e for e in w.client.events() if e.kind == "degraded"]
        w.extra["down"] = True  # now the fallback fails too: two failures open its breaker
        for text in ("d", "e"):
            assert (await w.client.chat(ask("gpt-4o", text))).source == "static"
        sent = len(w.records)
        assert (await w.client.chat(ask("gpt-4o", "f"))).source == "static"
        assert len(w.records) == sent  # every breaker of the chain refused: nothing was asked
        details = [e.detail for e in w.client.events() if e.kind == "degraded"]
        assert details == ["primary_failed", "primary_failed", "breaker_open"]

    state: dict[str, bool] = {}

    def rule(request: Any) -> Any:
        down = {"gpt-4o": DOWN, **({"claude-haiku-4-5": DOWN} if state.get("down") else {})}
        return by_model(down)(request)

    async def wrapped(w: World) -> None:
        w.extra = state
        await body(w)

    breaker = BreakerConfig(consecutive_failures=2, failure_rate=None, open_backoff=fixed(60))
    cfg = config("gpt-4o", "claude-haiku-4-5", retry=RetryConfig(max_attempts=1), breaker=breaker)
    cfg = replace(cfg, fallbacks={"gpt-4o": ("claude-haiku-4-5",)}, degradation=DegradationConfig(steps=("static",)))
    run(wrapped, cfg, rule=rule)


def test_a_streamed_request_gets_the_static_answer_as_one_delta() -> None:
    async def body(w: World) -> None:
        async with w.client.stream(ask("gpt-4o")) as stream:
            items = [item async for item in stream]
        assert [i.text for i in items if not i.final] == ["busy"]
        final = items[-1].response
        assert final is not None
        assert (final.source, final.cost_usd) == ("static", Decimal(0))
        assert w.client.outcomes()[0].degradation_step == "static"

    run(body, laddered(static_answer="busy"), rule=lambda r: DOWN)


def test_a_quota_nearly_used_up_keeps_requests_off_the_primary() -> None:
    class AddLimits:
        """OpenAI rate-limit headers on gpt-4o's answers: 2 requests of 100 left, for 30 s."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        async def send(self, request: Any) -> Any:
            response = await self.inner.send(request)
            if b'"gpt-4o"' in request.body:
                response.headers = {
                    **response.headers,
                    "x-ratelimit-limit-requests": "100",
                    "x-ratelimit-remaining-requests": "2",
                    "x-ratelimit-reset-requests": "30s",
                }
            return response

        async def aclose(self) -> None:
            await self.inner.aclose()

    async def body(w: World) -> None:
        first = await w.client.chat(ask("gpt-4o", "one"))
        second = await w.client.chat(ask("gpt-4o", "two"))
        assert (first.model, second.model) == ("gpt-4o", "gpt-4o-mini")
        assert [o.degradation_step for o in w.client.outcomes()] == ["primary", "cheaper"]
        assert [e.detail for e in w.client.events() if e.kind == "degraded"] == ["quota"]

    run(body, laddered(quota_below=0.05), wrap=AddLimits)


# -- the primary's deadline ---------------------------------------------------------------------
SLOW = {"x-fake-fault": "ttft_s=9"}


def test_a_primary_that_misses_the_deadline_is_given_up_for_the_cheaper_model() -> None:
    async def body(w: World) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        answer = await w.client.chat(ask("gpt-4o"))
        assert (answer.model, answer.source) == ("gpt-4o-mini", "provider")
        assert loop.time() - t0 < 9  # the 9 s primary was not waited for
        outcome = w.client.outcomes()[0]
        assert outcome.degradation_step == "cheaper"
        assert outcome.attempts[0].error == "Cancelled"  # the primary's attempt, hung up
        assert [e.detail for e in w.client.events() if e.kind == "degraded"] == ["primary_slow"]

    run(body, laddered(primary_deadline_s=2.0), rule=by_model({"gpt-4o": SLOW}))


def test_a_primary_within_the_deadline_is_not_touched() -> None:
    async def body(w: World) -> None:
        answer = await w.client.chat(ask("gpt-4o"))
        assert answer.model == "gpt-4o"
        assert w.client.outcomes()[0].degradation_step == "primary"

    run(body, laddered(primary_deadline_s=2.0))


def test_a_stream_that_began_within_the_deadline_stays_with_the_primary() -> None:
    async def body(w: World) -> None:
        async with w.client.stream(ask("gpt-4o")) as stream:
            items = [item async for item in stream]
        final = items[-1].response
        assert final is not None
        assert final.model == "gpt-4o"
        assert w.client.outcomes()[0].degradation_step == "primary"

    # the first text comes at once, then a pause (shorter than the stall deadline) ends it after the deadline
    paused = {"x-fake-fault": "stall_after=2; stall_s=0.8"}
    run(body, laddered(primary_deadline_s=0.5), rule=by_model({"gpt-4o": paused}))


def test_without_a_rule_the_ladder_is_refused_and_the_deadline_is_a_rule() -> None:
    quiet: dict[str, Any] = {"steps": ("static",), "on_breaker_open": False, "on_failure": False}
    with pytest.raises(ConfigError, match="primary_deadline_s"):
        DegradationConfig(**quiet)
    assert DegradationConfig(**quiet, primary_deadline_s=3).primary_deadline_s == 3
    with pytest.raises(ConfigError, match=r"client\.degradation\.primary_deadline_s"):
        DegradationConfig(steps=("static",), primary_deadline_s=0)
    assert trigger(LADDER, Signals(primary_slow=True)) is None  # no deadline declared
    assert trigger(replace(LADDER, primary_deadline_s=5), Signals(primary_slow=True)) == "primary_slow"
