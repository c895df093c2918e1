"""A generated answer that is a slice of a plain corpus is quoted as it is (no JSON-string check per answer);
the flag must only ever be set on text whose JSON string is itself in quotes.

``Answer.plain`` comes from ``_Corpus.plain``, checked once per seed; ``chat_body(..., plain=True)`` and
``joined_texts(..., plain=True)`` then skip the check. Held here to ``json_string`` / the unchecked paths.
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from fake_provider.textgen import Answer, TextGenerator, _Corpus, _corpus
from harness.wire import openai_answers
from harness.wire.formats import json_string

PLAIN = st.text(st.characters(min_codepoint=32, max_codepoint=126, exclude_characters='"\\'), max_size=40)


@settings(max_examples=300, deadline=None)
@given(
    seed=st.sampled_from([0, 1, 7, 42, 2**31]),
    digest=st.binary(min_size=16, max_size=16),
    max_tokens=st.none() | st.integers(1, 400),
    natural=st.floats(1, 3000),
    stop=st.lists(st.sampled_from(["the", ".", "zz"]), max_size=1),
)
def test_a_plain_answer_is_its_own_json_string_in_quotes(
    seed: int, digest: bytes, max_tokens: int | None, natural: float, stop: list[str]
) -> None:
    answer = TextGenerator(seed).answer(digest, max_tokens, lambda u: natural, stop)
    if answer.plain:
        assert json_string(answer.text) == f'"{answer.text}"'
        assert json.loads(f'"{answer.text}"') == answer.text
    assert answer.plain == (not stop and _corpus(seed).plain)  # a stop sequence's answer is not checked: False


def test_a_corpus_is_plain_only_when_its_text_is() -> None:
    assert _corpus(7).plain
    for odd in (' say "hi"', " back\\slash", " naïve", " tab\there", " \x7f"):
        assert not _Corpus([" a", odd, " b"], [True, True, True]).plain, odd
    assert not Answer(["a"], "stop").plain  # built from pieces: never checked


@settings(max_examples=300, deadline=None)
@given(text=PLAIN, pieces=st.lists(PLAIN, max_size=12), model=st.text(max_size=8))
def test_plain_text_is_encoded_as_the_checked_path_encodes_it(text: str, pieces: list[str], model: str) -> None:
    checked = openai_answers.chat_body("chatcmpl-1", model, 3, text, "stop", 5, 7)
    assert openai_answers.chat_body("chatcmpl-1", model, 3, text, "stop", 5, 7, True) == checked
    enc = openai_answers.ChatStreamEncoder("chatcmpl-1", model, 3, False)
    record = b"".join(enc.text(p) for p in pieces)
    assert enc.joined_texts(pieces, "".join(pieces), True) == record
