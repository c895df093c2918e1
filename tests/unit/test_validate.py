"""Config reading: every bad value gets a message naming the field, the value and the expectation."""

from __future__ import annotations

import random

import pytest

from harness.distributions import Distribution
from harness.errors import ConfigError
from harness.validate import Table


def test_accessors_validate_and_name_the_field() -> None:
    t = Table({"users": "many", "rate": -1, "name": "", "mode": "x"}, "load")
    with pytest.raises(ConfigError, match=r'^load\.users: expected an integer, got "many"$'):
        t.int("users")
    with pytest.raises(ConfigError, match=r"^load\.rate: expected a number ≥ 0, got -1$"):
        t.float("rate", min=0)
    with pytest.raises(ConfigError, match=r"^load\.name: expected a non-empty string"):
        t.str("name")
    with pytest.raises(ConfigError, match=r"^load\.mode: expected one of \"a\", \"b\"; got \"x\"$"):
        t.choice("mode", ("a", "b"))
    with pytest.raises(ConfigError, match=r"^load\.missing: required key is missing$"):
        t.int("missing")


def test_booleans_are_not_numbers() -> None:
    with pytest.raises(ConfigError, match="expected an integer"):
        Table({"n": True}, "x").int("n")


def test_unknown_keys_are_rejected_with_a_suggestion() -> None:
    t = Table({"max_attemps": 3}, "client.retry")
    t.int("max_attempts", 5)
    with pytest.raises(ConfigError, match=r'client\.retry\.max_attemps: unknown key; did you mean "max_attempts"\?'):
        t.done()


def test_nested_tables_carry_their_path() -> None:
    t = Table({"faults": [{"kind": "outage"}, {"kind": 3}]}, "")
    second = t.tables("faults")[1]
    with pytest.raises(ConfigError, match=r"^faults\[1\]\.kind: expected a non-empty string, got 3$"):
        second.str("kind")


@pytest.mark.parametrize(
    ("spec", "median"),
    [
        (0.25, 0.25),
        ({"kind": "uniform", "low": 1, "high": 3}, 2.0),
        ({"kind": "normal", "mean": 5, "stddev": 1}, 5.0),
        ({"kind": "lognormal", "median": 0.4, "p99": 3.0}, 0.4),
        ({"kind": "exponential", "mean": 2.0}, 2.0 * 0.6931471805599453),
        ({"kind": "choice", "values": [1, 2, 3], "weights": [1, 1, 1]}, 2.0),
    ],
)
def test_distributions_parse_and_sample(spec: object, median: float) -> None:
    dist = Distribution.parse(spec, "latency")
    assert dist.median == pytest.approx(median)
    rng = random.Random(7)
    samples = [dist.sample(rng) for _ in range(2000)]
    assert min(samples) >= 0.0
    assert sorted(samples)[1000] == pytest.approx(median, rel=0.15)


def test_lognormal_hits_its_p99() -> None:
    dist = Distribution.lognormal(0.4, 3.0)
    assert dist.quantile(0.99) == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"kind": "gamma"}, r"latency\.kind: expected one of"),
        ({"kind": "lognormal", "median": 1.0, "p99": 0.5}, r"latency\.p99: expected a number ≥ 1"),
        ({"kind": "uniform", "low": 1, "high": 2, "hgh": 3}, r"latency\.hgh: unknown key"),
        (-1, r"latency: expected a finite number ≥ 0"),
        ({"kind": "choice", "values": [1, 2], "weights": [1]}, r"latency\.weights: expected 2 weights"),
    ],
)
def test_bad_distributions_name_the_field(spec: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Distribution.parse(spec, "latency")
