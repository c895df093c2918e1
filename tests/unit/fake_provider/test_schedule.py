"""The fault schedule as data: parsing with field-naming errors, the JSON round trip, scenario loading."""

from __future__ import annotations

import json
import tomllib
from typing import Any

import pytest

from fake_provider.config import ProviderConfig
from fake_provider.fault_spec import KINDS, key_label
from fake_provider.plan import TransportFault
from fake_provider.schedule import FaultSchedule, unit_draw
from harness.errors import ConfigError

EVERY_KIND: list[dict[str, Any]] = [
    {"kind": "http", "start_s": 5, "duration_s": 10, "status": 429, "retry_after_s": 2, "retry_format": "ms"},
    {"kind": "http", "always": True, "status": [500, 502, 503], "fraction": 0.2},
    {"kind": "context_length", "always": True, "models": ["gpt-4o"]},
    {"kind": "content_filter", "always": True, "apis": ["anthropic"]},
    {"kind": "outage", "start_s": 60, "duration_s": 30},
    {"kind": "brownout", "always": True, "p": 0.1, "status": 503, "retry_after_s": 1, "retry_format": "date"},
    {"kind": "flapping", "start_s": 0, "duration_s": 120, "down_s": 5, "up_s": 10, "message": "upstream flapped"},
    {"kind": "reset", "always": True, "clients": ["worker-1"]},
    {"kind": "silence", "always": True, "silence_s": 30, "keys": ["sk-team-a"]},
    {"kind": "slow_headers", "always": True, "seconds": 2},
    {"kind": "stream_cut", "always": True, "after": 5},
    {"kind": "stream_stall", "always": True, "after": 3, "stall_s": 2, "then": "close"},
    {"kind": "malformed_chunk", "always": True, "at": 4},
    {"kind": "no_done", "always": True, "apis": ["openai.chat"]},
    {"kind": "stream_error", "always": True, "after": 2, "status": 529},
    {"kind": "latency", "always": True, "ttft": {"kind": "lognormal", "median": 0.4, "p99": 3}, "inter_token": 0.02},
    {"kind": "queueing", "always": True, "base": 0.1, "capacity": 32},
    {"kind": "invalid_json", "always": True, "fraction": 0.3},
    {"kind": "schema_violation", "start_s": 0, "duration_s": 60, "apis": ["openai.chat"]},
    {"kind": "drop", "always": True, "headers": ["x-ratelimit-remaining-tokens"], "fields": ["usage.total_tokens"]},
]


def test_every_kind_is_covered_here() -> None:
    assert {spec["kind"] for spec in EVERY_KIND} == set(KINDS)


def test_every_kind_parses_and_round_trips_through_json() -> None:
    schedule = FaultSchedule.parse(EVERY_KIND)
    assert [s.label for s in schedule.specs] == [f"{spec['kind']}#{i}" for i, spec in enumerate(EVERY_KIND)]
    document = json.loads(json.dumps(schedule.to_dict()))
    again = FaultSchedule.from_json(document)
    assert again == schedule
    assert again.to_dict() == document
    assert FaultSchedule.from_json(document["faults"]) == schedule  # the bare array works too


def test_windows_targets_and_parameters() -> None:
    specs = FaultSchedule.parse(EVERY_KIND).specs
    assert (specs[0].start_s, specs[0].end_s) == (5.0, 15.0)
    assert specs[1].end_s == float("inf")
    assert specs[1].statuses == (500, 502, 503)
    assert specs[1].fraction == 0.2
    assert specs[0].fault is not None
    assert specs[0].fault.rate_limit_headers
    assert (specs[0].fault.retry_after_s, specs[0].fault.retry_unit) == (2.0, "ms")
    assert specs[4].fault is not None
    assert specs[4].fault.special == "overloaded"
    assert specs[5].p == 0.1
    assert specs[5].fault is not None
    assert specs[5].fault.retry_unit == "date"
    assert (specs[6].down_s, specs[6].up_s) == (5.0, 10.0)
    assert specs[8].fault is not None
    assert specs[8].fault.transport is TransportFault.SILENCE
    assert specs[8].keys == frozenset({key_label("sk-team-a")})
    assert specs[11].fault is not None
    assert specs[11].fault.stall_close
    assert specs[16].capacity == 32


def test_keys_are_kept_and_shown_only_as_their_log_hash() -> None:
    schedule = FaultSchedule.parse([{"kind": "reset", "always": True, "keys": ["sk-secret-value"]}])
    text = json.dumps(schedule.to_dict()) + repr(schedule) + repr(schedule.specs)
    assert "sk-secret-value" not in text
    assert key_label("sk-secret-value") in text
    # the hash is accepted back as is
    assert FaultSchedule.from_json(schedule.to_dict()) == schedule


