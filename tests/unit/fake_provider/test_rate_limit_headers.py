"""Every answer carries its provider's rate-limit headers, and every 429 says the limits are used up.

Sources of a 429: the test headers (``x-fake-status``, ``x-fake-fault``), the fault schedule, and the
quotas (rpm, tpm, in flight, spend cap). Whatever the source: OpenAI's ``x-ratelimit-*`` family with
remaining 0 and resets at the retry hint, an integer ``retry-after`` ≥ 1 with ``retry-after-ms`` for a
fraction; Anthropic's four ``anthropic-ratelimit-*`` families in RFC 3339 and a ``retry-after``; Gemini's
``RetryInfo`` in the body. Values are checked in the formats each provider documents.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest

from fake_provider import ProviderConfig, ProviderCore
from fake_provider.exchange import Exchange, ProviderRequest
from fake_provider.plan import Delivery
from fake_provider.quotas import Limits, QuotaConfig
from fake_provider.schedule import FaultSchedule
from harness.clock import ManualClock
from harness.wire import anthropic, gemini
from harness.wire.formats import parse_go_duration, parse_rfc3339

WALL = 1_800_000_000.0
OPENAI_FAMILY = [f"x-ratelimit-{p}-{k}" for k in ("requests", "tokens") for p in ("limit", "remaining", "reset")]
ANTHROPIC_FAMILY = [
    f"anthropic-ratelimit-{k}-{p}"
    for k in ("requests", "tokens", "input-tokens", "output-tokens")
    for p in ("limit", "remaining", "reset")
]
CHAT = ("/v1/chat/completions", {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]})
RESPONSES = ("/v1/responses", {"model": "gpt-4o-mini", "input": "Hi"})
MESSAGES = (
    "/v1/messages",
    {"model": "claude-haiku-4-5", "max_tokens": 20, "messages": [{"role": "user", "content": "Hi"}]},
)
GENERATE = ("/v1beta/models/gemini-2.5-flash:generateContent", {"contents": [{"parts": [{"text": "Hi"}]}]})
KEYS = {
    "openai": {"authorization": "Bearer sk-a"},
    "anthropic": {"x-api-key": "sk-a"},
    "gemini": {"x-goog-api-key": "g"},
}


def core(**options: Any) -> ProviderCore:
    options.setdefault("allow_fault_headers", True)
    return ProviderCore(ProviderConfig(**options), clock=ManualClock(5.0), wall_clock=lambda: WALL)


def ask(c: ProviderCore, route: tuple[str, dict[str, Any]], provider: str, **headers: str) -> Exchange:
    path, body = route
    merged = {**KEYS[provider], **{k.replace("_", "-"): v for k, v in headers.items()}}
    ex = c.handle(ProviderRequest("POST", path, "", merged, json.dumps(body).encode()))
    ex.finish(Delivery(ex.plan.status, tokens_sent=ex.plan.body_tokens))
    return ex


def check_openai(ex: Exchange, exhausted: bool) -> dict[str, str]:
    headers = dict(ex.plan.headers)
    assert [h for h in OPENAI_FAMILY if h not in headers] == [], ex.plan.status
    for kind in ("requests", "tokens"):
        limit, remaining = int(headers[f"x-ratelimit-limit-{kind}"]), int(headers[f"x-ratelimit-remaining-{kind}"])
        reset = parse_go_duration(headers[f"x-ratelimit-reset-{kind}"])
        assert reset is not None
        assert 0 < reset <= 60
        assert 0 <= remaining <= limit
        if exhausted:
            assert remaining == 0
    assert re.fullmatch(r"\d+", headers["openai-processing-ms"])
    if "retry-after" in headers:
        assert re.fullmatch(r"[1-9]\d*", headers["retry-after"]), headers["retry-after"]  # integer seconds ≥ 1
    if exhausted and "retry-after-ms" in headers:
        hint = int(headers["retry-after-ms"]) / 1000
        assert int(headers["retry-after"]) == max(1, -(-int(headers["retry-after-ms"]) // 1000))
        reset = parse_go_duration(headers["x-ratelimit-reset-requests"])
        assert reset is not None
        assert reset >= hint - 0.001  # whole again no earlier than the hint (a quota's window: maybe later)
        if ex.context.fault is not None and not ex.context.fault.name.startswith("quota:"):
            assert reset == pytest.approx(hint)
    return headers


def check_anthropic(ex: Exchange, exhausted: bool) -> dict[str, str]:
    headers = dict(ex.plan.headers)
    assert [h for h in ANTHROPIC_FAMILY if h not in headers] == [], ex.plan.status
    for kind in ("requests", "tokens", "input-tokens", "output-tokens"):
        remaining = int(headers[f"anthropic-ratelimit-{kind}-remaining"])
        assert 0 <= remaining <= int(headers[f"anthropic-ratelimit-{kind}-limit"])
        when = parse_rfc3339(headers[f"anthropic-ratelimit-{kind}-reset"])
        assert headers[f"anthropic-ratelimit-{kind}-reset"].endswith("Z")
        assert when is not None
        assert WALL < when <= WALL + 61
        if exhausted:
            assert remaining == 0
            assert when >= WALL + int(headers["retry-after"])  # no earlier than the hint (whole seconds)
    if exhausted:
        assert re.fullmatch(r"[1-9]\d*", headers["retry-after"])
    return headers


def test_every_answer_carries_the_family_success_errors_and_listings() -> None:
    c = core()
    check_openai(ask(c, CHAT, "openai"), False)
    check_openai(ask(c, RESPONSES, "openai"), False)
    check_openai(ask(c, ("/v1/chat/completions", {"model": "gpt-4o-mini", "messages": []}), "openai"), False)  # 400
    check_openai(ask(c, ("/v1/chat/completions", {**CHAT[1], "model": "gpt-9"}), "openai"), False)  # 404
    check_openai(ask(c, CHAT, "openai", x_fake_status="500"), False)
    check_openai(ask(c, CHAT, "openai", x_fake_fault="stream_cut_after=2"), False)
    check_anthropic(ask(c, MESSAGES, "anthropic"), False)
    check_anthropic(ask(c, ("/v1/messages", {**MESSAGES[1], "max_tokens": "x"}), "anthropic"), False)
    check_anthropic(ask(c, MESSAGES, "anthropic", x_fake_status="529"), False)
    counted = ask(
        c, ("/v1/messages/count_tokens", {k: v for k, v in MESSAGES[1].items() if k != "max_tokens"}), "anthropic"
    )
    check_anthropic(counted, False)
    listing = c.handle(ProviderRequest("GET", "/v1/models", "", {"x-api-key": "k", "anthropic-version": "2023-06-01"}))
    check_anthropic(listing, False)
    assert not [k for k, _ in ask(c, GENERATE, "gemini").plan.headers if "ratelimit" in k]  # Gemini sends none


def test_remaining_counts_what_was_admitted_per_key_and_model() -> None:
    c = core()
    first = check_openai(ask(c, CHAT, "openai"), False)
    second = check_openai(ask(c, CHAT, "openai"), False)
    assert int(first["x-ratelimit-remaining-requests"]) - int(second["x-ratelimit-remaining-requests"]) == 1
    used = int(first["x-ratelimit-remaining-tokens"]) - int(second["x-ratelimit-remaining-tokens"])
    record = c.log.since(0)[-1]
    assert used == record.prompt_tokens + record.output_tokens  # no max_tokens: the answer it got
    other = check_openai(ask(c, CHAT, "openai", authorization="Bearer sk-b"), False)
    assert other["x-ratelimit-remaining-requests"] == "9999"  # another key has its own
    a = check_anthropic(ask(c, MESSAGES, "anthropic"), False)
    assert int(a["anthropic-ratelimit-output-tokens-remaining"]) == 400_000 - 20  # max_tokens counted


HEADER_SOURCES = [
    {"x_fake_status": "429"},
    {"x_fake_status": "429; retry_after=2.5"},
    {"x_fake_status": "429; retry_after_ms=300"},
    {"x_fake_fault": "status=429; retry_after=2"},
    {"x_fake_status": "429; code=insufficient_quota"},
]


@pytest.mark.parametrize("headers", HEADER_SOURCES)
def test_429s_from_the_test_headers(headers: dict[str, str]) -> None:
    c = core()
    for route, provider in ((CHAT, "openai"), (RESPONSES, "openai"), (MESSAGES, "anthropic"), (GENERATE, "gemini")):
        ex = ask(c, route, provider, **headers)
        assert ex.plan.status == 429
        assert_exhausted(ex, provider)


@pytest.mark.parametrize("hint", [None, 2, 0.25])
def test_429s_from_the_schedule(hint: float | None) -> None:
    spec: dict[str, Any] = {"kind": "http", "always": True, "status": 429}
    if hint is not None:
        spec["retry_after_s"] = hint
    c = core(faults=FaultSchedule.parse([spec]))
    for route, provider in ((CHAT, "openai"), (RESPONSES, "openai"), (MESSAGES, "anthropic"), (GENERATE, "gemini")):
        assert_exhausted(ask(c, route, provider), provider)


@pytest.mark.parametrize(
    "quotas",
    [
        QuotaConfig(Limits(rpm=1)),
        QuotaConfig(Limits(tpm=40)),
        QuotaConfig(Limits(rpm=100, itpm=12, otpm=100)),
        QuotaConfig(spend_cap_usd=Decimal("0.0000001")),
    ],
    ids=["rpm", "tpm", "itpm", "spend"],
)
def test_429s_from_the_quotas(quotas: QuotaConfig) -> None:
    c = core(quotas=quotas)
    for route, provider in ((CHAT, "openai"), (RESPONSES, "openai"), (MESSAGES, "anthropic"), (GENERATE, "gemini")):
        answers = [ask(c, route, provider) for _ in range(3)]
        refused = [ex for ex in answers if ex.plan.status == 429]
        if provider == "anthropic" and quotas.spend_cap_usd is not None:
            assert answers[-1].plan.status == 400  # out of credit is Anthropic's 400, not a 429
            continue
        assert refused, [ex.plan.status for ex in answers]
        for ex in refused:
            assert_exhausted(ex, provider)
        for ex in answers:
            if ex.plan.status == 200 and provider != "gemini":
                (check_openai if provider == "openai" else check_anthropic)(ex, False)


@pytest.mark.parametrize(("route", "provider"), [(CHAT, "openai"), (RESPONSES, "openai")])
def test_in_flight_429s(route: tuple[str, dict[str, Any]], provider: str) -> None:
    """OpenAI's answer to one request too many at once (Anthropic answers 529, Gemini 503: docs/faults.md)."""
    c = core(quotas=QuotaConfig(max_in_flight=1))
    path, body = route
    held = c.handle(ProviderRequest("POST", path, "", KEYS[provider], json.dumps(body).encode()))  # not finished
    refused = ask(c, route, provider)
    assert refused.plan.status == 429
    assert_exhausted(refused, provider)
    held.finish(Delivery(200))


