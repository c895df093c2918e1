"""The ``drop`` fault: answers less the named headers and JSON fields, the rest unchanged."""

from __future__ import annotations

import json

import pytest

from fake_provider.config import ProviderConfig
from fake_provider.core import ProviderCore, ProviderRequest
from fake_provider.schedule import FaultSchedule
from harness.errors import ConfigError
from harness.wire.sse import SSEParser

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}


def _core(*faults: dict[str, object]) -> ProviderCore:
    config = ProviderConfig.from_scenario(
        {"provider": {"quotas": {"rpm": 100, "tpm": 100_000}}, "faults": [dict(f) for f in faults]}
    )
    return ProviderCore(config)


def _ask(core: ProviderCore, **body: object) -> object:
    request = ProviderRequest(
        "POST",
        "/v1/chat/completions",
        headers={"authorization": "Bearer k"},
        body=json.dumps({**BODY, **body}).encode(),
    )
    return core.handle(request).plan


DROP = {"kind": "drop", "always": True, "headers": ["X-Ratelimit-Remaining-Tokens"], "fields": ["usage.total_tokens"]}


def test_plain_answer_loses_the_header_and_the_field_only() -> None:
    clean, dropped = _ask(_core()), _ask(_core(DROP))
    names = {k for k, _ in dropped.headers}  # type: ignore[attr-defined]
    assert "x-ratelimit-remaining-tokens" in {k for k, _ in clean.headers}  # type: ignore[attr-defined]
    assert "x-ratelimit-remaining-tokens" not in names
    assert "x-ratelimit-remaining-requests" in names
    body = json.loads(dropped.body)  # type: ignore[attr-defined]
    assert "total_tokens" not in body["usage"]
    assert body["usage"]["prompt_tokens"] > 0
    assert dropped.body_tokens == clean.body_tokens  # type: ignore[attr-defined]  # billed the same


def test_every_stream_event_loses_the_field() -> None:
    fault = {"kind": "drop", "always": True, "fields": ["choices.delta.content", "usage"]}
    plan = _ask(_core(fault), stream=True, stream_options={"include_usage": True})
    parser = SSEParser()
    events = [m for c in plan.chunks for m in parser.feed(c.data)]  # type: ignore[attr-defined]
    payloads = [json.loads(m.data) for m in events if m.data != "[DONE]"]
    assert events[-1].data == "[DONE]"
    assert payloads
    assert all("usage" not in p for p in payloads)
    assert all("content" not in c["delta"] for p in payloads for c in p["choices"])


def test_drop_stacks_with_a_failure_fault() -> None:
    core = _core({"kind": "http", "status": 503, "always": True}, {**DROP, "fields": ["error.code"]})
    plan = _ask(core)
    assert plan.status == 503  # type: ignore[attr-defined]
    assert "code" not in json.loads(plan.body)["error"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("table", "field"),
    [
        ({"kind": "drop", "always": True}, "faults[0].headers"),
        ({"kind": "drop", "always": True, "fields": ["a..b"]}, "faults[0].fields"),
    ],
)
def test_a_drop_without_names_or_with_a_bad_path_is_refused(table: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace("[", r"\[").replace("]", r"\]")):
        FaultSchedule.parse([table])


def test_drop_round_trips_through_the_control_api_shape() -> None:
    schedule = FaultSchedule.parse([DROP])
    assert FaultSchedule.from_json(schedule.to_dict()) == schedule
