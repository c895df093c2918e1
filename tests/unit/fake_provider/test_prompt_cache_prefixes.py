"""The prompt cache's prefix digests from one string (``prompt_cache._prefixes``) are the digests of record
(``_prefixes_by_tokens``: the prompt's token list, joined stretch by stretch), on any prompt.

Prompts mix the fast case (single-spaced one-token words, as the load generator writes them) with every
case it must leave to the tokens: long words, punctuation, runs of spaces, leading or trailing spaces,
tabs, newlines and the other whitespace (\\x1c-\\x1f), non-ASCII, lone surrogates, tool definitions in the
head, several messages, and roles holding separators.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fake_provider import prompt_cache
from fake_provider.prompt_cache import MIN_TOKENS

WORDS = ["the", "a", "of", "is", "word", "many", "thing"]  # "thing": two tokens
ODD = st.sampled_from(["  ", " ", "\t", "\n", "\x1c", "\x1f", ",", "naïve", "日本", "\ud800", "x" * 9, "é"])


@st.composite
def prompt_texts(draw: st.DrawFn) -> str:
    rng = draw(st.randoms(use_true_random=False))
    text = " ".join(rng.choice(WORDS) for _ in range(draw(st.sampled_from([0, 3, 500, 1100, 1300, 2000]))))
    for _ in range(draw(st.integers(0, 3))):  # a few odd characters anywhere (or none: the fast case)
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(ODD) + text[at:]
    return text


@settings(max_examples=150, deadline=None)
@given(
    texts=st.lists(prompt_texts(), min_size=1, max_size=2),
    roles=st.lists(st.sampled_from(["user", "assistant", "system", "tool", "us\x1fer", ""]), min_size=3, max_size=3),
    head=st.sampled_from(["", "lookup_order order_id string", 'tool: {"x": 1}']),
)
def test_prefix_digests_are_those_of_the_token_list(texts: list[str], roles: list[str], head: str) -> None:
    messages = list(zip(roles, texts, strict=False))
    assert prompt_cache._prefixes(messages, head) == prompt_cache._prefixes_by_tokens(messages, head)


def test_a_generated_long_prompt_takes_the_one_string_path_and_has_its_prefixes() -> None:
    text = " ".join(["the", "a", "word"] * 700)  # 2,100 tokens
    runs: list[str] = []
    assert prompt_cache._add_run(runs, text) == 2100
    assert runs == [text.replace(" ", "\x1f") + "\x1f"]
    found = prompt_cache._prefixes([("user", text)], "")
    assert [k for k, _ in found] == list(range(MIN_TOKENS, 2100 + 3 + 1 + 1, 128))
    assert found == prompt_cache._prefixes_by_tokens([("user", text)], "")


@settings(max_examples=1500, deadline=None)
@given(
    pieces=st.lists(st.sampled_from(["a", "bc", "word", "thing", " ", "  ", ",", "\t", "\n", "\x1f", "é", "\ud800"]))
)
def test_a_texts_run_is_its_tokens_each_followed_by_the_separator(pieces: list[str]) -> None:
    """Short texts, where spacing and token counts can make up for each other ("a  b," has as many spaces
    plus one as tokens): the run is the record's tokens whatever the text."""
    text = "".join(pieces)
    runs: list[str] = []
    count = prompt_cache._add_run(runs, text)
    tokens = prompt_cache._tokens(text)
    assert count == len(tokens)
    assert "".join(runs) == "".join(token + "\x1f" for token in tokens)
