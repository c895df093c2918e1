"""Key rings (rotation, cooldowns, scrubbing), redacted headers, and the provider adapters."""

from __future__ import annotations

import json

import pytest

from harness.client import ADAPTERS, ApiKey, KeyRing, KeyRotation, ModelSpec, RedactedHeaders, key_label
from harness.client.adapters import limit_observation, neutral_finish
from harness.client.types import ChatRequest, Message
from harness.clock import ManualClock
from harness.errors import ConfigError, ContextLengthExceeded, Overloaded, PrefillRejected, RateLimited
from harness.wire import anthropic, gemini, openai, openai_requests
from harness.wire.neutral import RateLimits


def ring(*secrets: str, clock: ManualClock | None = None, **rotation: float) -> KeyRing:
    return KeyRing([ApiKey.of(s) for s in secrets], clock=clock or ManualClock(), rotation=KeyRotation(**rotation))


def test_a_failed_key_rests_and_the_ring_moves_on() -> None:
    clock = ManualClock()
    keys = ring("k1", "k2", "k3", clock=clock, quota_cooldown_s=10)
    first = keys.current
    assert first.secret == "k1"
    assert keys.fail(first, "quota") == keys.keys[1]
    assert keys.current.secret == "k2"
    assert keys.rotations == 1
    assert keys.fail(keys.keys[1], "auth") == keys.keys[2]  # auth failures rest for the whole run
    assert keys.fail(keys.keys[2], "quota") is None  # nothing usable now
    assert not keys.usable()
    clock.advance(10)
    assert keys.usable()  # the quota rests are over; the auth one is not
    assert keys.fail(keys.keys[2], "quota") == keys.keys[0]


def test_a_stale_failure_does_not_move_the_ring_twice() -> None:
    keys = ring("k1", "k2")
    used = keys.current
    assert keys.fail(used, "auth") == keys.keys[1]
    assert keys.fail(used, "auth") == keys.keys[1]  # another request reports the same key: still k2
    assert keys.rotations == 1
    assert keys.fail(ApiKey.of("not-ours"), "auth") is None


def test_keys_come_from_literals_and_the_environment_once_each() -> None:
    specs = [
        ModelSpec("gpt-4o", "openai", api_keys=("sk-lit",), api_key_env=("A", "B")),
        ModelSpec("gpt-4o-mini", "openai", api_key_env=("B",)),
    ]
    keys = KeyRing.from_specs(specs, clock=ManualClock(), env={"A": "sk-a", "B": "sk-b"})
    assert [k.secret for k in keys.keys] == ["sk-lit", "sk-a", "sk-b"]
    default = KeyRing.from_specs([ModelSpec("gpt-4o", "openai")], clock=ManualClock(), env={"OPENAI_API_KEY": "x"})
    assert default.current.secret == "x"
    with pytest.raises(ConfigError, match="environment variable GEMINI_API_KEY is not set"):
        KeyRing.from_specs([ModelSpec("gemini-2.5-flash", "gemini")], clock=ManualClock(), env={})


def test_secrets_never_print() -> None:
    keys = ring("sk-very-secret-1", "sk-very-secret-2")
    assert "sk-very" not in repr(keys)
    assert "sk-very" not in str(keys.current)
    assert repr(keys.current) == f"ApiKey({key_label('sk-very-secret-1')})"
    text = keys.scrub("Incorrect API key provided: sk-very-secret-2 (and sk-very-secret-1)")
    assert "sk-very" not in text
    assert key_label("sk-very-secret-2") in text
    headers = RedactedHeaders({"authorization": "Bearer sk-very-secret-1", "x-api-key": "sk-very-secret-2", "a": "b"})
    assert "sk-very" not in repr(headers)
    assert "sk-very" not in str(headers)
    assert "'a': 'b'" in repr(headers)
    assert headers["authorization"] == "Bearer sk-very-secret-1"  # still a plain dict to the transport


def test_an_empty_ring_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no API key"):
        KeyRing([], clock=ManualClock(), name="openai")


REQUEST = ChatRequest("m", (Message("system", "be brief"), Message("user", "hi")), max_tokens=5, temperature=0.0)


