"""The harness tokenizer's documented rule."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from harness.tokenizer import count_messages, count_tokens, count_tokens_memo


def test_documented_examples() -> None:
    assert count_tokens("Hello, world!") == 6
    assert count_tokens("") == 0
    assert count_tokens("   \n\t ") == 0
    assert count_tokens("abcdefgh") == 2
    assert count_tokens("héllo") == 3  # h, é, llo
    assert count_messages([("user", "Hello, world!")]) == 13


@given(st.lists(st.text(max_size=40), max_size=8))
def test_tokens_add_up_across_whitespace_joins(parts: list[str]) -> None:
    # joining pieces with whitespace never merges or splits tokens: stream deltas can be counted apart
    assert count_tokens(" ".join(parts)) == sum(count_tokens(p) for p in parts)


@given(st.lists(st.text(max_size=40), max_size=20))
def test_the_memo_counts_exactly_what_the_rule_counts(texts: list[str]) -> None:
    for text in texts + texts:  # the second pass is served from the memo
        assert count_tokens_memo(text) == count_tokens(text)


def test_the_memo_is_bounded() -> None:
    from harness import tokenizer

    big = "word " * 250_000  # 1.25 M characters
    for i in range(5):
        assert count_tokens_memo(big + str(i)) == 250_001
    assert tokenizer._COUNTED_CHARS[0] <= tokenizer._MAX_COUNTED_CHARS
    assert sum(len(t) for t in tokenizer._COUNTS) == tokenizer._COUNTED_CHARS[0]
