"""The tokenizer's ASCII count skips cutting runs of letters and digits when no run is five long or more; it must
count what the regex of record counts on prompt-sized texts too (``tests/unit/test_tokenizer.py`` holds it on
short ones): generated prose of one-token words, runs of four, five and more, punctuation and every kind of
whitespace, at any length.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.tokenizer import TOKEN_PATTERN, _count_ascii, count_tokens

PIECES = st.sampled_from(
    ["a", "the", "word", "abcd", "abcde", "x" * 9, "12345678", " ", "  ", ".", ",", "\t", "\n", "\x1f"]
)


@settings(max_examples=400, deadline=None)
@given(pieces=st.lists(PIECES, min_size=1, max_size=400), joiner=st.sampled_from([" ", "", "\n", ". "]))
def test_a_long_ascii_text_counts_as_the_regex_counts(pieces: list[str], joiner: str) -> None:
    text = joiner.join(pieces)
    if text:
        assert _count_ascii(text) == len(TOKEN_PATTERN.findall(text))
    assert count_tokens(text) == len(TOKEN_PATTERN.findall(text))


def test_runs_of_every_length_are_cut_every_four() -> None:
    for length in range(1, 30):
        for text in ("a" * length, f"x {'a' * length}", f"{'a' * length}.", f"{'b' * 4} {'a' * length} {'c' * 4}"):
            assert _count_ascii(text) == len(TOKEN_PATTERN.findall(text)), text
