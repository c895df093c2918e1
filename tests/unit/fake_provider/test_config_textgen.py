"""Provider configuration from TOML tables, and the deterministic text generator."""

from __future__ import annotations

import tomllib
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fake_provider.config import ModelConfig, ProviderConfig, default_models
from fake_provider.textgen import _WORDS, TextGenerator, embedding_vector, request_digest
from harness.catalogue import catalogue
from harness.errors import ConfigError
from harness.pricing import ModelPrice
from harness.tokenizer import count_tokens
from harness.validate import Table


def config(text: str) -> ProviderConfig:
    return ProviderConfig.from_table(Table(tomllib.loads(text).get("provider", {}), "provider"))


def test_defaults_are_the_catalogue_models_with_their_dated_ids_and_aliases() -> None:
    index = ProviderConfig().model_index()
    assert [m.name for m in default_models()] == [m.name for m in catalogue()]
    for alias, name in [
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("claude-sonnet-4-0", "claude-sonnet-4-20250514"),
        ("claude-3-5-haiku-latest", "claude-3-5-haiku-20241022"),
        ("claude-opus-4-1", "claude-opus-4-1-20250805"),
        ("claude-sonnet-4-5", "claude-sonnet-4-5-20250929"),
        ("gemini-2.5-flash-001", "gemini-2.5-flash"),
        ("gemini-flash-latest", "gemini-3.8-flash"),
    ]:
        assert index[alias] is index[name], alias
    for name in ["gpt-4.1-mini", "gpt-5-mini", "o3-mini", "gemini-2.0-flash", "gemini-2.5-pro"]:
        assert name in index
    assert "claude-sonnet-4" not in index  # not an id Anthropic serves
    sonnet = index["claude-sonnet-4-0"]
    assert (sonnet.api, sonnet.context_window, sonnet.max_output_tokens) == ("anthropic", 200_000, 64_000)
    assert (sonnet.price.input, sonnet.price.output, sonnet.price.cache_write) == (3, 15, Decimal("3.75"))
    mini = ProviderConfig().model_index()["gpt-4o-mini"]
    assert (mini.api, mini.price.input, mini.price.output) == ("openai", Decimal("0.15"), Decimal("0.60"))
    assert ProviderConfig().max_body_bytes == 4 * 1024 * 1024
    assert not ProviderConfig().allow_fault_headers


