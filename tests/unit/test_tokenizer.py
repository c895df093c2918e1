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


def _by_the_regex(text: str) -> int:
    """The rule of record: one regex match per token."""
    from harness.tokenizer import TOKEN_PATTERN

    return len(TOKEN_PATTERN.findall(text))


_ASCII_MIX = st.text(
    alphabet=st.sampled_from("aZ09 \t\n\r\x0b\x0c\x1c\x1f\x00\x7f.,;'\"-_!~"), max_size=60
)  # every class of character, runs of letters and digits of any length


@given(st.one_of(_ASCII_MIX, st.text(max_size=60), st.from_regex(r"([a-z0-9]{1,12}[ .,]{0,3}){0,20}")))
def test_ascii_counting_is_the_regex(text: str) -> None:
    # the ASCII path (translate and count) against the regex, on ASCII and on any text (the fallback)
    assert count_tokens(text) == _by_the_regex(text)


def test_ascii_counting_edges() -> None:
    for text in ("a", "abcd", "abcde", "a" * 17, " a", "a ", ".", "..a..", "ab.cdefghij k", "\x1f\x1c", "\x00"):
        assert count_tokens(text) == _by_the_regex(text), text
    for code in range(128):  # every ASCII character alone, doubled and beside a word
        for text in (chr(code), chr(code) * 2, f"ab{chr(code)}cdefg", f"{chr(code)}abcd"):
            assert count_tokens(text) == _by_the_regex(text), repr(text)