@pytest.mark.parametrize(
    ("provider", "model", "plain", "stream"),
    [
        ("openai", "gpt-4o", "http://h:1/v1/chat/completions", "http://h:1/v1/chat/completions"),
        ("anthropic", "claude-haiku-4-5", "http://h:1/v1/messages", "http://h:1/v1/messages"),
        (
            "gemini",
            "gemini-2.5-flash",
            "http://h:1/v1beta/models/gemini-2.5-flash:generateContent",
            "http://h:1/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        ),
    ],
)
def test_adapters_build_the_providers_own_requests(provider: str, model: str, plain: str, stream: str) -> None:
    spec = ModelSpec(model, provider, base_url="http://h:1/")
    adapter = ADAPTERS[provider]
    assert (adapter.url(spec, False), adapter.url(spec, True)) == (plain, stream)
    body = adapter.body(spec, REQUEST.messages, REQUEST, True)
    # the provider side of the same wire module reads it back: one home for the format
    if provider == "openai":
        call = openai_requests.parse_chat(json.loads(body))
        assert call.include_usage
        assert call.stream
        assert call.model == model
    elif provider == "anthropic":
        call = anthropic.parse_messages(json.loads(body))
        assert call.stream
        assert call.messages[0] == ("system", "be brief")
    else:
        call = gemini.parse_generate(json.loads(body), model, True)
        assert call.messages[0] == ("system", "be brief")
    assert call.max_tokens == 5
    assert call.temperature == 0.0
    assert adapter.auth("sk-x") != {}


def test_anthropic_always_gets_a_max_tokens() -> None:
    spec = ModelSpec("claude-haiku-4-5", "anthropic", default_max_tokens=77)
    no_max = ChatRequest("claude-haiku-4-5", (Message("user", "hi"),))
    call = anthropic.parse_messages(json.loads(ADAPTERS["anthropic"].body(spec, no_max.messages, no_max, False)))
    assert call.max_tokens == 77


def test_errors_map_into_the_tree() -> None:
    oa, an, ge = ADAPTERS["openai"], ADAPTERS["anthropic"], ADAPTERS["gemini"]
    body = openai.error_body("too long", "invalid_request_error", "messages", "context_length_exceeded")
    assert isinstance(oa.error(400, {"x-request-id": "r1"}, body, 0.0, "gpt-4o"), ContextLengthExceeded)
    err = oa.error(
        429, {"retry-after-ms": "250"}, openai.error_body("slow", "requests", None, "rate_limit_exceeded"), 0, "m"
    )
    assert isinstance(err, RateLimited)
    assert err.retry_after_s == 0.25
    assert err.model == "m"
    assert isinstance(
        an.error(400, {}, anthropic.error_body("invalid_request_error", anthropic.PREFILL_MESSAGE), 0, "m"),
        PrefillRejected,
    )
    assert isinstance(an.error(529, {}, anthropic.error_body("overloaded_error", "Overloaded"), 0, "m"), Overloaded)
    hinted = ge.error(
        429, {}, gemini.error_body(429, "quota", "RESOURCE_EXHAUSTED", gemini.retry_details(47.0)), 0, "m"
    )
    assert isinstance(hinted, RateLimited)
    assert hinted.retry_after_s == 47.0


def test_finish_reasons_are_neutral() -> None:
    assert neutral_finish(ADAPTERS["openai"], "content_filter") == "content_filter"
    assert neutral_finish(ADAPTERS["anthropic"], "end_turn") == "stop"
    assert neutral_finish(ADAPTERS["anthropic"], "refusal") == "content_filter"
    assert neutral_finish(ADAPTERS["gemini"], "MAX_TOKENS") == "length"
    assert neutral_finish(ADAPTERS["gemini"], "SAFETY") == "content_filter"
    assert neutral_finish(ADAPTERS["openai"], "something_new") == "something_new"
    assert neutral_finish(ADAPTERS["openai"], None) is None


def test_rate_limit_headers_become_limiter_observations() -> None:
    oa = ADAPTERS["openai"]
    assert oa.rate_limits({"content-type": "application/json"}, 0.0) is None  # the cheap common case
    limits = oa.rate_limits(
        {
            "x-ratelimit-limit-requests": "500",
            "x-ratelimit-remaining-requests": "499",
            "x-ratelimit-reset-requests": "120ms",
            "x-ratelimit-limit-tokens": "30000",
        },
        0.0,
    )
    assert limits is not None
    assert limit_observation(limits) == {
        "limit_requests": 500.0,
        "remaining_requests": 499.0,
        "reset_requests_s": 0.12,
        "limit_tokens": 30000.0,
    }
    anth = ADAPTERS["anthropic"].rate_limits({"anthropic-ratelimit-input-tokens-limit": "20000"}, 0.0)
    assert anth is not None
    assert limit_observation(anth) == {"limit_input_tokens": 20000.0}
    assert ADAPTERS["gemini"].rate_limits({"retry-after": "3"}, 0.0) is None
    assert limit_observation(RateLimits()) == {}
