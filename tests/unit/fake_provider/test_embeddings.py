"""The fake provider's embeddings place paraphrases near each other, by a documented rule over the words."""

from __future__ import annotations

import base64
import itertools
import json
from array import array

import pytest

from fake_provider.config import ProviderConfig
from fake_provider.core import ProviderCore, ProviderRequest
from fake_provider.embeddings import NOISE, cosine, embed_text, terms
from harness.clock import ManualClock
from harness.scenario.questions import PHRASINGS, QUESTIONS, question_of, question_text
from harness.wire import openai

TEXTS = [(qid, text) for qid, texts in QUESTIONS for text in texts]


def test_every_question_has_its_wordings_and_one_bag_of_terms() -> None:
    assert len(QUESTIONS) == 20
    for qid, texts in QUESTIONS:
        assert len(set(texts)) == PHRASINGS, qid
        assert len(texts) == PHRASINGS, qid
        assert len({terms(t) for t in texts}) == 1, [(t, terms(t)) for t in texts]
        assert all(question_of(t) == qid for t in texts)
    assert question_text(0, 1) == QUESTIONS[0][1][1]
    assert question_of("not a pool question") is None


def test_terms_follow_the_documented_rule() -> None:
    assert terms("What's the way to call off my purchase?") == ("cancel", "order")
    assert terms("Cancelled orders!") == ("cancel", "order")  # stem, undoubled; plural dropped
    assert terms("Shipped parcels") == ("package", "ship")
    assert terms("How do I") == ()  # stop words only


@pytest.mark.parametrize("seed", [1, 2, 7])
@pytest.mark.parametrize("dims", [1536, 256])
def test_paraphrases_score_above_the_threshold_and_other_questions_below(seed: int, dims: int) -> None:
    vectors = {text: embed_text(seed, text, dims) for _, text in TEXTS}
    same, other = [], []
    for (q1, t1), (q2, t2) in itertools.combinations(TEXTS, 2):
        (same if q1 == q2 else other).append(cosine(vectors[t1], vectors[t2]))
    expected = 1 / (1 + NOISE**2)
    assert min(same) >= 0.95
    assert abs(sum(same) / len(same) - expected) < 0.01
    assert max(other) < 0.7  # near misses (one of two terms shared) score about 0.5
    assert sum(o > 0.4 for o in other) > 0  # … which a threshold set too low confuses


def test_vectors_are_unit_deterministic_and_seeded() -> None:
    a = embed_text(3, "How do I cancel my order?", 64)
    assert a == embed_text(3, "How do I cancel my order?", 64)
    assert cosine(a, a) == pytest.approx(1.0)
    assert sum(v * v for v in array("f", a)) == pytest.approx(1.0, abs=1e-5)
    assert a != embed_text(4, "How do I cancel my order?", 64)
    empty = embed_text(3, "how do I", 64)  # no term: the noise alone, still a unit vector
    assert sum(v * v for v in array("f", empty)) == pytest.approx(1.0, abs=1e-5)


def _core() -> ProviderCore:
    return ProviderCore(ProviderConfig(seed=5), clock=ManualClock(100.0), wall_clock=lambda: 1_795_000_000.0)


def _post(core: ProviderCore, path: str, body: object) -> object:
    headers = {"authorization": "Bearer k", "x-goog-api-key": "k", "content-type": "application/json"}
    ex = core.handle(ProviderRequest("POST", path, "", headers, json.dumps(body).encode()))
    assert ex.plan.status == 200, ex.plan.body
    return json.loads(ex.plan.body)


def test_the_openai_route_embeds_texts_by_the_scheme_and_token_arrays_at_random() -> None:
    core = _core()
    texts = ["How do I cancel my order?", "Can I cancel an order?", "How can I track my package?"]
    body = {"model": "text-embedding-3-small", "input": [*texts, [1, 2, 3]], "encoding_format": "base64"}
    data = _post(core, openai.EMBEDDINGS_PATH, body)
    assert isinstance(data, dict)
    vectors = [base64.b64decode(d["embedding"]) for d in data["data"]]
    assert vectors[:3] == [embed_text(core.config.seed, t, 1536) for t in texts]
    assert cosine(vectors[0], vectors[1]) > 0.95 > 0.3 > cosine(vectors[0], vectors[2])
    assert len(vectors[3]) == 1536 * 4
    assert vectors[3] not in vectors[:3]


def test_the_gemini_routes_embed_by_the_same_scheme() -> None:
    core = _core()
    one = _post(
        core, "/v1beta/models/gemini-embedding-001:embedContent", {"content": {"parts": [{"text": "Track order."}]}}
    )
    batch = {
        "requests": [
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": t}]}, "outputDimensionality": 128}
            for t in ("Track order.", "Is there a way to trace my order?")
        ]
    }
    many = _post(core, "/v1beta/models/gemini-embedding-001:batchEmbedContents", batch)
    assert isinstance(one, dict)
    assert isinstance(many, dict)
    single = array("f", one["embedding"]["values"]).tobytes()
    assert single == embed_text(core.config.seed, "Track order.", 3072)
    pair = [array("f", e["values"]).tobytes() for e in many["embeddings"]]
    assert cosine(pair[0], pair[1]) > 0.95


def test_one_off_questions_are_far_from_each_other_and_from_the_pool() -> None:
    import random

    from harness.scenario.questions import one_off_question

    rng = random.Random(1)
    texts = [one_off_question(rng) for _ in range(60)] + [t for _, t in TEXTS[::4]]
    vectors = [embed_text(2, t, 256) for t in texts]
    worst = max(cosine(a, b) for a, b in itertools.combinations(vectors, 2))
    assert worst < 0.6
