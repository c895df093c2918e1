"""Bulk draws equal ``random.Random``'s own calls: the workload's corpus is unchanged for every seed."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.runner import workload
from harness.seeded import choices


@given(seed=st.integers(0, 2**64), n=st.integers(0, 5000), size=st.integers(1, 3000))
@settings(max_examples=60, deadline=None)
def test_choices_equal_one_choice_at_a_time(seed: int, n: int, size: int) -> None:
    seq = list(range(size))
    rng = random.Random(seed)
    assert choices(random.Random(seed), seq, n) == [rng.choice(seq) for _ in range(n)]


@pytest.mark.parametrize("size", [1, 2, 3, 2**16, 2**31 + 1])
def test_choices_at_the_edges_of_a_power_of_two(size: int) -> None:
    seq = range(size)
    rng = random.Random(size)
    assert choices(random.Random(size), seq, 300) == [rng.choice(seq) for _ in range(300)]


def test_choices_refuses_an_empty_sequence() -> None:
    with pytest.raises(ValueError, match="seq"):
        choices(random.Random(1), [], 3)


@pytest.mark.parametrize("seed", [0, 1, 2721, 2**32 - 1])
def test_the_prompt_corpus_is_that_of_one_choice_per_word(seed: int) -> None:
    rng = random.Random(seed ^ 0xC0FFEE)
    words = [rng.choice(workload._WORDS) for _ in range(50_000)]
    assert workload._Corpus(seed).text == " ".join(words)
