"""Conduct: the reference client against the fake provider, one fault per test (the list in docs/metrics.md).

Each test body runs twice: over real sockets (the fake provider on 127.0.0.1:0, the aiohttp
transport, real time, deadlines of a few hundred ms) and over the in-memory transport in virtual
time (milliseconds). Every case checks the verdicts: the right number of attempts, no hang past the
deadline, no truncated answer reported as a success, the right model answering, and the client's
cost equal to the provider's ledger.

Faults come from the fake provider's own test headers (``x-fake-status``, ``x-fake-fault``: the same
fault step as its seeded schedule) injected into chosen attempts. One case the provider cannot be
asked for — a stream that ends cleanly without its finish chunk, usage and end marker — is made by
rewriting the response body on the client side.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from fake_provider import ProviderConfig, ProviderCore
from fake_provider.testing import running
from harness import vtime
from harness.client import (
    AiohttpTransport,
    BreakerConfig,
    ClientConfig,
    ResilientClient,
    RetryConfig,
    Timeouts,
    equal_jitter,
    fixed,
)
from harness.client.testing import HeaderRule, InjectHeaders, RewriteBody, attempt_of, by_attempt, by_model, model_of
from harness.client.transport import Transport
from harness.client.types import ChatRequest, ChatResponse, Message
from harness.clock import loop_clock
from harness.errors import (
    ContentFiltered,
    DeadlineExceeded,
    FirstTokenTimeout,
    Overloaded,
    RateLimited,
)
from harness.judge.metrics import retry_after_violations
from harness.records import OutcomeRecord
from harness.runner.memory_transport import MemoryTransport
from harness.tokenizer import count_tokens
from tests.unit.client.test_client_support import KEY, World, ask, provider, spec

_T = TypeVar("_T")

TIMEOUTS = Timeouts(connect_s=1, first_token_s=0.25, stall_s=0.25, attempt_s=0.5, total_s=4)
RETRY = RetryConfig(max_attempts=3, backoff=equal_jitter(0.05, 0.2))
KINDS = ["memory", "socket"]
MODELS = ["gpt-4o-mini", "claude-haiku-4-5", "gemini-2.5-flash"]


def client_config(*models: Any, **kw: Any) -> ClientConfig:
    kw.setdefault("timeouts", TIMEOUTS)
    kw.setdefault("retry", RETRY)
    kw.setdefault("breaker", BreakerConfig(consecutive_failures=50, failure_rate=None))
    specs = tuple(m if not isinstance(m, str) else spec(m) for m in models) or (spec("gpt-4o-mini"),)
    return ClientConfig(models=specs, **kw)


def conduct(
    kind: str,
    body: Callable[[World], Awaitable[_T]],
    config: ClientConfig,
    *,
    rule: HeaderRule | None = None,
    rewrite: tuple[Callable[[int, bytes], bytes], Callable[[Any], bool]] | None = None,
    provider_config: ProviderConfig | None = None,
) -> _T:
    """Run ``body`` over real sockets ("socket") or in memory under virtual time ("memory")."""
    pc = provider_config or provider()

    def wrap(transport: Transport) -> Transport:
        if rule is not None:
            transport = InjectHeaders(transport, rule)
        if rewrite is not None:
            transport = RewriteBody(transport, *rewrite)
        return transport

    if kind == "memory":

        async def in_memory() -> _T:
            core = ProviderCore(pc, clock=loop_clock())
            async with ResilientClient(config, transport=wrap(MemoryTransport(core))) as client:
                return await body(World(core, client, client.transport))

        return vtime.run(in_memory())

    async def over_sockets() -> _T:
        async with running(pc) as server:
            cfg = config.with_base_url(server.url, override=True)
            async with ResilientClient(cfg, transport=wrap(AiohttpTransport(connect_timeout_s=1))) as client:
                return await body(World(server.core, client, client.transport))

    return asyncio.run(over_sockets())


async def verdict(
    w: World,
    *,
    attempts: int,
    model: str | None,
    response: ChatResponse | None = None,
    deadline_s: float | None = TIMEOUTS.total_s,
) -> OutcomeRecord:
    """The checks every conduct case shares; returns the (one) outcome."""
    (outcome,) = w.client.outcomes()
    records = await w.settled(attempts)
    assert len(records) == attempts, [(r.attempt, r.status, r.fault, r.finish) for r in records]
    assert len(outcome.attempts) == attempts
    assert sorted(r.attempt for r in records) == list(range(attempts))
    assert {r.logical_id for r in records} == {outcome.id}
    if deadline_s is not None and isinstance(asyncio.get_running_loop(), vtime.VirtualTimeLoop):
        assert outcome.latency_s <= deadline_s + 1e-6  # no hang past the deadline (exact in virtual time)
    assert outcome.model == model
    if response is not None:
        # no truncated success: the answer is the whole of what the provider generated for that attempt
        answered = [r for r in records if r.status == 200 and r.finish not in ("cut", "client_gone", "error")]
        assert answered, "a success needs a complete attempt on the provider's side"
        assert response.usage.output_tokens == answered[-1].output_tokens
        assert count_tokens(response.text) == response.usage.output_tokens
        assert response.finish_reason in ("stop", "length")
        assert response.model == answered[-1].model == model
        assert response.cost_usd == Decimal(answered[-1].cost_usd)
    w.assert_costs_agree()
    return outcome


# ------------------------------------------------------------------------------------------ 429, 5xx


@pytest.mark.parametrize("kind", KINDS)
def test_429_with_retry_after_waits_the_hint(kind: str) -> None:
    async def body(w: World) -> None:
        response = await w.client.chat(ask())
        await verdict(w, attempts=2, model="gpt-4o-mini", response=response)
        assert retry_after_violations([w.records]) == 0
        assert w.records[0].retry_after_s == 0.3

    conduct(kind, body, client_config(), rule=by_attempt({0: {"x-fake-status": "429; retry_after_ms=300"}}))


@pytest.mark.parametrize("kind", KINDS)
def test_429_without_hint_persistent_backs_off_and_gives_up(kind: str) -> None:
    async def body(w: World) -> None:
        with pytest.raises(RateLimited):
            await w.client.chat(ask())
        outcome = await verdict(w, attempts=3, model=None)
        waits = [a.wait_s for a in outcome.attempts[:-1]]
        assert all(w_ is not None and w_ >= 0.025 for w_ in waits)  # equal jitter: never hammering
        records = w.records
        gaps = [b.t - a.t for a, b in itertools.pairwise(records)]
        assert all(g >= 0.025 for g in gaps)

    conduct(kind, body, client_config(), rule=lambda r: {"x-fake-status": "429"})


@pytest.mark.parametrize("kind", KINDS)
def test_500_once_then_healthy(kind: str) -> None:
    async def body(w: World) -> None:
        response = await w.client.chat(ask())
        await verdict(w, attempts=2, model="gpt-4o-mini", response=response)

    conduct(kind, body, client_config(), rule=by_attempt({0: {"x-fake-status": "500"}}))


@pytest.mark.parametrize("kind", KINDS)
def test_503_persistent_ends_with_the_error_after_the_attempt_limit(kind: str) -> None:
    async def body(w: World) -> None:
        with pytest.raises(Overloaded):
            await w.client.chat(ask("claude-haiku-4-5"))
        await verdict(w, attempts=3, model=None)

    conduct(kind, body, client_config("claude-haiku-4-5"), rule=lambda r: {"x-fake-status": "529"})


# ------------------------------------------------------------------------------------------ transport


@pytest.mark.parametrize("kind", KINDS)
def test_reset_before_headers_is_retried(kind: str) -> None:
    async def body(w: World) -> None:
        response = await w.client.chat(ask())
        outcome = await verdict(w, attempts=2, model="gpt-4o-mini", response=response)
        assert outcome.attempts[0].error == "ConnectionReset"
        assert w.records[0].status == 0

    conduct(kind, body, client_config(), rule=by_attempt({0: {"x-fake-fault": "reset"}}))


@pytest.mark.parametrize("kind", KINDS)
def test_silence_hits_the_attempt_deadline_then_retries(kind: str) -> None:
    async def body(w: World) -> None:
        response = await w.client.chat(ask())
        outcome = await verdict(w, attempts=2, model="gpt-4o-mini", response=response)
        first = outcome.attempts[0]
        assert first.error == "DeadlineExceeded"
        assert first.t_end - first.t_start < 0.6  # gave up at its deadline, before the silence ended
        assert w.records[0].status == 0

    conduct(kind, body, client_config(), rule=by_attempt({0: {"x-fake-fault": "silence_s=0.6"}}))


@pytest.mark.parametrize("kind", KINDS)
def test_total_deadline_bounds_a_provider_that_never_answers(kind: str) -> None:
    cfg = client_config(timeouts=Timeouts(connect_s=1, first_token_s=None, stall_s=None, attempt_s=None, total_s=0.3))

    async def body(w: World) -> None:
        with pytest.raises(DeadlineExceeded) as caught:
            await w.client.chat(ask())
        assert caught.value.code == "total"
        await verdict(w, attempts=1, model=None, deadline_s=0.3)

    conduct(kind, body, cfg, rule=lambda r: {"x-fake-fault": "silence_s=0.6"})


# ------------------------------------------------------------------------------------------ streams


@pytest.mark.parametrize("kind", KINDS)
def test_slow_first_token_times_out_then_retries(kind: str) -> None:
    async def body(w: World) -> None:
        response = await w.client.chat(ask(stream=True))
        outcome = await verdict(w, attempts=2, model="gpt-4o-mini", response=response)
        assert outcome.attempts[0].error == FirstTokenTimeout.__name__
        assert outcome.ttft_s is not None

    conduct(kind, body, client_config(), rule=by_attempt({0: {"x-fake-fault": "ttft_s=0.6"}}))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("model", ["gpt-4o-mini", "claude-haiku-4-5", "gemini-2.5-flash"])
def test_a_stream_cut_midway_is_never_a_success_and_its_bill_is_booked(kind: str, model: str) -> None:
    async def body(w: World) -> None:
        response = await w.client.chat(ask(model, stream=True))
        outcome = await verdict(w, attempts=2, model=model, response=response)
        assert outcome.attempts[0].error == "ConnectionReset"
        cut = w.records[0]
        assert (cut.finish, cut.output_tokens) == ("cut", 3)
        assert Decimal(cut.cost_usd) > 0  # billed for what was sent …
        assert Decimal(outcome.cost_usd) == response.cost_usd + Decimal(cut.cost_usd)  # … and booked by the client

    conduct(kind, body, client_config(model), rule=by_attempt({0: {"x-fake-fault": "stream_cut_after=3"}}))


@pytest.mark.parametrize("kind", KINDS)
def test_a_model_that_always_stalls_is_left_for_the_fallback(kind: str) -> None:
    cfg = client_config("slow", "gpt-4o-mini", fallbacks={"slow": ("gpt-4o-mini",)}, retry=RetryConfig(max_attempts=1))

    async def body(w: World) -> None:
        response = await w.client.chat(ask("slow", stream=True, max_tokens=3))
        outcome = await verdict(w, attempts=2, model="gpt-4o-mini", response=response)
        stalled = outcome.attempts[0]
        assert stalled.error == "StreamStalled"
        assert stalled.t_end - stalled.t_start < 1.0  # the provider's next chunk was 1 s away
        assert w.records[0].finish == "client_gone"

    conduct(kind, body, cfg)


def events_rewriter(change: Callable[[int, bytes], bytes | None]) -> Callable[[int, bytes], bytes]:
    """A body rewrite applied per SSE event, whatever chunks the transport delivers them in.

    ``change(n, event)`` gets the n-th complete event (from 0) and returns its replacement (None: drop it).
    """
    state = {"buffer": b"", "n": 0}

    def rewrite(index: int, data: bytes) -> bytes:
        events = (state["buffer"] + data).split(b"\n\n")  # type: ignore[operator]
        state["buffer"] = events.pop()
        out = []
        for event in events:
            replaced = change(state["n"], event + b"\n\n")  # type: ignore[arg-type]
            state["n"] += 1  # type: ignore[operator]
            if replaced is not None:
                out.append(replaced)
        return b"".join(out)

    return rewrite


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("model", MODELS)
def test_a_stream_that_stalls_midway_gives_up_at_the_stall_deadline(kind: str, model: str) -> None:
    async def body(w: World) -> None:
        response = await w.client.chat(ask(model, stream=True))
        outcome = await verdict(w, attempts=2, model=model, response=response)
        stalled = outcome.attempts[0]
        assert stalled.error == "StreamStalled"
        assert stalled.t_end - stalled.t_start < 0.5  # the provider's next chunk was 0.5 s away
        assert (w.records[0].finish, w.records[0].output_tokens) == ("client_gone", 3)

    conduct(kind, body, client_config(model), rule=by_attempt({0: {"x-fake-fault": "stall_after=3; stall_s=0.5"}}))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("model", MODELS)
def test_a_malformed_chunk_is_a_typed_error_then_retried(kind: str, model: str) -> None:
    async def body(w: World) -> None:
        response = await w.client.chat(ask(model, stream=True))
        (outcome,) = w.client.outcomes()
        records = await w.settled(2)
        assert [a.error for a in outcome.attempts] == ["StreamBroken", None]
        assert response.usage.output_tokens == records[1].output_tokens
        assert count_tokens(response.text) == response.usage.output_tokens
        # the provider bills the broken stream for what it sent; the client can only book what it could
        # read (three good chunks): never more than the provider's bill, and the answer exactly
        assert Decimal(outcome.cost_usd) < sum(Decimal(r.cost_usd) for r in records)
        assert response.cost_usd == Decimal(records[1].cost_usd)

    conduct(kind, body, client_config(model), rule=by_attempt({0: {"x-fake-fault": "malformed_at=4"}}))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("model", MODELS)
def test_a_stream_without_its_end_marker_but_with_finish_and_usage_is_complete(kind: str, model: str) -> None:
    async def body(w: World) -> None:
        response = await w.client.chat(ask(model, stream=True))
        await verdict(w, attempts=1, model=model, response=response)

    conduct(kind, body, client_config(model), rule=lambda r: {"x-fake-fault": "no_done"})


@pytest.mark.parametrize("kind", KINDS)
def test_a_stream_that_ends_cleanly_without_its_tail_is_broken(kind: str) -> None:
    def drop_tail(n: int, event: bytes) -> bytes | None:
        tail = b'"finish_reason":"length"' in event or b'"choices":[]' in event or b"[DONE]" in event
        return None if tail else event

    async def body(w: World) -> None:
        response = await w.client.chat(ask(stream=True))
        outcome = await verdict(w, attempts=2, model="gpt-4o-mini", response=None)
        assert outcome.attempts[0].error == "StreamBroken"
        assert response.usage.output_tokens == w.records[1].output_tokens

    conduct(kind, body, client_config(), rewrite=(events_rewriter(drop_tail), lambda r: attempt_of(r) == 0))


# ------------------------------------------------------------------------------------------ bad requests


@pytest.mark.parametrize("kind", KINDS)
def test_context_too_long_moves_to_a_larger_context_model(kind: str) -> None:
    cfg = client_config("tiny", "gpt-4o-mini", fallbacks={"tiny": ("gpt-4o-mini",)})

    async def body(w: World) -> None:
        response = await w.client.chat(ask("tiny", " ".join(["word"] * 60)))
        outcome = await verdict(w, attempts=2, model="gpt-4o-mini", response=response)
        assert [a.error for a in outcome.attempts] == ["ContextLengthExceeded", None]

    conduct(kind, body, cfg)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("model", MODELS)
def test_content_filter_is_neither_retried_nor_failed_over(kind: str, model: str) -> None:
    other = "gpt-4o" if model != "gpt-4o" else "gpt-4o-mini"
    cfg = client_config(model, other, fallbacks={model: (other,)})

    async def body(w: World) -> None:
        with pytest.raises(ContentFiltered):
            await w.client.chat(ask(model))
        await verdict(w, attempts=1, model=None)
        assert w.records[0].model == model

    conduct(kind, body, cfg, rule=lambda r: {"x-fake-fault": "content_filter"})


@pytest.mark.parametrize("kind", KINDS)
def test_a_fallback_that_rejects_a_prefill_is_passed_over(kind: str) -> None:
    cfg = client_config(
        "gpt-4o-mini", "claude-no-prefill", "claude-haiku-4-5",
        fallbacks={"gpt-4o-mini": ("claude-no-prefill", "claude-haiku-4-5")}, retry=RetryConfig(max_attempts=1),
    )  # fmt: skip
    request = ChatRequest("gpt-4o-mini", (Message("user", "Answer yes or no."), Message("assistant", "Yes")), 4)

    async def body(w: World) -> None:
        response = await w.client.chat(request)
        outcome = await verdict(w, attempts=3, model="claude-haiku-4-5", response=response)
        assert [a.error for a in outcome.attempts] == ["ServerError", "PrefillRejected", None]

    conduct(kind, body, cfg, rule=by_model({"gpt-4o-mini": {"x-fake-status": "500"}}))


# ------------------------------------------------------------------------------------------ fail-over


@pytest.mark.parametrize("kind", KINDS)
def test_fail_over_accounting_belongs_to_the_model_that_answered(kind: str) -> None:
    cfg = client_config("gpt-4o-mini", "gemini-2.5-flash", fallbacks={"gpt-4o-mini": ("gemini-2.5-flash",)})

    async def body(w: World) -> None:
        response = await w.client.chat(ask(stream=True))
        outcome = await verdict(w, attempts=4, model="gemini-2.5-flash", response=response)
        failed = [r for r in w.records if r.model == "gpt-4o-mini"]
        assert [r.cost_usd for r in failed] == ["0"] * 3  # failed attempts are not billed as completions
        assert (response.provider, outcome.provider) == ("gemini", "gemini")
        assert response.usage.input_tokens == w.records[-1].prompt_tokens
        assert response.total_cost_usd == response.cost_usd == Decimal(outcome.cost_usd)

    conduct(kind, body, cfg, rule=by_model({"gpt-4o-mini": {"x-fake-status": "503"}}))


@pytest.mark.parametrize("kind", KINDS)
def test_a_flapping_primary_opens_the_breaker_serves_from_fallback_then_closes(kind: str) -> None:
    cfg = client_config(
        "gpt-4o-mini", "claude-haiku-4-5", fallbacks={"gpt-4o-mini": ("claude-haiku-4-5",)},
        retry=RetryConfig(max_attempts=1),
        breaker=BreakerConfig(consecutive_failures=2, failure_rate=None, open_backoff=fixed(0.3), half_open_probes=1),
    )  # fmt: skip
    outage = {"end": 0.0}

    def rule(request: Any) -> dict[str, str] | None:
        down = asyncio.get_running_loop().time() < outage["end"] and model_of(request) == "gpt-4o-mini"
        return {"x-fake-status": "503"} if down else None

    async def body(w: World) -> None:
        loop = asyncio.get_running_loop()
        outage["end"] = loop.time() + 0.5
        answered_by = []
        for i in range(16):
            response = await w.client.chat(ask(text=f"q{i}"))
            answered_by.append(response.model)
            await asyncio.sleep(0.1)
        await w.settled(len(w.records))
        breaker = [e.detail for e in w.client.events() if e.kind == "breaker"]
        assert breaker[:3] == ["closed→open", "open→half_open", "half_open→closed"] or breaker[:5] == [
            "closed→open", "open→half_open", "half_open→open", "open→half_open", "half_open→closed",
        ]  # fmt: skip
        assert answered_by[0] == "claude-haiku-4-5"
        assert answered_by[-1] == "gpt-4o-mini"  # recovered and closed
        primary_during_open = [r for r in w.records if r.model == "gpt-4o-mini" and r.status == 503]
        assert len(primary_during_open) <= 4  # two trips the breaker, then only probes: no hammering
        assert all(o.ok for o in w.client.outcomes())
        w.assert_costs_agree()

    conduct(kind, body, cfg, rule=rule)


@pytest.mark.parametrize("kind", KINDS)
def test_keys_rotate_over_sockets_too(kind: str) -> None:
    cfg = client_config(spec("gpt-4o-mini", api_keys=("sk-wrong", KEY)))

    async def body(w: World) -> None:
        response = await w.client.chat(ask())
        await verdict(w, attempts=2, model="gpt-4o-mini", response=response)
        assert [e.kind for e in w.client.events()] == ["key_rotated"]

    conduct(kind, body, cfg, provider_config=provider(allowed_keys=frozenset({KEY})))