def assert_exhausted(ex: Exchange, provider: str) -> None:
    if provider == "openai":
        headers = check_openai(ex, True)
        hint = ex.context.retry_after_s
        if hint is not None:
            assert headers["retry-after-ms"] == str(round(hint * 1000))
            assert int(headers["retry-after"]) >= 1
    elif provider == "anthropic":
        check_anthropic(ex, True)
        assert ex.context.retry_after_s is not None
    else:
        details = json.loads(ex.plan.body)["error"]["details"]
        info = [d for d in details if d["@type"].endswith("google.rpc.RetryInfo")]
        assert len(info) == 1
        assert re.fullmatch(r"\d+(\.\d{3})?s", info[0]["retryDelay"])
        assert gemini.parse_error(429, {}, ex.plan.body).retry_after_s == ex.context.retry_after_s
    assert ex.record is not None
    assert ex.record.status == 429


def test_the_reference_client_reads_the_families() -> None:
    c = core()
    a = dict(ask(c, MESSAGES, "anthropic").plan.headers)
    limits = anthropic.parse_rate_limits(a, WALL)
    assert (limits.requests_limit, limits.input_tokens_limit, limits.output_tokens_limit) == (4000, 2_000_000, 400_000)
    assert limits.output_tokens_remaining == 400_000 - 20
    assert limits.requests_reset_s is not None
    assert 0 < limits.requests_reset_s <= 60


@pytest.mark.parametrize("route", [CHAT, RESPONSES])
def test_insufficient_quota_answers_with_the_quota_message(route: tuple[str, dict[str, Any]]) -> None:
    """OpenAI's out-of-credit 429 is its own message and type, not the rate limit's (what clients tell apart)."""
    c = core()
    error = json.loads(ask(c, route, "openai", x_fake_status="429; code=insufficient_quota").plan.body)["error"]
    assert error["message"].startswith("You exceeded your current quota, please check your plan and billing details.")
    assert (error["type"], error["code"]) == ("insufficient_quota", "insufficient_quota")
    plain = json.loads(ask(c, route, "openai", x_fake_status="429").plan.body)["error"]
    assert plain["code"] == "rate_limit_exceeded"
    assert "quota" not in plain["message"]
