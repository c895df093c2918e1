"""Fuzz: thousands of malformed requests get only 4xx, in the right provider's shape, and the
provider still answers a valid request afterwards. Drives the core directly, for volume; a smaller
sample goes over the socket in tests/integration/test_fake_server_fuzz.py."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fake_provider.config import ProviderConfig
from fake_provider.core import ProviderCore, ProviderRequest
from fake_provider.plan import Delivery

KEYS = {"authorization": "Bearer sk-f", "x-api-key": "ak-f", "x-goog-api-key": "g-f"}
VALID: list[tuple[str, str, str, dict[str, Any]]] = [
    (
        "openai",
        "/v1/chat/completions",
        "",
        {
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 3,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    ),
    (
        "openai",
        "/v1/embeddings",
        "",
        {"model": "text-embedding-3-small", "input": ["a b", "c"], "encoding_format": "float", "dimensions": 4},
    ),
    (
        "anthropic",
        "/v1/messages",
        "",
        {
            "model": "claude-haiku-4-5",
            "max_tokens": 3,
            "system": [{"type": "text", "text": "s"}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
            "stop_sequences": ["x"],
        },
    ),
    (
        "gemini",
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
        "alt=sse",
        {
            "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "systemInstruction": {"parts": [{"text": "s"}]},
            "generationConfig": {"maxOutputTokens": 3, "stopSequences": ["x"]},
        },
    ),
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _paths(item, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn, body: dict[str, Any]) -> bytes:
    """A valid body with one node replaced, deleted, or joined by an unknown sibling."""
    copy = json.loads(json.dumps(body))
    path = draw(st.sampled_from(_paths(copy)[1:]))
    parent = copy
    for step in path[:-1]:
        parent = parent[step]
    action = draw(st.sampled_from(["replace", "delete", "replace"]))
    if action == "delete":
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(json_values)
    return json.dumps(copy).encode()


@st.composite
def malformed_requests(draw: st.DrawFn) -> tuple[str, ProviderRequest]:
    """(provider whose shape must answer, request)."""
    provider, path, query, body = draw(st.sampled_from(VALID))
    kind = draw(
        st.sampled_from(
            ["mutated", "mutated", "mutated", "json", "bytes", "truncated", "nested", "route", "method", "headers"]
        )
    )
    headers = dict(KEYS)
    method = "POST"
    if kind == "mutated":
        data = draw(mutated(body))
    elif kind == "json":
        data = json.dumps(draw(json_values)).encode()
    elif kind == "bytes":
        data = draw(st.binary(max_size=64))
    elif kind == "truncated":
        whole = json.dumps(body).encode()
        data = whole[: draw(st.integers(0, len(whole) - 1))]
    elif kind == "nested":
        data = b"[" * draw(st.integers(1000, 100_000))
    else:
        data = json.dumps(body).encode()
        if kind == "route":
            path = path + draw(st.sampled_from(["x", "/", "/../x", ":", "%00"]))
            provider = "any"
        elif kind == "method":
            method = draw(st.sampled_from(["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "BREW"]))
        else:
            headers = {name: draw(st.sampled_from(["", "Bearer", "Bearer ", "Basic x", "ümlaut"])) for name in KEYS}
            headers["x-stainless-retry-count"] = draw(st.sampled_from(["-1", "x", "99999999999999", "²"]))
            headers["x-fake-status"] = draw(
                st.sampled_from(["", "200", "600", "4 29", "429; retry_after=1e999", "429;;", "429; a=b"])
            )
    return provider, ProviderRequest(method, path, query, headers, data)


def assert_provider_shape(provider: str, status: int, body: bytes) -> None:
    data = json.loads(body)
    if provider == "any":  # an unknown route: the provider guessed from the path answers
        provider = "anthropic" if data.get("type") == "error" else "gemini" if "status" in data["error"] else "openai"
    if provider == "openai":
        assert set(data) == {"error"}
        error = data["error"]
        assert isinstance(error["message"], str)
        assert isinstance(error["type"], str)
        assert error["param"] is None or isinstance(error["param"], str)
        assert error["code"] is None or isinstance(error["code"], str)
    elif provider == "anthropic":
        assert data["type"] == "error"
        assert isinstance(data["error"]["type"], str)
        assert isinstance(data["error"]["message"], str)
    else:
        assert set(data) == {"error"}
        assert data["error"]["code"] == status
        assert isinstance(data["error"]["message"], str)
        assert isinstance(data["error"]["status"], str)


CORE = ProviderCore(ProviderConfig(allow_fault_headers=True, max_body_bytes=64 * 1024))


def check_valid_request_still_works() -> None:
    for _, path, query, body in VALID:
        exchange = CORE.handle(ProviderRequest("POST", path, query, KEYS, json.dumps(body).encode()))
        assert exchange.plan.status == 200, exchange.plan.body
        exchange.finish(Delivery(status=200))


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(malformed_requests(), min_size=1, max_size=8))
def test_malformed_requests_get_only_4xx_in_the_providers_shape(requests: list[tuple[str, ProviderRequest]]) -> None:
    for provider, request in requests:
        exchange = CORE.handle(request)
        plan = exchange.plan
        exchange.finish(Delivery(status=plan.status))
        if plan.status == 200:
            continue  # a mutation can happen to be valid (a dropped optional field …)
        assert 400 <= plan.status < 500, (request, plan)
        assert plan.header(
            "content-type",
        ).startswith("application/json")  # type: ignore[union-attr]
        assert_provider_shape(provider, plan.status, plan.body)
    check_valid_request_still_works()


def test_the_provider_still_answers_after_the_fuzz() -> None:
    check_valid_request_still_works()
    assert all(r.status < 500 for r in CORE.log)
