"""Every fault kind through the provider core: the plan it decides, in each provider's shape, and its log line."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from fake_provider.config import ModelConfig, ProviderConfig
from fake_provider.core import Exchange, ProviderCore, ProviderRequest
from fake_provider.plan import Delivery, StreamEnd, TransportFault
from fake_provider.schedule import FaultSchedule
from harness.clock import ManualClock
from harness.distributions import Distribution
from harness.errors import ContentFiltered, ContextLengthExceeded, Overloaded, RateLimited
from harness.pricing import ModelPrice
from harness.wire import anthropic, gemini, openai, openai_client
from harness.wire.formats import parse_http_date, parse_retry_after
from harness.wire.neutral import StreamEvent

WALL = 1_795_000_000.0
HEADERS = {"authorization": "Bearer sk-test", "x-api-key": "ak-test", "x-goog-api-key": "g-test"}
BODIES: dict[str, tuple[str, dict[str, Any]]] = {
    "openai": (
        openai.CHAT_PATH,
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 6},
    ),
    "anthropic": (
        anthropic.MESSAGES_PATH,
        {"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 6},
    ),
    "gemini": (
        "/v1beta/models/gemini-2.5-flash:generateContent",
        {"contents": [{"parts": [{"text": "Hello"}]}], "generationConfig": {"maxOutputTokens": 6}},
    ),
}
PROVIDERS = list(BODIES)
ERRORS: dict[str, Callable[..., Any]] = {
    "openai": openai.error_from_response,
    "anthropic": anthropic.error_from_response,
    "gemini": gemini.error_from_response,
}
READERS: dict[str, Callable[[], Any]] = {
    "openai": openai_client.ChatStreamReader,
    "anthropic": anthropic.MessageStreamReader,
    "gemini": gemini.GenerateStreamReader,
}


def make_core(faults: list[dict[str, Any]], **options: Any) -> ProviderCore:
    config = ProviderConfig(faults=FaultSchedule.parse(faults), **options)
    return ProviderCore(config, clock=ManualClock(0.0), wall_clock=lambda: WALL)


def send(core: ProviderCore, provider: str, stream: bool = False, headers: dict[str, str] | None = None) -> Exchange:
    path, body = BODIES[provider]
    query = ""
    if stream and provider == "gemini":
        path, query = path.replace(":generateContent", ":streamGenerateContent"), "alt=sse"
    elif stream:
        body = {**body, "stream": True}
    data = json.dumps(body).encode()
    return core.handle(ProviderRequest("POST", path, query, {**HEADERS, **(headers or {})}, data))


def deliver(exchange: Exchange) -> Any:
    plan = exchange.plan
    tokens = plan.body_tokens if plan.chunks is None else sum(c.tokens for c in plan.chunks)
    return exchange.finish(Delivery(status=plan.status, ttfb_s=0.0, duration_s=0.01, tokens_sent=tokens))


def events(provider: str, exchange: Exchange) -> list[StreamEvent]:
    reader = READERS[provider]()
    out: list[StreamEvent] = []
    for chunk in exchange.plan.chunks or ():
        out += reader.feed(chunk.data)
    return out + reader.finish()


def text_chunks(exchange: Exchange) -> list[int]:
    """Indices of the chunks that carry output tokens."""
    return [i for i, c in enumerate(exchange.plan.chunks or ()) if c.tokens]


# ------------------------------------------------------------------------------------------- HTTP failures
@pytest.mark.parametrize(("provider", "status"), [("openai", 503), ("anthropic", 529), ("gemini", 503)])
def test_an_outage_answers_each_providers_overloaded_error(provider: str, status: int) -> None:
    core = make_core([{"kind": "outage", "always": True}])
    ex = send(core, provider)
    assert ex.plan.status == status
    assert isinstance(ERRORS[provider](status, dict(ex.plan.headers), ex.plan.body), Overloaded)
    record = deliver(ex)
    assert (record.fault, record.status, record.cost_usd) == ("outage#0", status, "0")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_scheduled_429_carries_the_hint_and_the_providers_rate_limit_headers(provider: str) -> None:
    core = make_core([{"kind": "http", "always": True, "status": 429, "retry_after_s": 2, "retry_format": "both"}])
    ex = send(core, provider)
    headers = {k.lower(): v for k, v in ex.plan.headers}
    error = ERRORS[provider](429, headers, ex.plan.body)
    assert isinstance(error, RateLimited)
    assert error.retry_after_s == 2.0
    if provider == "openai":
        assert (headers["x-ratelimit-remaining-requests"], headers["x-ratelimit-reset-requests"]) == ("0", "2s")
    elif provider == "anthropic":
        assert headers["anthropic-ratelimit-requests-remaining"] == "0"
    else:
        assert json.loads(ex.plan.body)["error"]["details"][-1]["retryDelay"] == "2s"
    assert deliver(ex).retry_after_s == 2.0


@pytest.mark.parametrize(
    ("retry_format", "headers"),
    # retry-after is whole seconds, rounded up (OpenAI's spec); a fraction also goes in retry-after-ms
    [("seconds", {"retry-after": "2", "retry-after-ms": "1500"}), ("ms", {"retry-after-ms": "1500"}),
     ("both", {"retry-after": "2", "retry-after-ms": "1500"})],
)  # fmt: skip
def test_retry_hint_formats(retry_format: str, headers: dict[str, str]) -> None:
    core = make_core(
        [{"kind": "http", "always": True, "status": 503, "retry_after_s": 1.5, "retry_format": retry_format}]
    )
    ex = send(core, "openai")
    sent = {k: v for k, v in ex.plan.headers if k.startswith("retry-after")}
    assert sent == headers


def test_a_retry_hint_as_an_http_date_is_logged_as_what_it_means() -> None:
    core = make_core([{"kind": "http", "always": True, "status": 503, "retry_after_s": 1.5, "retry_format": "date"}])
    core.wall_clock = lambda: WALL + 0.25
    ex = send(core, "anthropic")
    date = dict(ex.plan.headers)["retry-after"]
    assert parse_http_date(date) == WALL + 2  # whole seconds: the first second at or after arrival + 1.5 s
    record = deliver(ex)
    assert record.retry_after_s == pytest.approx(1.75)
    assert parse_retry_after({"retry-after": date}, WALL + 0.25) == pytest.approx(1.75)


def test_a_status_choice_is_drawn_per_request() -> None:
    core = make_core([{"kind": "http", "always": True, "status": [500, 502, 503, 504]}])
    statuses = {send(core, "openai").plan.status for _ in range(60)}
    assert statuses == {500, 502, 503, 504}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_context_length_and_content_filter_faults_use_the_providers_400s(provider: str) -> None:
    core = make_core([{"kind": "context_length", "always": True, "apis": ["openai", "anthropic", "gemini"]}])
    ex = send(core, provider)
    assert isinstance(ERRORS[provider](400, dict(ex.plan.headers), ex.plan.body), ContextLengthExceeded)
    core = make_core([{"kind": "content_filter", "always": True}])
    ex = send(core, provider)
    assert isinstance(ERRORS[provider](400, dict(ex.plan.headers), ex.plan.body), ContentFiltered)


def test_http_faults_also_apply_to_embeddings_but_stream_faults_do_not() -> None:
    body = {"model": "text-embedding-3-small", "input": "hi", "encoding_format": "float"}
    request = ProviderRequest("POST", openai.EMBEDDINGS_PATH, "", HEADERS, json.dumps(body).encode())
    assert make_core([{"kind": "outage", "always": True}]).handle(request).plan.status == 503
    assert make_core([{"kind": "stream_cut", "always": True, "after": 1}]).handle(request).plan.status == 200
    slow = make_core([{"kind": "latency", "always": True, "ttft": 0.5}]).handle(request)
    assert slow.plan.headers_delay_s == 0.5


# ------------------------------------------------------------------------------------------- transport
def test_reset_silence_and_slow_headers() -> None:
    reset = send(make_core([{"kind": "reset", "always": True}]), "openai")
    assert (reset.plan.status, reset.plan.transport) == (0, TransportFault.RESET)
    silent = send(make_core([{"kind": "silence", "always": True, "silence_s": 7}]), "gemini")
    assert (silent.plan.transport, silent.plan.silence_s) == (TransportFault.SILENCE, 7.0)
    record = silent.finish(Delivery(status=0, duration_s=7.0))
    assert (record.status, record.fault, record.cost_usd) == (0, "silence#0", "0")
    slow = make_core([{"kind": "slow_headers", "always": True, "seconds": 2}])
    assert send(slow, "anthropic").plan.headers_delay_s == 2.0
    assert send(slow, "anthropic", stream=True).plan.headers_delay_s == 2.0


# ------------------------------------------------------------------------------------------- streams
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_cut_stream_stops_after_k_text_chunks_without_its_end(provider: str) -> None:
    ex = send(make_core([{"kind": "stream_cut", "always": True, "after": 2}]), provider, stream=True)
    assert ex.plan.end is StreamEnd.CUT
    assert len(text_chunks(ex)) == 2
    seen = events(provider, ex)
    assert not any(e.done or e.finish_reason for e in seen)
    record = deliver(ex)
    assert (record.finish, record.output_tokens, record.fault) == ("cut", 2, "stream_cut#0")


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("then", ["resume", "close"])
def test_a_stall_is_a_pure_wait_after_k_chunks(provider: str, then: str) -> None:
    faults = [{"kind": "stream_stall", "always": True, "after": 2, "stall_s": 3, "then": then}]
    ex = send(make_core(faults), provider, stream=True)
    chunks = ex.plan.chunks or ()
    second = text_chunks(ex)[1]
    assert (chunks[second + 1].delay_s, chunks[second + 1].data) == (3.0, b"")
    record = deliver(ex)
    if then == "close":
        assert ex.plan.end is StreamEnd.CUT
        assert len(chunks) == second + 2
        assert (record.finish, record.output_tokens) == ("stalled", 2)
    else:
        assert ex.plan.end is StreamEnd.CLOSE
        assert record.output_tokens == 6
        assert any(e.finish_reason for e in events(provider, ex))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_malformed_chunk_breaks_the_stream_reader(provider: str) -> None:
    from harness.errors import StreamBroken

    ex = send(make_core([{"kind": "malformed_chunk", "always": True, "at": 3}]), provider, stream=True)
    third = (ex.plan.chunks or ())[text_chunks(ex)[2]]
    assert third.tokens == 1  # still sent, still billed
    with pytest.raises(StreamBroken):
        events(provider, ex)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_no_done_drops_only_the_terminator(provider: str) -> None:
    plain = send(make_core([]), provider, stream=True)
    ex = send(make_core([{"kind": "no_done", "always": True}]), provider, stream=True)
    whole = b"".join(c.data for c in plain.plan.chunks or ())
    broken = b"".join(c.data for c in ex.plan.chunks or ())
    terminator = {"openai": openai.DONE, "anthropic": anthropic.MESSAGE_STOP_EVENT, "gemini": b""}[provider]
    assert whole.replace(plain.context.serial.encode(), b"") == (
        broken.replace(ex.context.serial.encode(), b"") + terminator
    )
    seen = events(provider, ex)
    assert not any(e.done for e in seen)
    assert any(e.finish_reason for e in seen)  # the answer itself is complete
    assert deliver(ex).finish in ("length", "max_tokens", "MAX_TOKENS")


@pytest.mark.parametrize(("provider", "status"), [("openai", 503), ("anthropic", 529), ("gemini", 503)])
def test_a_mid_stream_error_is_the_providers_error_event(provider: str, status: int) -> None:
    ex = send(make_core([{"kind": "stream_error", "always": True, "after": 2}]), provider, stream=True)
    seen = events(provider, ex)
    errors = [e.error for e in seen if e.error is not None]
    assert len(errors) == 1
    if provider == "gemini":
        assert errors[0].status == status
    if provider == "anthropic":
        assert errors[0].type == "overloaded_error"
    record = deliver(ex)
    assert (record.finish, record.output_tokens) == ("error", 2)


def test_stream_faults_pass_over_plain_requests_to_the_next_failure() -> None:
    core = make_core(
        [{"kind": "stream_cut", "always": True, "after": 1}, {"kind": "http", "always": True, "status": 502}]
    )
    assert send(core, "openai").plan.status == 502
    streamed = send(core, "openai", stream=True)
    assert (streamed.plan.status, streamed.plan.end) == (200, StreamEnd.CUT)
    assert deliver(streamed).fault == "stream_cut#0"


# ------------------------------------------------------------------------------------------- latency
def test_latency_faults_stack_on_the_models_latency_and_on_errors() -> None:
    model = ModelConfig("paced", "openai", ModelPrice.per_million(1, 1), ttft=Distribution.fixed(0.5),
                        inter_chunk=Distribution.fixed(0.1))  # fmt: skip
    faults = [
        {"kind": "latency", "always": True, "ttft": 1, "inter_token": 0.05},
        {"kind": "latency", "always": True, "ttft": 0.25},
        {"kind": "http", "always": True, "status": 500, "models": ["gpt-4o"]},
    ]
    config = ProviderConfig(faults=FaultSchedule.parse(faults)).with_models(model)
    core = ProviderCore(config, clock=ManualClock(0.0), wall_clock=lambda: WALL)
    body = {"model": "paced", "messages": [{"role": "user", "content": "a"}], "max_tokens": 4, "stream": True}
    ex = core.handle(ProviderRequest("POST", openai.CHAT_PATH, "", HEADERS, json.dumps(body).encode()))
    assert ex.plan.headers_delay_s == pytest.approx(1.75)
    delays = [c.delay_s for c in ex.plan.chunks or () if c.tokens][1:]
    assert delays == pytest.approx([0.15] * 3)
    assert deliver(ex).fault == "latency#0+latency#1"
    failed = core.handle(
        ProviderRequest("POST", openai.CHAT_PATH, "", HEADERS, json.dumps({**body, "model": "gpt-4o"}).encode())
    )
    assert (failed.plan.status, failed.plan.headers_delay_s) == (500, pytest.approx(1.25))
    assert deliver(failed).fault == "latency#0+latency#1+http#2"


def test_queueing_latency_grows_with_requests_in_flight() -> None:
    core = make_core([{"kind": "queueing", "always": True, "base": 0.2, "capacity": 4}])
    waiting = [send(core, "openai") for _ in range(9)]
    delays = [ex.plan.headers_delay_s for ex in waiting]
    assert delays == pytest.approx([0.2 * (1 + n / 4) for n in range(9)])
    for ex in waiting:
        deliver(ex)
    assert core.in_flight == 0
    assert send(core, "openai").plan.headers_delay_s == pytest.approx(0.2)


# ------------------------------------------------------------------------------------------- control
def test_reset_restarts_the_schedule_clock_and_set_faults_replaces_it() -> None:
    core = make_core([{"kind": "outage", "start_s": 10, "duration_s": 5}])
    clock = core.clock
    assert isinstance(clock, ManualClock)
    clock.advance(12)
    assert send(core, "openai").plan.status == 503
    core.reset()  # t = 0 again
    assert send(core, "openai").plan.status == 200
    clock.advance(10)
    assert send(core, "openai").plan.status == 503
    core.set_faults(FaultSchedule())
    assert send(core, "openai").plan.status == 200
    assert core.faults_dict() == {"faults": []}


def test_request_ids_carry_the_arrival_number_and_stay_unique_across_runs() -> None:
    core = make_core([])
    first = [send(core, "openai").context for _ in range(3)]
    assert [int(c.request_id[-8:], 16) for c in first] == [1, 2, 3] == [c.arrival_number for c in first]
    core.reset()
    again = send(core, "openai").context
    assert again.arrival_number == 1
    assert again.request_id not in {c.request_id for c in first}


def test_test_headers_override_the_schedules_failure_but_not_its_latency() -> None:
    faults = [{"kind": "outage", "always": True}, {"kind": "latency", "always": True, "ttft": 0.5}]
    core = make_core(faults, allow_fault_headers=True)
    ex = send(core, "openai", headers={"x-fake-fault": "status=418"})
    assert (ex.plan.status, ex.plan.headers_delay_s) == (418, 0.5)
    assert deliver(ex).fault == "header:418+latency#1"