def test_a_table_overrides_a_default_model_and_declares_a_new_one() -> None:
    cfg = config(
        """
        [provider]
        seed = 7
        allowed_keys = ["sk-a", "sk-b"]
        allow_fault_headers = true
        max_body_bytes = 2048

        [[provider.models]]
        name = "gpt-4o-mini"
        ttft = { kind = "lognormal", median = 0.3, p99 = 2.0 }
        inter_chunk = 0.01

        [[provider.models]]
        name = "claude-no-prefill"
        api = "anthropic"
        price = { input = "3", output = 15, cached_input = 0.3 }
        context_window = 1000
        rejects_prefill = true
        aliases = ["claude-no-prefill-2026"]
        output_tokens = { kind = "choice", values = [5, 10] }
        """
    )
    assert (cfg.seed, cfg.allowed_keys, cfg.allow_fault_headers, cfg.max_body_bytes) == (
        7,
        frozenset({"sk-a", "sk-b"}),
        True,
        2048,
    )
    index = cfg.model_index()
    mini = index["gpt-4o-mini"]
    assert mini.ttft.median == pytest.approx(0.3)
    assert mini.inter_chunk.median == 0.01
    assert mini.price == ModelPrice.per_million("0.15", "0.60", "0.075")  # kept from the default
    new = index["claude-no-prefill-2026"]
    assert (new.name, new.api, new.context_window, new.rejects_prefill) == (
        "claude-no-prefill",
        "anthropic",
        1000,
        True,
    )
    assert new.price == ModelPrice.per_million(3, 15, "0.3")
    assert "gpt-4o" in index  # defaults stay unless default_models = false


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[provider]\nseed = 'x'", "provider.seed"),
        ("[provider]\nmax_body_bytes = 10", "provider.max_body_bytes"),
        ("[provider]\nallowed_keys = [1]", "provider.allowed_keys"),
        ("[provider]\nseeed = 1", "provider.seeed"),
        ("[provider]\ndefault_models = false", "provider.models"),
        ("[[provider.models]]\nname = 'x'\napi = 'openai'", "provider.models[0].price"),
        ("[[provider.models]]\nname = 'x'\napi = 'azure'\nprice = {input=1, output=1}", "provider.models[0].api"),
        ("[[provider.models]]\nname = 'gpt-4o'\nttft = -1", "provider.models[0].ttft"),
        (
            "[[provider.models]]\nname = 'gpt-4o'\nprice = {input = 'free', output = 1}",
            "provider.models[0].price.input",
        ),
        ("[[provider.models]]\nname = 'gpt-4o'\ncontext_windw = 5", "provider.models[0].context_windw"),
        (
            "[[provider.models]]\nname = 'e'\napi='anthropic'\nkind='embedding'\nprice={input=1,output=0}",
            "provider.models[0].kind",
        ),
        ("[[provider.models]]\nname = 'gpt-4o'\naliases = ['gpt-4o-mini']", "provider.models"),
    ],
)
def test_bad_tables_name_the_field(text: str, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        config(text)
    assert info.value.field == field


def test_with_models_replaces_by_name() -> None:
    custom = ModelConfig("gpt-4o", "openai", ModelPrice.per_million(1, 2), rejects_prefill=True)
    cfg = ProviderConfig().with_models(custom)
    assert cfg.model_index()["gpt-4o"] is custom
    assert len(cfg.models) == len(default_models())


def test_every_word_is_one_token() -> None:
    assert all(count_tokens(word) == 1 and word.isascii() and word.isalpha() for word in _WORDS)


@given(
    st.binary(min_size=16, max_size=16),
    st.integers(min_value=1, max_value=400),
    st.integers(min_value=1, max_value=500),
    st.integers(min_value=0, max_value=3),
)
def test_any_prefix_of_an_answer_counts_its_pieces(digest: bytes, natural: int, max_tokens: int, seed: int) -> None:
    gen = _generator(seed)
    answer = gen.answer(digest, max_tokens, lambda u: natural)
    assert answer.tokens == min(natural, max_tokens)
    assert answer.finish == ("length" if natural >= max_tokens else "stop")
    assert count_tokens(answer.text) == answer.tokens
    for k in (1, answer.tokens // 2, answer.tokens):
        assert count_tokens("".join(answer.pieces[:k])) == k
    assert not answer.text.startswith(" ")
    assert gen.answer(digest, max_tokens, lambda u: natural) == answer  # deterministic


_GENERATORS: dict[int, TextGenerator] = {}


def _generator(seed: int) -> TextGenerator:
    if seed not in _GENERATORS:
        _GENERATORS[seed] = TextGenerator(seed)
    return _GENERATORS[seed]


def test_seeds_and_requests_change_the_text() -> None:
    a = request_digest("seed", "hello")
    b = request_digest("seed", "hellp")
    assert _generator(0).answer(a, 30, lambda u: 30).text != _generator(0).answer(b, 30, lambda u: 30).text
    assert _generator(0).answer(a, 30, lambda u: 30).text != _generator(1).answer(a, 30, lambda u: 30).text


def test_the_natural_length_is_drawn_from_the_digest() -> None:
    lengths = {_generator(0).answer(request_digest(str(i)), None, lambda u: 1 + 100 * u).tokens for i in range(50)}
    assert len(lengths) > 20


def test_answers_longer_than_the_corpus_wrap_around() -> None:
    answer = _generator(0).answer(request_digest("long"), None, lambda u: 200_000)
    assert answer.tokens == 200_000
    assert count_tokens(answer.text) == 200_000


def test_stop_sequences_cut_at_piece_boundaries() -> None:
    gen = _generator(0)
    digest = request_digest("stop")
    full = gen.answer(digest, 60, lambda u: 60)
    stop = full.pieces[10] + full.pieces[11]
    cut = gen.answer(digest, 60, lambda u: 60, stop=(stop, "never-there"))
    assert (cut.finish, cut.stop_sequence) == ("stop", stop)
    assert cut.tokens <= 11
    assert stop not in cut.text
    assert count_tokens(cut.text) == cut.tokens


def test_embedding_vectors_are_deterministic_unit_vectors() -> None:
    import numpy as np

    v = np.frombuffer(embedding_vector(request_digest("x"), 64), dtype="<f4")
    assert v.shape == (64,)
    assert float(np.linalg.norm(v)) == pytest.approx(1.0, abs=1e-5)
    assert embedding_vector(request_digest("x"), 64) == embedding_vector(request_digest("x"), 64)
    assert embedding_vector(request_digest("x"), 64) != embedding_vector(request_digest("y"), 64)
