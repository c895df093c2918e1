"""Provider-side quotas: the sliding-window log, and each provider's answers and headers."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from fake_provider.config import ProviderConfig
from fake_provider.core import Exchange, ProviderCore, ProviderRequest
from fake_provider.plan import Delivery
from fake_provider.quotas import Limits, QuotaConfig, SlidingWindow
from harness.clock import ManualClock
from harness.errors import Overloaded, QuotaExhausted, RateLimited
from harness.tokenizer import count_messages
from harness.wire import anthropic, gemini, openai, openai_limits
from harness.wire.formats import parse_rfc3339

WALL = 1_795_000_000.0
PROMPT = count_messages([("user", "Hello")])  # 9


def test_an_entry_counts_until_exactly_one_window_later() -> None:
    window = SlidingWindow(10, 60.0)
    window.admit(0.0, 6)
    window.admit(30.0, 4)
    window.expire(59.999)
    assert (window.used, window.remaining, window.fits(1)) == (10, 0, False)
    assert window.wait(59.999, 1) == pytest.approx(0.001)  # the first entry frees 6 at t = 60
    assert window.wait(59.999, 7) == pytest.approx(30.001)  # 7 needs both gone
    assert window.wait(59.999, 11) is None  # never: over the limit
    window.expire(60.0)
    assert (window.used, len(window)) == (4, 1)
    assert window.reset_after(60.0) == 30.0
    assert window.entries() == [(30.0, 4)]


def test_corrections_lower_a_live_entry_and_ignore_an_expired_one() -> None:
    window = SlidingWindow(100, 10.0)
    first = window.admit(0.0, 40)
    second = window.admit(5.0, 40)
    window.correct(second, 10)
    assert window.used == 50
    window.correct(second, 30)  # corrections only lower
    assert window.used == 50
    window.expire(12.0)
    window.correct(first, 0)  # gone already
    assert window.used == 10


def test_the_log_compacts_and_keeps_entry_numbers_valid() -> None:
    window = SlidingWindow(10**9, 1.0)
    numbers = [window.admit(i * 0.001, 1) for i in range(10_000)]
    window.expire(9.0)  # everything but the last second (entries from 8.0 on)
    assert len(window) == 1_999
    assert window.used == 1_999
    window.correct(numbers[-1], 0)
    window.correct(numbers[100], 0)  # compacted away: ignored
    assert window.used == 1_998


def make_core(quotas: QuotaConfig, **options: Any) -> ProviderCore:
    return ProviderCore(ProviderConfig(quotas=quotas, **options), clock=ManualClock(0.0), wall_clock=lambda: WALL)


def chat(core: ProviderCore, max_tokens: int | None = 10, key: str = "sk-a", model: str = "gpt-4o-mini") -> Exchange:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "Hello"}]}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    return core.handle(
        ProviderRequest("POST", openai.CHAT_PATH, "", {"authorization": f"Bearer {key}"}, json.dumps(body).encode())
    )


def messages(core: ProviderCore, max_tokens: int = 10) -> Exchange:
    body = {"model": "claude-haiku-4-5", "max_tokens": max_tokens, "messages": [{"role": "user", "content": "Hello"}]}
    return core.handle(
        ProviderRequest("POST", anthropic.MESSAGES_PATH, "", {"x-api-key": "ak"}, json.dumps(body).encode())
    )


def generate(core: ProviderCore, max_tokens: int = 10) -> Exchange:
    body = {"contents": [{"parts": [{"text": "Hello"}]}], "generationConfig": {"maxOutputTokens": max_tokens}}
    path = "/v1beta/models/gemini-2.5-flash:generateContent"
    return core.handle(ProviderRequest("POST", path, "", {"x-goog-api-key": "gk"}, json.dumps(body).encode()))


def done(exchange: Exchange, tokens: int | None = None) -> None:
    plan = exchange.plan
    sent = plan.body_tokens if tokens is None else tokens
    exchange.settle(Delivery(status=plan.status, ttfb_s=0.0, duration_s=0.01, tokens_sent=sent))


def headers(exchange: Exchange) -> dict[str, str]:
    return {k.lower(): v for k, v in exchange.plan.headers}


def test_openai_counts_prompt_plus_max_tokens_and_says_so_in_its_headers() -> None:
    core = make_core(QuotaConfig(Limits(rpm=3, tpm=100)))
    first = chat(core, max_tokens=40)
    limits = openai_limits.parse_rate_limits(headers(first))
    assert (limits.requests_limit, limits.requests_remaining) == (3, 2)
    assert (limits.tokens_limit, limits.tokens_remaining) == (100, 100 - PROMPT - 40)
    assert limits.tokens_reset_s == 60.0
    done(first)
    core.clock.advance(10)  # type: ignore[attr-defined]
    second = chat(core, max_tokens=40)
    assert openai_limits.parse_rate_limits(headers(second)).tokens_remaining == 100 - 2 * (PROMPT + 40)
    done(second)
    core.clock.advance(5)  # type: ignore[attr-defined]
    refused = chat(core, max_tokens=40)
    assert refused.plan.status == 429
    error = openai.error_from_response(429, headers(refused), refused.plan.body)
    assert isinstance(error, RateLimited)
    assert error.retry_after_s == 45.0  # the first request's tokens leave the window at t = 60
    body = json.loads(refused.plan.body)["error"]
    assert (body["type"], body["code"]) == ("tokens", "rate_limit_exceeded")
    assert f"Limit 100, Used {2 * (PROMPT + 40)}, Requested {PROMPT + 40}" in body["message"]
    assert headers(refused)["retry-after"] == "45"
    done(refused)
    record = core.log.record(3)
    assert (record.status, record.fault, record.retry_after_s, record.error_type) == (
        429,
        "quota:tpm",
        45.0,
        "rate_limit_exceeded",
    )


def test_without_max_tokens_a_request_counts_the_answer_it_gets() -> None:
    core = make_core(QuotaConfig(Limits(tpm=10_000)))
    ex = chat(core, max_tokens=None)
    answer = json.loads(ex.plan.body)["usage"]["completion_tokens"]
    assert openai_limits.parse_rate_limits(headers(ex)).tokens_remaining == 10_000 - PROMPT - answer


def test_a_request_larger_than_the_limit_is_refused_without_a_hint() -> None:
    core = make_core(QuotaConfig(Limits(tpm=50)))
    ex = chat(core, max_tokens=100)
    assert ex.plan.status == 429
    assert "retry-after" not in headers(ex)
    assert "Request too large" in json.loads(ex.plan.body)["error"]["message"]
    assert openai.error_from_response(429, headers(ex), ex.plan.body).retry_after_s is None


def test_anthropic_limits_input_and_output_separately_and_corrects_the_output() -> None:
    core = make_core(QuotaConfig(models=(("claude-haiku-4-5", Limits(rpm=50, itpm=1000, otpm=30)),)))
    first = messages(core, max_tokens=20)
    limits = anthropic.parse_rate_limits(headers(first), WALL)
    assert (limits.input_tokens_limit, limits.input_tokens_remaining) == (1000, 1000 - PROMPT)
    assert (limits.output_tokens_limit, limits.output_tokens_remaining) == (30, 10)
    assert (limits.tokens_limit, limits.tokens_remaining) == (30, 10)  # the tightest token limit
    assert parse_rfc3339(headers(first)["anthropic-ratelimit-output-tokens-reset"]) == WALL + 60
    assert messages(core, max_tokens=20).plan.status == 429  # 20 more output tokens do not fit yet
    done(first, tokens=5)  # the answer used 5 of its 20: the other 15 come back
    second = messages(core, max_tokens=20)
    assert second.plan.status == 200
    assert anthropic.parse_rate_limits(headers(second), WALL).output_tokens_remaining == 5
    refused = messages(core, max_tokens=20)
    error = anthropic.error_from_response(429, headers(refused), refused.plan.body)
    assert isinstance(error, RateLimited)
    assert error.retry_after_s == 60.0
    assert "30 output tokens per minute" in error.message
    assert json.loads(refused.plan.body)["error"]["type"] == "rate_limit_error"


def test_gemini_sends_no_headers_but_retry_info() -> None:
    core = make_core(QuotaConfig(Limits(rpm=1)))
    assert not [k for k in headers(generate(core)) if "ratelimit" in k]
    core.clock.advance(0.5)  # type: ignore[attr-defined]
    refused = generate(core)
    error = gemini.error_from_response(429, headers(refused), refused.plan.body)
    assert isinstance(error, RateLimited)
    assert error.retry_after_s == 59.5
    details = json.loads(refused.plan.body)["error"]["details"]
    assert details[0]["violations"][0]["quotaId"] == "GenerateRequestsPerMinutePerProjectPerModel"


def test_limits_are_per_key_and_model() -> None:
    core = make_core(QuotaConfig(Limits(rpm=1)))
    assert chat(core, key="sk-a").plan.status == 200
    assert chat(core, key="sk-a").plan.status == 429
    assert chat(core, key="sk-b").plan.status == 200
    assert chat(core, key="sk-a", model="gpt-4o").plan.status == 200


@pytest.mark.parametrize(
    ("send", "status", "error"),
    [(chat, 429, RateLimited), (messages, 529, Overloaded), (generate, 503, Overloaded)],
)
def test_too_many_in_flight(send: Any, status: int, error: type) -> None:
    core = make_core(QuotaConfig(max_in_flight=2))
    first, second = send(core), send(core)
    third = send(core)
    assert third.plan.status == status
    provider = third.context.provider
    parse = {"openai": openai, "anthropic": anthropic, "gemini": gemini}[provider].error_from_response
    assert isinstance(parse(status, headers(third), third.plan.body), error)
    done(third)
    assert third.record is not None
    assert third.record.fault == "quota:in_flight"
    done(first)
    assert send(core).plan.status == 200  # one left
    done(second)


@pytest.mark.parametrize(
    ("send", "status", "error"),
    [(chat, 429, QuotaExhausted), (messages, 400, QuotaExhausted), (generate, 429, RateLimited)],
)
def test_a_spend_cap_answers_out_of_credit(send: Any, status: int, error: type) -> None:
    core = make_core(QuotaConfig(spend_cap_usd=Decimal("0.00001")))
    spent = Decimal(0)
    while True:
        ex = send(core)
        if ex.plan.status != 200:
            break
        done(ex)
        spent = core.ledger.total.cost_usd
    assert spent >= Decimal("0.00001")  # refused only once the billed spend reached the cap
    assert ex.plan.status == status
    provider = ex.context.provider
    parse = {"openai": openai, "anthropic": anthropic, "gemini": gemini}[provider].error_from_response
    assert isinstance(parse(status, headers(ex), ex.plan.body), error)
    done(ex)
    assert ex.record is not None
    assert ex.record.fault == "quota:spend"


def test_reset_forgets_the_quota_state() -> None:
    core = make_core(QuotaConfig(Limits(rpm=1), max_in_flight=1))
    first = chat(core)
    assert chat(core).plan.status == 429
    core.reset()
    assert chat(core).plan.status == 200
    done(first)  # settling a request of the previous run releases nothing of this one
    assert core.quotas is not None
    assert core.quotas.in_flight == {next(iter(core.quotas.in_flight)): 1}


def test_no_quotas_the_tiers_headers_unless_turned_off() -> None:
    core = make_core(QuotaConfig())
    assert core.quotas is None
    limits = openai_limits.parse_rate_limits(headers(chat(core)), WALL)
    assert (limits.requests_limit, limits.requests_remaining) == (10_000, 9_999)  # OpenAI usage tier 5
    quiet = make_core(QuotaConfig(), rate_limit_headers=False)
    assert not [k for k in headers(chat(quiet)) if "ratelimit" in k]


def test_idle_key_model_pairs_are_dropped_when_keys_flood_in(monkeypatch: pytest.MonkeyPatch) -> None:
    from fake_provider import quotas

    monkeypatch.setattr(quotas, "_MAX_SCOPES", 3)
    book = quotas.QuotaBook(QuotaConfig(Limits(rpm=5)))
    for i in range(3):
        book.admit(float(i), f"key:{i}", "m", 1, 1)
    book.admit(100.0, "key:new", "m", 1, 1)  # the first three are idle by now: dropped
    assert set(book.scopes) == {("key:new", "m")}
    book.admit(101.0, "key:a", "m", 1, 1)
    book.admit(102.0, "key:b", "m", 1, 1)
    book.admit(103.0, "key:c", "m", 1, 1)  # nothing idle: nothing dropped, the state is kept
    assert len(book.scopes) == 4