@pytest.mark.parametrize(
    ("faults", "message"),
    [
        (
            [
                {"kind": "reset", "always": True},
                {"kind": "reset", "always": True},
                {"kind": "outage", "duration_s": -5},
            ],
            "faults[2].duration_s: expected a number ≥ 0, got -5",
        ),
        ([{"kind": "earthquake", "always": True}], "faults[0].kind: expected one of"),
        ([{"kind": "outage"}], "faults[0].duration_s: required key is missing (or set always = true)"),
        ([{"kind": "outage", "always": True, "duration_s": 3}], "faults[0].always: give either always = true"),
        ([{"kind": "brownout", "always": True}], "faults[0].p: required key is missing"),
        ([{"kind": "brownout", "always": True, "p": 1.5}], "faults[0].p: expected a number in [0, 1], got 1.5"),
        ([{"kind": "http", "always": True}], "faults[0].status: required key is missing"),
        ([{"kind": "http", "always": True, "status": 200}], "faults[0].status: expected an HTTP error status"),
        ([{"kind": "outage", "always": True, "apis": ["azure"]}], "faults[0].apis: expected names from"),
        ([{"kind": "outage", "always": True, "fraction": 0}], "faults[0].fraction: expected a number > 0"),
        ([{"kind": "latency", "always": True}], "faults[0].ttft: a latency fault needs ttft, inter_token or both"),
        ([{"kind": "latency", "always": True, "ttft": {"kind": "gamma"}}], "faults[0].ttft.kind: expected one of"),
        ([{"kind": "queueing", "always": True, "base": 0.1}], "faults[0].capacity: required key is missing"),
        ([{"kind": "stream_cut", "always": True, "after": 2, "colour": "red"}], "faults[0].colour: unknown key"),
        (
            [{"kind": "stream_error", "always": True, "after": 1, "status": [500, 503]}],
            "faults[0].status: expected one",
        ),
        ([{"kind": "http", "always": True, "status": 429, "retry_format": "weeks"}], "faults[0].retry_format"),
        ({"kind": "reset"}, "faults: expected an array of tables"),
        (["reset"], "faults[0]: expected a table"),
    ],
)
def test_bad_schedules_name_the_field(faults: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        FaultSchedule.parse(faults)
    assert str(info.value).startswith(message), str(info.value)


def test_a_post_body_needs_the_faults_key() -> None:
    with pytest.raises(ConfigError, match="faults: required key is missing"):
        FaultSchedule.from_json({"fault": []})
    with pytest.raises(ConfigError, match="extra: unknown key"):
        FaultSchedule.from_json({"faults": [], "extra": 1})
    assert not FaultSchedule.from_json({"faults": []})


def test_a_scenario_declares_faults_and_quotas() -> None:
    scenario = tomllib.loads(
        """
        [provider]
        seed = 3

        [provider.quotas]
        rpm = 60
        tpm = 40000
        max_in_flight = 4
        spend_cap_usd = "2.50"

        [provider.quotas.models."claude-haiku-4-5"]
        itpm = 50000
        otpm = 10000

        [[faults]]
        kind = "outage"
        start_s = 120
        duration_s = 180

        [[faults]]
        kind = "latency"
        always = true
        ttft = { kind = "uniform", low = 0.1, high = 0.3 }
        """
    )
    config = ProviderConfig.from_scenario(scenario)
    assert [s.label for s in config.faults.specs] == ["outage#0", "latency#1"]
    assert config.quotas is not None
    assert config.quotas.limits_for("gpt-4o").to_dict() == {"rpm": 60, "tpm": 40000}
    assert config.quotas.limits_for("claude-haiku-4-5").to_dict() == {
        "rpm": 60,
        "tpm": 40000,
        "itpm": 50000,
        "otpm": 10000,
    }
    assert (config.quotas.max_in_flight, str(config.quotas.spend_cap_usd)) == (4, "2.50")
    assert config.quotas.to_dict()["models"] == {"claude-haiku-4-5": {"itpm": 50000, "otpm": 10000}}


@pytest.mark.parametrize(
    ("provider", "message"),
    [
        ({"quotas": {"rpm": 0}}, "provider.quotas.rpm: expected an integer ≥ 1, got 0"),
        ({"quotas": {"rpm": 5, "rps": 2}}, "provider.quotas.rps: unknown key"),
        ({"quotas": {"models": {"nope": {"rpm": 1}}}}, "provider.quotas.models.nope: no model named 'nope'"),
        ({"quotas": {"models": {"gpt-4o": {"tpm": "many"}}}}, "provider.quotas.models.gpt-4o.tpm: expected an integer"),
        ({"quotas": {"spend_cap_usd": "lots"}}, "provider.quotas.spend_cap_usd"),
        ({"quotas": {"window_s": 0}}, "provider.quotas.window_s: expected a number in [1, 86400], got 0"),
        ({"quotas": {"window_s": 1e-15}}, "provider.quotas.window_s: expected a number in [1, 86400], got 1e-15"),
    ],
)
def test_bad_quotas_name_the_field(provider: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        ProviderConfig.from_scenario({"provider": provider})
    assert str(info.value).startswith(message), str(info.value)


def test_draws_are_uniform_and_fixed_by_their_inputs() -> None:
    draws = [unit_draw(7, 1, n, 0) for n in range(20_000)]
    assert all(0.0 <= d < 1.0 for d in draws)
    assert abs(sum(draws) / len(draws) - 0.5) < 0.01
    assert sum(d < 0.1 for d in draws) == pytest.approx(2000, abs=4 * (20_000 * 0.09) ** 0.5)
    assert unit_draw(7, 1, 5, 0) == unit_draw(7, 1, 5, 0)
    assert len({unit_draw(7, 1, 5, 0), unit_draw(8, 1, 5, 0), unit_draw(7, 2, 5, 0), unit_draw(7, 1, 5, 1)}) == 4


def test_a_bad_keys_target_does_not_echo_the_keys() -> None:
    with pytest.raises(ConfigError) as info:
        FaultSchedule.parse([{"kind": "reset", "always": True, "keys": ["sk-live-secret", ""]}])
    assert "sk-live-secret" not in str(info.value)
    assert str(info.value).startswith("faults[0].keys: expected a list of non-empty strings")
