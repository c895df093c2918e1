"""The [load] section and the seeded workload."""

from __future__ import annotations

import random

import pytest

from harness.errors import ConfigError
from harness.runner.workload import Workload
from harness.scenario.load import LoadSpec, open_loop_arrivals
from harness.tokenizer import count_messages
from harness.validate import Table


def spec(**kw: object) -> LoadSpec:
    """A [load] section; a closed loop gets 10 users and an open loop a rate of 1/s unless given."""
    if kw.get("mode", "closed") == "closed":
        kw.setdefault("users", 10)
    elif kw.get("arrivals", "constant") != "step":
        kw.setdefault("rate", 1.0)
    return LoadSpec.parse(Table(kw, "load"))


def test_closed_loop_defaults_and_fields() -> None:
    s = spec(users=1000, think_s={"kind": "exponential", "mean": 2.0}, stream_share=0.25, features=["a", "b"])
    assert (s.mode, s.users, s.stream_share) == ("closed", 1000, 0.25)
    assert s.features == (("a", 1.0), ("b", 1.0))
    assert s.think_s.median == pytest.approx(2.0 * 0.6931, rel=1e-3)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"users": 0}, r"load\.users: expected an integer in \[1, 1000000\], got 0"),
        ({"mode": "burst"}, r"load\.mode: expected one of"),
        ({"mode": "open", "arrivals": "step", "steps": [[10, 1], [5, 2]]}, r"load\.steps: expected steps in incr"),
        ({"mode": "open", "arrivals": "step", "steps": [[0, -1]]}, r"load\.steps\[0\]"),
        ({"stream_share": 1.5}, r"load\.stream_share"),
        ({"models": {"gpt-4o": -1}}, r"load\.models\.gpt-4o: expected a weight"),
        ({"userz": 3}, r'load\.userz: unknown key; did you mean "users"'),
        ({"mode": "open", "users": 3}, r"load\.users: unknown key"),
    ],
)
def test_bad_load_names_the_field(kw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        spec(**kw)


def test_constant_arrivals_are_evenly_spaced_and_bounded() -> None:
    s = spec(mode="open", arrivals="constant", rate=10.0)
    times = list(open_loop_arrivals(s, 2.0, random.Random(1)))
    assert len(times) == 20
    assert times[0] == 0.0
    assert times[1] - times[0] == pytest.approx(0.1, abs=0.002)
    capped = spec(mode="open", rate=10.0, max_requests=5)
    assert len(list(open_loop_arrivals(capped, 100.0, random.Random(1)))) == 5


def test_step_and_spike_rates() -> None:
    s = spec(mode="open", arrivals="step", steps=[[0, 1.0], [10, 5.0]])
    times = list(open_loop_arrivals(s, 20.0, random.Random(1)))
    assert sum(1 for t in times if t < 10) == pytest.approx(10, abs=1)
    assert sum(1 for t in times if t >= 10) == pytest.approx(50, abs=1)
    spike = spec(mode="open", arrivals="spike", rate=1.0, spike_at_s=5, spike_s=1, spike_rate=100.0)
    times = list(open_loop_arrivals(spike, 10.0, random.Random(1)))
    assert sum(1 for t in times if 5 <= t < 6) == pytest.approx(100, abs=2)


def test_poisson_arrivals_average_the_rate() -> None:
    s = spec(mode="open", arrivals="poisson", rate=50.0)
    times = list(open_loop_arrivals(s, 100.0, random.Random(5)))
    assert len(times) == pytest.approx(5000, rel=0.05)
    assert times == sorted(times)


def test_workload_is_a_pure_function_of_seed_and_index() -> None:
    s = spec(prompt_tokens={"kind": "uniform", "low": 20, "high": 400}, stream_share=0.5, users_pool=7)
    w1, w2 = Workload(s, 11, "gpt-4o-mini"), Workload(s, 11, "gpt-4o-mini")
    assert [w1.request(i) for i in (5, 1, 3)] == [w2.request(i) for i in (5, 1, 3)]
    assert Workload(s, 12, "gpt-4o-mini").request(1) != w1.request(1)
    reqs = [w1.request(i) for i in range(400)]
    assert 0.4 < sum(r.stream for r in reqs) / len(reqs) < 0.6
    assert {r.user for r in reqs} == {f"user-{i}" for i in range(7)}
    assert len({r.request_id for r in reqs}) == 400


def test_prompt_length_is_exact_under_the_harness_tokenizer() -> None:
    s = spec(prompt_tokens=137)
    req = Workload(s, 1, "gpt-4o-mini").request(0)
    assert count_messages((m.role, m.content) for m in req.messages) == 137
