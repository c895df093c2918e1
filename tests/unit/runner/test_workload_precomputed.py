"""What :class:`Workload` works out once per scenario equals what it used to work out per request.

* a pick from a table whose last bound is infinite (``_bounded``) is :meth:`Workload._pick`'s, for any
  ``u`` in [0, 1), past a last cumulative weight rounded below 1 included;
* ``_Corpus.slice`` is the ``tokens`` words from the chosen position, joined by spaces (none for
  ``tokens`` ≤ 0, the whole corpus for more tokens than it has);
* a fixed ``max_tokens`` taken once (``_constant_int``) is what ``sample_int`` gives, and nothing else
  is taken once;
* the per-slot ``user`` and ``client_id`` strings are those of the slot, whichever request made them first;
* the draws of the optional shares, skipped as a whole when none is asked for, are those of record when any
  one of them is (``test_hot_path_equivalence`` holds none and all of them).
"""

from __future__ import annotations

import bisect
import random
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.distributions import Distribution
from harness.runner.workload import Workload, _bounded, _constant_int, _Corpus, _picker
from harness.scenario.load import LoadSpec
from tests.unit.test_hot_path_equivalence import _request_of_record

_weights = st.lists(
    st.tuples(st.sampled_from("abcdefgh"), st.floats(min_value=1e-6, max_value=1e6)), min_size=1, max_size=8
)
_unit = st.one_of(st.floats(min_value=0.0, max_value=1.0, exclude_max=True), st.just(1.0 - 2**-53))


@given(weights=_weights, us=st.lists(_unit, min_size=1, max_size=20))
@settings(max_examples=300, deadline=None)
def test_a_bounded_pick_is_the_pick_of_record(weights: list[tuple[str, float]], us: list[float]) -> None:
    table = _picker(tuple((f"{name}{i}", w) for i, (name, w) in enumerate(weights)))
    names, bounds = _bounded(table)
    for u in [*us, table[1][-1], *(c for c in table[1])]:
        if u < 1.0:
            assert names[bisect.bisect_right(bounds, u)] == Workload._pick(table, u)


def test_a_pick_past_a_last_weight_rounded_below_one_is_the_last_name() -> None:
    table = (("a", "b", "c"), (0.1, 0.5, 0.9999999))  # as accumulated weights can round
    names, bounds = _bounded(table)
    assert names[bisect.bisect_right(bounds, 0.99999995)] == Workload._pick(table, 0.99999995) == "c"


_SMALL = _Corpus(3, words=40)


@given(tokens=st.integers(-3, 60), u=_unit)
@settings(max_examples=400, deadline=None)
def test_a_corpus_slice_is_that_many_words_from_the_chosen_one(tokens: int, u: float) -> None:
    words = _SMALL.text.split(" ")
    taken = max(0, min(tokens, len(words)))
    first = int(u * (len(words) - taken + 1))
    assert _SMALL.slice(tokens, u) == " ".join(words[first : first + taken])


def test_a_fixed_value_is_taken_once_and_nothing_else_is() -> None:
    for value, minimum in [(128.0, 1), (0.0, 1), (2.5, 1), (3.5, 1), (7.0, 9)]:
        fixed = Distribution.fixed(value)
        assert _constant_int(fixed, minimum) == fixed.sample_int(random.Random(1), minimum)
    for drawn in [Distribution.uniform(1, 2), Distribution.lognormal(150, 1500), Distribution.choice([5.0])]:
        assert _constant_int(drawn, 1) is None


def test_slot_strings_are_the_slots_whichever_request_made_them_first() -> None:
    spec = replace(LoadSpec(), users_pool=4)
    work = Workload(spec, seed=9, default_model="gpt-4o-mini", client_id="fleet")
    for index, slot in [(0, 6), (1, 6), (2, 2), (3, 10), (4, None), (5, None), (6, 2)]:
        request = work.request(index, user_slot=slot)
        if slot is not None:
            assert (request.user, request.client_id) == (f"user-{slot % 4}", f"fleet-{slot}")
        else:
            assert request.user is not None
            assert request.client_id == f"fleet-{request.user.removeprefix('user-')}"  # a pool slot: < 4


_ONE_SHARE = {
    "questions": {"questions_share": 0.5, "questions": 4},
    "prefill": {"prefill_share": 0.5},
    "cached prefix": {"cached_prefix_share": 0.5},
    "tools": {"tools_share": 0.5},
    "structured": {"structured_share": 0.5},
    "prompts": {"prompts": (("support@v1", 1.0), ("support@v2", 1.0))},
}


@pytest.mark.parametrize("share", sorted(_ONE_SHARE))
def test_any_one_share_alone_draws_as_the_request_of_record(share: str) -> None:
    spec = replace(LoadSpec(), users_pool=3, **_ONE_SHARE[share])  # type: ignore[arg-type]
    fast, record = Workload(spec, 4, "gpt-4o-mini"), Workload(spec, 4, "gpt-4o-mini")
    for index in range(120):
        assert fast.request(index, user_slot=index % 5) == _request_of_record(record, index, index % 5)
