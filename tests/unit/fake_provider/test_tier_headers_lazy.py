"""The tier's rate-limit headers are built only when an answer shows them, and the answers are the same.

Two shortcuts of the provider core (``fake_provider/core.py``): the key's *untouched* tier (what an answer
given before the request is counted reports: an unknown model, an invalid body, a listing) is built by
the answer that needs it instead of on every arrival; and the tier's headers of a counted request are
not built at all when the quota step's headers, which win the merge, name every one of them. Here a core
without either shortcut (the tier built on arrival and at counting, then merged, as before) answers the
same mixed requests, for quota configurations of every kind: every plan must be byte-identical.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fake_provider import ProviderConfig, ProviderCore
from fake_provider.context import CallContext
from fake_provider.exchange import ProviderRequest
from fake_provider.plan import Delivery, Plan
from fake_provider.quotas import Limits, QuotaConfig
from fake_provider.schedule import FaultSchedule
from harness.clock import ManualClock
from harness.pricing import ModelPrice


class _EagerCore(ProviderCore):
    """The core without the shortcuts: the untouched tier built on arrival, the counted tier always built."""

    def _quotas_name_tier(self, provider: str, model: str) -> bool:
        return False

    def _model_route(self, request: ProviderRequest, ctx: CallContext, query: dict[str, Any]) -> Plan:
        self._untouched_tier(ctx)
        return super()._model_route(request, ctx, query)

    def _decide_call(self, request: ProviderRequest, ctx: CallContext, body: object, query: dict[str, Any]) -> Plan:
        self._untouched_tier(ctx)
        return super()._decide_call(request, ctx, body, query)


_CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi there, how are you?"}]}
_MESSAGES = {"model": "claude-haiku-4-5", "max_tokens": 20, "messages": [{"role": "user", "content": "Hi"}]}
_GENERATE = {"contents": [{"parts": [{"text": "Hi"}]}]}
_OPENAI = {"authorization": "Bearer sk-a"}
_ANTHROPIC = {"x-api-key": "sk-a", "anthropic-version": "2023-06-01"}
_GEMINI = {"x-goog-api-key": "g"}
#: (method, path, headers, body): answered, refused and invalid requests of the three providers
_REQUESTS: list[tuple[str, str, dict[str, str], bytes]] = [
    ("POST", "/v1/chat/completions", _OPENAI, json.dumps(_CHAT).encode()),
    ("POST", "/v1/chat/completions", _OPENAI, json.dumps({**_CHAT, "max_tokens": 50}).encode()),
    ("POST", "/v1/chat/completions", {"authorization": "Bearer sk-b"}, json.dumps(_CHAT).encode()),
    ("POST", "/v1/chat/completions", _OPENAI, json.dumps({**_CHAT, "model": "gpt-9"}).encode()),
    ("POST", "/v1/chat/completions", _OPENAI, json.dumps({**_CHAT, "max_tokens": "x"}).encode()),
    ("POST", "/v1/chat/completions", _OPENAI, b"{not json"),
    ("POST", "/v1/chat/completions", {**_OPENAI, "x-fake-status": "429"}, json.dumps(_CHAT).encode()),
    ("POST", "/v1/chat/completions", {**_OPENAI, "x-fake-status": "500"}, json.dumps(_CHAT).encode()),
    ("POST", "/v1/chat/completions", {**_OPENAI, "x-fake-fault": "content_filter"}, json.dumps(_CHAT).encode()),
    ("POST", "/v1/chat/completions", _OPENAI, json.dumps({**_CHAT, "max_tokens": 10**7}).encode()),
    ("POST", "/v1/responses", _OPENAI, json.dumps({"model": "gpt-4o-mini", "input": "Hi"}).encode()),
    ("POST", "/v1/embeddings", _OPENAI, json.dumps({"model": "text-embedding-3-small", "input": "a b"}).encode()),
    ("GET", "/v1/models", _OPENAI, b""),
    ("GET", "/v1/models/gpt-4o-mini", _OPENAI, b""),
    ("GET", "/v1/models/nope", _OPENAI, b""),
    ("POST", "/v1/nowhere", _OPENAI, b"{}"),
    ("POST", "/v1/messages", _ANTHROPIC, json.dumps(_MESSAGES).encode()),
    ("POST", "/v1/messages", _ANTHROPIC, json.dumps({**_MESSAGES, "model": "claude-9"}).encode()),
    ("POST", "/v1/messages", {**_ANTHROPIC, "x-fake-status": "429"}, json.dumps(_MESSAGES).encode()),
    ("POST", "/v1/messages/count_tokens", _ANTHROPIC, json.dumps({**_MESSAGES, "max_tokens": None}).encode()),
    ("GET", "/v1/models", _ANTHROPIC, b""),
    ("POST", "/v1beta/models/gemini-2.5-flash:generateContent", _GEMINI, json.dumps(_GENERATE).encode()),
    ("POST", "/v1beta/models/gemini-2.5-flash:countTokens", _GEMINI, json.dumps(_GENERATE).encode()),
    ("POST", "/v1beta/models/gemini-9:generateContent", _GEMINI, json.dumps(_GENERATE).encode()),
]
_QUOTAS: list[QuotaConfig | None] = [
    None,
    QuotaConfig(Limits(rpm=5, tpm=400)),
    QuotaConfig(Limits(rpm=3)),
    QuotaConfig(Limits(tpm=300)),
    QuotaConfig(Limits(itpm=200, otpm=100)),
    QuotaConfig(Limits(rpm=4, itpm=200, otpm=100)),
    QuotaConfig(Limits(rpm=4, tpm=500, itpm=200, otpm=100)),
    QuotaConfig(Limits(rpm=5, tpm=400), max_in_flight=2),
    QuotaConfig(Limits(rpm=5, tpm=400), spend_cap_usd=Decimal("0.00001")),
    QuotaConfig(models=(("gpt-4o-mini", Limits(rpm=2, tpm=300)),)),
    QuotaConfig(Limits(rpm=5, tpm=400), window_s=2.0),
]


def _cores(quotas: QuotaConfig | None, tiers: bool) -> tuple[ProviderCore, ProviderCore, ManualClock]:
    clock = ManualClock(5.0)
    config = ProviderConfig(
        quotas=quotas,
        rate_limit_headers=tiers,
        allow_fault_headers=True,
        faults=FaultSchedule.parse([{"kind": "brownout", "always": True, "p": 0.2, "status": 429}]),
    )

    def wall() -> float:
        return 1_800_000_000.0 + clock()

    return ProviderCore(config, clock=clock, wall_clock=wall), _EagerCore(config, clock=clock, wall_clock=wall), clock


@pytest.mark.parametrize("tiers", [True, False])
@pytest.mark.parametrize("quotas", _QUOTAS, ids=repr)
@settings(max_examples=12, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(0, len(_REQUESTS) - 1), st.floats(0, 40), st.booleans()), min_size=1, max_size=40
    ),
)
def test_answers_equal_those_of_the_eager_core(
    quotas: QuotaConfig | None, tiers: bool, steps: list[tuple[int, float, bool]]
) -> None:
    fast, eager, clock = _cores(quotas, tiers)
    pending = []  # exchanges settled a step later: requests in flight count against max_in_flight
    for index, advance, settle_now in steps:
        clock.advance(advance)
        method, path, headers, body = _REQUESTS[index]
        a, b = (core.handle(ProviderRequest(method, path, "", dict(headers), body)) for core in (fast, eager))
        assert (a.plan.status, a.plan.headers, a.plan.body) == (b.plan.status, b.plan.headers, b.plan.body), path
        pending.append((a, b))
        if settle_now:
            for x, y in pending:
                for ex in (x, y):
                    ex.settle(Delivery(ex.plan.status, tokens_sent=ex.plan.body_tokens))
            pending.clear()
    assert fast.log.jsonl() == eager.log.jsonl()


def test_the_quotas_name_the_tier_only_when_their_headers_cover_it() -> None:
    def named(quotas: QuotaConfig | None, provider: str, model: str) -> bool:
        return ProviderCore(ProviderConfig(quotas=quotas), clock=ManualClock())._quotas_name_tier(provider, model)

    assert named(QuotaConfig(Limits(rpm=5, tpm=400)), "openai", "gpt-4o-mini")
    assert named(QuotaConfig(Limits(rpm=5, itpm=400)), "openai", "gpt-4o-mini")  # OpenAI's one token family
    assert not named(QuotaConfig(Limits(rpm=5)), "openai", "gpt-4o-mini")  # the tier's tokens family shows
    assert not named(QuotaConfig(Limits(tpm=5)), "openai", "gpt-4o-mini")
    assert not named(None, "openai", "gpt-4o-mini")
    assert not named(QuotaConfig(Limits(rpm=5, tpm=400), max_in_flight=3), "openai", "gpt-4o-mini")
    assert not named(QuotaConfig(Limits(rpm=5, tpm=400), spend_cap_usd=Decimal(1)), "openai", "gpt-4o-mini")
    assert named(QuotaConfig(Limits(rpm=5, itpm=10, otpm=10)), "anthropic", "claude-haiku-4-5")
    assert not named(QuotaConfig(Limits(rpm=5, tpm=10)), "anthropic", "claude-haiku-4-5")  # input/output show
    assert named(QuotaConfig(Limits(rpm=5)), "gemini", "gemini-2.5-flash")  # Gemini's tier has no headers
    per_model = QuotaConfig(models=(("gpt-4o", Limits(rpm=2, tpm=3)),))
    assert named(per_model, "openai", "gpt-4o")
    assert not named(per_model, "openai", "gpt-4o-mini")  # no limits of its own: the tier's headers show


def test_a_refused_request_before_its_tier_gets_the_untouched_tier() -> None:
    fast, eager, _ = _cores(QuotaConfig(Limits(rpm=5, tpm=400)), True)
    for method, path, headers, body in _REQUESTS[3:6]:  # unknown model, invalid field, invalid JSON
        a, b = (core.handle(ProviderRequest(method, path, "", dict(headers), body)) for core in (fast, eager))
        assert a.plan.headers == b.plan.headers
        assert dict(a.plan.headers)["x-ratelimit-remaining-requests"] == "10000"  # the tier, untouched
        assert not a.context.untouched_tier


def test_models_and_calls_keep_their_config() -> None:
    # the shortcut is remembered per (provider, model): an adopted model name gets its own answer
    config = ProviderConfig(
        quotas=QuotaConfig(models=(("gpt-4o", Limits(rpm=2, tpm=3)),)),
        unknown_model_price=ModelPrice.per_million("1", "2"),
    )
    c = ProviderCore(config, clock=ManualClock())
    body = json.dumps({**_CHAT, "model": "my-own-model"}).encode()
    ex = c.handle(ProviderRequest("POST", "/v1/chat/completions", "", dict(_OPENAI), body))
    assert ex.plan.status == 200
    assert dict(ex.plan.headers)["x-ratelimit-limit-requests"] == "10000"  # the tier: no quota of its own


def test_refusals_before_admission_keep_the_counted_tier() -> None:
    # in flight and spend cap refuse before the quota's headers exist: the answer shows the tier's
    for quotas in (_QUOTAS[7], _QUOTAS[8]):
        fast, eager, clock = _cores(quotas, True)
        for _ in range(4):  # none settled: the third is over max_in_flight; the spend cap after a bill
            clock.advance(0.5)
            method, path, headers, body = _REQUESTS[1]
            a, b = (core.handle(ProviderRequest(method, path, "", dict(headers), body)) for core in (fast, eager))
            assert (a.plan.status, a.plan.headers) == (b.plan.status, b.plan.headers)
            if quotas.spend_cap_usd is not None:
                for ex in (a, b):
                    ex.settle(Delivery(ex.plan.status, tokens_sent=ex.plan.body_tokens))
        assert a.plan.status != 200
