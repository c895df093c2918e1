"""The provider core without sockets: routing, auth, validation, limits, faults, billing, the log."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from fake_provider.config import ModelConfig, ProviderConfig
from fake_provider.core import Exchange, ProviderCore, ProviderRequest
from fake_provider.plan import Delivery, StreamEnd, TransportFault
from harness.clock import ManualClock
from harness.distributions import Distribution
from harness.errors import BadRequest, PrefillRejected
from harness.pricing import ModelPrice, Usage
from harness.tokenizer import count_messages
from harness.wire import anthropic, gemini, openai

KEYS = {"authorization": "Bearer sk-test", "x-api-key": "ak-test", "x-goog-api-key": "g-test"}
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello, world!"}], "max_tokens": 5}
MESSAGES = {"model": "claude-haiku-4-5", "max_tokens": 5, "messages": [{"role": "user", "content": "Hello"}]}
GENERATE = {"contents": [{"parts": [{"text": "Hello"}]}], "generationConfig": {"maxOutputTokens": 5}}
GEMINI_PATH = "/v1beta/models/gemini-2.5-flash:generateContent"


def make_core(**options: Any) -> ProviderCore:
    return ProviderCore(ProviderConfig(**options), clock=ManualClock(100.0), wall_clock=lambda: 1_795_000_000.0)


def send(
    core: ProviderCore,
    path: str,
    body: object = None,
    headers: dict[str, str] | None = None,
    method: str = "POST",
    query: str = "",
    raw: bytes | None = None,
) -> Exchange:
    merged = {**KEYS, **(headers or {})}
    data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    return core.handle(ProviderRequest(method, path, query, merged, data))


def deliver(exchange: Exchange, **changes: Any) -> Any:
    """Finish as a perfect performer would (everything sent), with ``changes`` applied."""
    plan = exchange.plan
    tokens = plan.body_tokens if plan.chunks is None else sum(c.tokens for c in plan.chunks)
    delivery = Delivery(status=plan.status, ttfb_s=0.0, duration_s=0.01, tokens_sent=tokens)
    for name, value in changes.items():
        setattr(delivery, name, value)
    return exchange.finish(delivery)


def test_a_plain_chat_completion_is_logged_and_billed() -> None:
    core = make_core()
    headers = {"x-client-id": "worker-3", "x-stainless-retry-count": "2", "x-harness-request-id": "lr-1"}
    ex = send(core, openai.CHAT_PATH, CHAT, headers)
    assert ex.plan.status == 200
    data = json.loads(ex.plan.body)
    assert data["usage"]["prompt_tokens"] == count_messages([("user", "Hello, world!")]) == 13
    assert data["usage"]["completion_tokens"] == 5 == ex.plan.body_tokens
    assert data["choices"][0]["finish_reason"] == "length"
    assert ex.plan.header("x-request-id") == ex.context.request_id
    record = deliver(ex)
    assert (record.seq, record.t, record.wall, record.api, record.model, record.stream) == (
        1,
        100.0,
        1_795_000_000.0,
        "openai.chat",
        "gpt-4o-mini",
        False,
    )
    assert (record.client_id, record.attempt, record.logical_id, record.max_tokens) == ("worker-3", 2, "lr-1", 5)
    assert record.client.startswith("key:")
    assert "sk-test" not in repr(record)
    assert (record.status, record.prompt_tokens, record.output_tokens, record.finish) == (200, 13, 5, "length")
    expected = ModelPrice.per_million("0.15", "0.60", "0.075").cost(Usage(13, 5))
    assert Decimal(record.cost_usd) == expected
    ledger = core.ledger_dict(entries=True)
    assert Decimal(ledger["total"]["cost_usd"]) == expected
    assert ledger["by_model"]["gpt-4o-mini"]["output_tokens"] == 5
    assert list(ledger["by_key"]) == [record.client]


def test_same_request_same_answer_and_a_different_seed_changes_it() -> None:
    a = json.loads(send(make_core(), openai.CHAT_PATH, CHAT).plan.body)["choices"][0]["message"]["content"]
    b = json.loads(send(make_core(), openai.CHAT_PATH, CHAT).plan.body)["choices"][0]["message"]["content"]
    c = json.loads(send(make_core(seed=9), openai.CHAT_PATH, CHAT).plan.body)["choices"][0]["message"]["content"]
    assert a == b != c


def test_request_ids_are_unique() -> None:
    core = make_core()
    ids = {send(core, openai.CHAT_PATH, CHAT).context.request_id for _ in range(50)}
    assert len(ids) == 50


@pytest.mark.parametrize(
    ("path", "body", "query"),
    [(openai.CHAT_PATH, CHAT, ""), (anthropic.MESSAGES_PATH, MESSAGES, ""), (GEMINI_PATH, GENERATE, "")],
)
def test_a_missing_key_gets_each_providers_answer(path: str, body: object, query: str) -> None:
    core = make_core()
    ex = core.handle(ProviderRequest("POST", path, query, {}, json.dumps(body).encode()))
    status = 403 if path == GEMINI_PATH else 401  # Google: 403 PERMISSION_DENIED
    assert ex.plan.status == status
    error = json.loads(ex.plan.body)
    if path == openai.CHAT_PATH:
        assert error["error"]["type"] == "invalid_request_error"
        assert "API key" in error["error"]["message"]
    elif path == anthropic.MESSAGES_PATH:
        assert error["type"] == "error"
        assert error["error"]["type"] == "authentication_error"
    else:
        assert error["error"]["code"] == 403
        assert error["error"]["status"] == "PERMISSION_DENIED"
    record = deliver(ex)
    assert (record.client, record.status, record.cost_usd) == ("anonymous", status, "0")


def test_every_auth_style_is_accepted() -> None:
    core = make_core()
    assert send(core, openai.CHAT_PATH, CHAT, {"authorization": "Bearer k"}).plan.status == 200
    only_x_api_key = core.handle(
        ProviderRequest("POST", anthropic.MESSAGES_PATH, "", {"x-api-key": "k"}, json.dumps(MESSAGES).encode())
    )
    assert only_x_api_key.plan.status == 200
    bearer = core.handle(
        ProviderRequest(
            "POST", anthropic.MESSAGES_PATH, "", {"authorization": "Bearer k"}, json.dumps(MESSAGES).encode()
        )
    )
    assert bearer.plan.status == 200
    query_key = core.handle(ProviderRequest("POST", GEMINI_PATH, "key=k", {}, json.dumps(GENERATE).encode()))
    assert query_key.plan.status == 200
    header_key = core.handle(
        ProviderRequest("POST", GEMINI_PATH, "", {"x-goog-api-key": "k"}, json.dumps(GENERATE).encode())
    )
    assert header_key.plan.status == 200


def test_an_allow_list_rejects_other_keys() -> None:
    core = make_core(allowed_keys=frozenset({"sk-good"}))
    assert send(core, openai.CHAT_PATH, CHAT, {"authorization": "Bearer sk-good"}).plan.status == 200
    bad = send(core, openai.CHAT_PATH, CHAT, {"authorization": "Bearer sk-bad"})
    assert bad.plan.status == 401
    assert json.loads(bad.plan.body)["error"]["code"] == "invalid_api_key"
    assert b"sk-bad" not in bad.plan.body
    gem = core.handle(
        ProviderRequest("POST", GEMINI_PATH, "", {"x-goog-api-key": "nope"}, json.dumps(GENERATE).encode())
    )
    assert (gem.plan.status, json.loads(gem.plan.body)["error"]["status"]) == (400, "INVALID_ARGUMENT")


def test_unknown_routes_and_methods_get_the_providers_4xx() -> None:
    core = make_core()
    unknown = send(core, "/v1/chat/complete", CHAT)
    assert unknown.plan.status == 404
    assert "Invalid URL" in json.loads(unknown.plan.body)["error"]["message"]
    wrong_method = send(core, openai.CHAT_PATH, None, method="GET")
    assert wrong_method.plan.status == 405
    anthropic_get = send(core, anthropic.MESSAGES_PATH, None, method="GET")
    assert (anthropic_get.plan.status, json.loads(anthropic_get.plan.body)["type"]) == (405, "error")
    gem = send(core, "/v1beta/models/gemini-2.5-flash:countTokensPlease", GENERATE)
    assert (gem.plan.status, json.loads(gem.plan.body)["error"]["status"]) == (404, "NOT_FOUND")
    # a path no API has: the shape of the API the headers point to
    for headers, shape in (
        ({"x-api-key": "k", "anthropic-version": "2023-06-01"}, lambda b: b["error"]["type"] == "not_found_error"),
        ({"x-goog-api-key": "k"}, lambda b: b["error"]["status"] == "NOT_FOUND"),
        ({"authorization": "Bearer k"}, lambda b: b["error"]["code"] == "unknown_url"),
    ):
        nowhere = core.handle(ProviderRequest("POST", "/v1/nowhere", "", headers, b"{}"))
        assert nowhere.plan.status == 404
        assert shape(json.loads(nowhere.plan.body)), headers


def test_oversized_bodies_get_413_in_the_providers_shape() -> None:
    core = make_core(max_body_bytes=2048)
    big = {**CHAT, "messages": [{"role": "user", "content": "x" * 3000}]}
    ex = send(core, openai.CHAT_PATH, big)
    assert ex.plan.status == 413
    assert json.loads(ex.plan.body)["error"]["type"] == "invalid_request_error"
    truncated = core.handle(ProviderRequest("POST", anthropic.MESSAGES_PATH, "", KEYS, b"", body_truncated=True))
    assert (truncated.plan.status, json.loads(truncated.plan.body)["error"]["type"]) == (413, "request_too_large")


@pytest.mark.parametrize(
    ("path", "body", "needle"),
    [
        (openai.CHAT_PATH, {**CHAT, "model": "gpt-9"}, '"code":"model_not_found"'),
        (openai.CHAT_PATH, {**CHAT, "model": "claude-haiku-4-5"}, '"code":"model_not_found"'),
        (openai.CHAT_PATH, {**CHAT, "model": "text-embedding-3-small"}, "not supported"),
        (anthropic.MESSAGES_PATH, {**MESSAGES, "model": "claude-9"}, '"type":"not_found_error"'),
        ("/v1beta/models/gemini-9:generateContent", GENERATE, '"status":"NOT_FOUND"'),
    ],
)
def test_unknown_models_get_the_providers_404(path: str, body: object, needle: str) -> None:
    ex = send(make_core(), path, body)
    assert ex.plan.status == 404
    assert needle in ex.plan.body.decode()


def small_model(api: str, **options: Any) -> ModelConfig:
    return ModelConfig("tiny", api, ModelPrice.per_million(1, 2), context_window=30, max_output_tokens=20, **options)


@pytest.mark.parametrize(
    ("api", "path", "body", "needle"),
    [
        (
            "openai",
            openai.CHAT_PATH,
            {"model": "tiny", "messages": [{"role": "user", "content": "a " * 40}]},
            "context_length_exceeded",
        ),
        (
            "openai",
            openai.CHAT_PATH,
            {"model": "tiny", "messages": [{"role": "user", "content": "a"}], "max_tokens": 25},
            "too large",
        ),
        (
            "anthropic",
            anthropic.MESSAGES_PATH,
            {"model": "tiny", "max_tokens": 5, "messages": [{"role": "user", "content": "a " * 40}]},
            "prompt is too long",
        ),
        (
            "anthropic",
            anthropic.MESSAGES_PATH,
            {"model": "tiny", "max_tokens": 19, "messages": [{"role": "user", "content": "a b c d e"}]},
            "exceed context limit",
        ),
        (
            "gemini",
            "/v1/models/tiny:generateContent",
            {"contents": [{"parts": [{"text": "a " * 40}]}]},
            "exceeds the maximum number of tokens",
        ),
    ],
)
def test_context_and_output_limits_are_400s(api: str, path: str, body: object, needle: str) -> None:
    core = ProviderCore(ProviderConfig().with_models(small_model(api)))
    ex = send(core, path, body)
    assert ex.plan.status == 400
    assert needle in ex.plan.body.decode()
    assert deliver(ex).cost_usd == "0"


def test_the_answer_never_overflows_the_context_window() -> None:
    model = ModelConfig("tiny", "openai", ModelPrice.per_million(1, 2), 30, 100, Distribution.fixed(1000))
    core = ProviderCore(ProviderConfig().with_models(model))
    ex = send(core, openai.CHAT_PATH, {"model": "tiny", "messages": [{"role": "user", "content": "a b"}]})
    usage = json.loads(ex.plan.body)["usage"]
    assert usage["prompt_tokens"] + usage["completion_tokens"] == 30
    assert json.loads(ex.plan.body)["choices"][0]["finish_reason"] == "length"


def test_a_model_that_rejects_prefill() -> None:
    core = ProviderCore(ProviderConfig().with_models(small_model("anthropic", rejects_prefill=True)))
    body = {
        "model": "tiny",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
    }
    ex = send(core, anthropic.MESSAGES_PATH, body)
    assert ex.plan.status == 400
    assert anthropic.PREFILL_MESSAGE in ex.plan.body.decode()
    accepted = send(make_core(), anthropic.MESSAGES_PATH, {**body, "model": "claude-haiku-4-5"})
    assert accepted.plan.status == 200


@pytest.mark.parametrize("api", ["openai", "anthropic", "gemini"])
def test_a_prefill_rejection_reads_as_prefill_rejected_in_every_wire_format(api: str) -> None:
    """The client's reading of each format's 400 is ``PrefillRejected`` (it may fall over), not ``BadRequest``."""
    core = ProviderCore(ProviderConfig().with_models(small_model(api, rejects_prefill=True)))
    turns = [("user", "a"), ("assistant", "b")]
    if api == "gemini":
        path = "/v1beta/models/tiny:generateContent"
        body: dict[str, Any] = {
            "contents": [{"role": "model" if r == "assistant" else r, "parts": [{"text": t}]} for r, t in turns],
        }
    else:
        path = openai.CHAT_PATH if api == "openai" else anthropic.MESSAGES_PATH
        body = {"model": "tiny", "max_tokens": 5, "messages": [{"role": r, "content": t} for r, t in turns]}
    ex = send(core, path, body)
    assert ex.plan.status == 400
    wire = {"openai": openai, "anthropic": anthropic, "gemini": gemini}[api]
    error = wire.error_from_response(400, dict(ex.plan.headers), ex.plan.body, model="tiny")
    assert type(error) is PrefillRejected, (type(error), error)
    assert isinstance(error, BadRequest)


def test_fault_headers_are_ignored_unless_enabled() -> None:
    assert send(make_core(), openai.CHAT_PATH, CHAT, {"x-fake-status": "429"}).plan.status == 200
    core = make_core(allow_fault_headers=True)
    ex = send(core, openai.CHAT_PATH, CHAT, {"x-fake-status": "429; retry_after_ms=300"})
    assert ex.plan.status == 429
    assert ex.plan.header("retry-after-ms") == "300"
    assert ex.plan.header("retry-after") == "1"  # a 429 also says it in whole seconds (at least 1)
    error = json.loads(ex.plan.body)["error"]
    assert (error["type"], error["code"]) == ("requests", "rate_limit_exceeded")
    record = deliver(ex)
    assert (record.fault, record.retry_after_s, record.error_type, record.cost_usd) == (
        "header:429",
        0.3,
        "rate_limit_exceeded",
        "0",
    )
    assert record.prompt_tokens == 13  # counted, not billed


@pytest.mark.parametrize(
    ("path", "body", "header", "status", "check"),
    [
        (
            anthropic.MESSAGES_PATH,
            MESSAGES,
            "529; retry_after=2",
            529,
            lambda p, b: (
                p.header("x-should-retry") == "true"
                and p.header("retry-after") == "2"
                and b["error"]["type"] == "overloaded_error"
            ),
        ),
        (anthropic.MESSAGES_PATH, MESSAGES, "429", 429, lambda p, b: b["error"]["type"] == "rate_limit_error"),
        (
            GEMINI_PATH,
            GENERATE,
            "429; retry_after_ms=1500",
            429,
            lambda p, b: b["error"]["details"][-1]["retryDelay"] == "1.500s",
        ),
        (GEMINI_PATH, GENERATE, "503", 503, lambda p, b: b["error"]["status"] == "UNAVAILABLE"),
        (
            openai.CHAT_PATH,
            CHAT,
            "429; code=insufficient_quota",
            429,
            lambda p, b: b["error"]["type"] == "insufficient_quota",
        ),
        (
            openai.CHAT_PATH,
            CHAT,
            "500; retry_after=1; retry_after_ms=1000",
            500,
            lambda p, b: p.header("retry-after") == "1" and p.header("retry-after-ms") == "1000",
        ),
    ],
)
def test_injected_statuses_use_the_providers_real_shape(
    path: str, body: object, header: str, status: int, check: Any
) -> None:
    ex = send(make_core(allow_fault_headers=True), path, body, {"x-fake-status": header})
    assert ex.plan.status == status
    assert check(ex.plan, json.loads(ex.plan.body))


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("x-fake-status", "200"),
        ("x-fake-status", "abc"),
        ("x-fake-status", "429; retry_after=-1"),
        ("x-fake-status", "429; retry_after=soon"),
        ("x-fake-status", "429; colour=red"),
        ("x-fake-status", "429; nonsense"),
        ("x-fake-fault", "explode"),
        ("x-fake-fault", "cut; after_tokens=x"),
    ],
)
def test_malformed_fault_headers_are_400s_naming_the_header(header: str, value: str) -> None:
    ex = send(make_core(allow_fault_headers=True), openai.CHAT_PATH, CHAT, {header: value})
    assert ex.plan.status == 400
    assert f"'{header}'" in json.loads(ex.plan.body)["error"]["message"]


def test_transport_faults_never_send_a_status_and_bill_nothing() -> None:
    core = make_core(allow_fault_headers=True)
    reset = send(core, openai.CHAT_PATH, CHAT, {"x-fake-fault": "reset"})
    assert (reset.plan.status, reset.plan.transport) == (0, TransportFault.RESET)
    silence = send(core, openai.CHAT_PATH, CHAT, {"x-fake-fault": "silence; seconds=2"})
    assert (silence.plan.transport, silence.plan.silence_s) == (TransportFault.SILENCE, 2.0)
    record = silence.finish(Delivery(status=0, duration_s=2.0))
    assert (record.status, record.fault, record.cost_usd, record.finish) == (0, "header:silence", "0", None)


def stream(core: ProviderCore, headers: dict[str, str] | None = None, max_tokens: int = 8) -> Exchange:
    body = {**CHAT, "max_tokens": max_tokens, "stream": True, "stream_options": {"include_usage": True}}
    return send(core, openai.CHAT_PATH, body, headers)


def test_a_cut_stream_bills_what_was_sent() -> None:
    core = make_core(allow_fault_headers=True)
    ex = stream(core, {"x-fake-fault": "cut; after_tokens=3"})
    plan = ex.plan
    assert plan.end is StreamEnd.CUT
    assert sum(c.tokens for c in plan.chunks or ()) == 3
    assert b"[DONE]" not in b"".join(c.data for c in plan.chunks or ())
    record = deliver(ex)
    assert (record.output_tokens, record.finish, record.fault) == (3, "cut", "header:cut_after=3")
    assert Decimal(record.cost_usd) == core.models["gpt-4o-mini"].price.cost(Usage(13, 3))


def test_a_client_that_leaves_mid_stream_is_billed_for_what_was_sent() -> None:
    core = make_core()
    ex = stream(core)
    record = deliver(ex, tokens_sent=2, client_gone=True)
    assert (record.output_tokens, record.finish) == (2, "client_gone")
    assert core.ledger.total.output_tokens == 2


def test_a_plain_answer_whose_client_left_before_the_status_bills_nothing() -> None:
    core = make_core()
    record = send(core, openai.CHAT_PATH, CHAT).finish(Delivery(status=0, client_gone=True))
    assert (record.cost_usd, record.finish, record.output_tokens) == ("0", "client_gone", 0)


def test_a_mid_stream_error_event() -> None:
    ex = send(
        make_core(allow_fault_headers=True),
        anthropic.MESSAGES_PATH,
        {**MESSAGES, "stream": True},
        {"x-fake-fault": "error; after_tokens=2; status=529"},
    )
    data = b"".join(c.data for c in ex.plan.chunks or ())
    assert data.endswith(anthropic.error_event("overloaded_error", "Overloaded"))
    assert b"message_stop" not in data
    record = deliver(ex)
    assert (record.output_tokens, record.finish) == (2, "error")


def test_latency_comes_from_the_models_distributions() -> None:
    model = small_model("openai", ttft=Distribution.fixed(0.5), inter_chunk=Distribution.fixed(0.1))
    core = ProviderCore(ProviderConfig(allow_fault_headers=True).with_models(model))
    body = {"model": "tiny", "messages": [{"role": "user", "content": "a"}], "max_tokens": 4}
    plain = send(core, openai.CHAT_PATH, body)
    assert plain.plan.headers_delay_s == pytest.approx(0.5 + 3 * 0.1)
    streamed = send(core, openai.CHAT_PATH, {**body, "stream": True}, {"x-fake-fault": "slow; seconds=1"})
    assert streamed.plan.headers_delay_s == pytest.approx(1.5)
    assert [c.delay_s for c in streamed.plan.chunks or ()] == [0.0, 0.0, 0.1, 0.1, 0.1, 0.0]


def test_finish_is_exactly_once() -> None:
    ex = send(make_core(), openai.CHAT_PATH, CHAT)
    deliver(ex)
    with pytest.raises(RuntimeError):
        deliver(ex)


def test_the_request_log_cursor_and_reset() -> None:
    core = make_core()
    for _ in range(3):
        deliver(send(core, openai.CHAT_PATH, CHAT))
    lines = core.requests_jsonl(since=1).splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [2, 3]
    assert core.requests_jsonl(since=3) == ""
    assert core.health()["requests"] == 3
    assert 'fake_provider_requests_total{api="openai.chat",model="gpt-4o-mini",status="200"} 3' in core.metrics_text()
    core.reset()
    assert (len(core.log), core.ledger.total.requests, core.metrics_text().count("_total{")) == (0, 0, 0)


def test_embeddings_and_models() -> None:
    core = make_core()
    ex = send(
        core,
        openai.EMBEDDINGS_PATH,
        {"model": "text-embedding-3-small", "input": ["a b", "c"], "encoding_format": "float", "dimensions": 8},
    )
    data = json.loads(ex.plan.body)
    assert [len(d["embedding"]) for d in data["data"]] == [8, 8]
    assert data["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    record = deliver(ex)
    assert (record.api, record.prompt_tokens, record.output_tokens) == ("openai.embeddings", 3, 0)
    assert Decimal(record.cost_usd) == core.models["text-embedding-3-small"].price.cost(Usage(3, 0))
    bearer = {"authorization": "Bearer k"}  # /v1/models is OpenAI's for an OpenAI key alone
    models = core.handle(ProviderRequest("GET", openai.MODELS_PATH, "", bearer, b""))
    listed = [m["id"] for m in json.loads(models.plan.body)["data"]]
    assert listed == [name for m in core.config.models if m.api == "openai" for name in m.names]
    assert {"gpt-4o", "gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18", "o3-mini", "text-embedding-3-small"} <= set(listed)
    one = core.handle(ProviderRequest("GET", openai.MODELS_PATH + "/gpt-4o", "", bearer, b""))
    assert json.loads(one.plan.body)["id"] == "gpt-4o"
    assert core.handle(ProviderRequest("GET", openai.MODELS_PATH + "/nope", "", bearer, b"")).plan.status == 404


def test_gemini_streams_need_alt_sse_and_are_logged_as_streams() -> None:
    core = make_core()
    path = "/v1/models/gemini-2.5-flash:streamGenerateContent"
    without = send(core, path, GENERATE)
    assert without.plan.status == 400
    ex = send(core, path, GENERATE, query="alt=sse")
    assert ex.plan.streamed
    chunks = [json.loads(c.data[len(b"data: ") :]) for c in ex.plan.chunks or ()]
    assert chunks[-1]["candidates"][0]["finishReason"] == "MAX_TOKENS"
    assert chunks[-1]["usageMetadata"]["candidatesTokenCount"] == 5
    record = deliver(ex)
    assert (record.api, record.stream, record.output_tokens) == ("gemini.generate", True, 5)
    assert gemini.parse_route(path) is not None


def test_the_shared_models_path_is_told_apart_by_headers() -> None:
    """``GET /v1/models`` is OpenAI's, Anthropic's and Gemini's path: the headers say whose list (and whose 401)."""
    core = make_core()

    def listing(headers: dict[str, str], query: str = "") -> tuple[int, dict[str, object]]:
        ex = core.handle(ProviderRequest("GET", "/v1/models", query, headers, b""))
        return ex.plan.status, json.loads(ex.plan.body)

    status, body = listing({"x-api-key": "k"})  # an Anthropic key header alone (0.x SDKs, LiteLLM)
    assert (status, sorted(body)) == (200, ["data", "first_id", "has_more", "last_id"])
    status, body = listing({"authorization": "Bearer k", "anthropic-version": "2023-06-01"})  # anthropic 2.x
    assert (status, sorted(body)) == (200, ["data", "first_id", "has_more", "last_id"])
    status, body = listing({"authorization": "Bearer k"})
    assert (status, body["object"]) == (200, "list")
    assert all(m["owned_by"] == "openai" for m in body["data"])  # type: ignore[union-attr, index]
    status, body = listing({"x-goog-api-key": "k"})
    assert (status, sorted(body)) == (200, ["models"])
    status, body = listing({}, "key=k")
    assert (status, sorted(body)) == (200, ["models"])
    status, body = listing({"anthropic-version": "2023-06-01"})  # Anthropic's, without a key
    assert (status, body["type"], body["error"]["type"]) == (401, "error", "authentication_error")  # type: ignore[index]
    status, body = listing({})
    assert (status, body["error"]["code"]) == (401, "invalid_api_key")  # type: ignore[index]
