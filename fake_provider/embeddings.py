"""Embeddings that place paraphrases near each other: a deterministic scheme over a text's words.

A real embedding model puts "How do I cancel my order?" and "What's the way to call off my
purchase?" close together and "How do I track my order?" further away. The fake provider does the
same with a documented, seeded rule, so a semantic cache can be tested against it:

1. **terms** (:func:`terms`): the text lower-cased and split on anything that is not a letter or a
   digit; stop words (:data:`STOP_WORDS`: articles, pronouns, auxiliaries, question words, politeness)
   are dropped; each remaining word is mapped to its synonym class (:data:`SYNONYMS`: "purchase" →
   "order", "call off" → "cancel" …), else stemmed (a trailing "ing", "ed", "es" or "s" dropped when at
   least three letters remain, a doubled last letter undoubled when that names a class) and mapped
   again; each term counts once (a bag of terms, not a list);
2. **the vector**: the sum of one fixed Gaussian direction per term (seeded by the server's seed and
   the term), normalised, plus :data:`NOISE` times a Gaussian direction seeded by the whole text, and
   normalised again (L2): float32, little-endian on the wire.

So two texts with the same bag of terms (a paraphrase: other words of the same classes, another
order, stop words added or dropped) score a cosine of about ``1 / (1 + NOISE²)`` ≈ 0.978; the same
text scores exactly 1; two texts sharing ``k`` of ``m`` terms each score about ``k / m`` (directions of
different terms are nearly orthogonal in hundreds of dimensions); unrelated texts score about 0. A
text with no term left (only stop words) is embedded from its noise alone. Inputs given as token
arrays carry no words: they get a seeded random direction per input, as before.

Example::

    >>> a = embed_text(7, "How do I cancel my order?", 256)
    >>> b = embed_text(7, "What's the way to call off my purchase?", 256)
    >>> round(cosine(a, b), 2) >= 0.95
    True
"""

from __future__ import annotations

import functools
import hashlib
import re

import numpy as np
from numpy.typing import NDArray

__all__ = ["NOISE", "STOP_WORDS", "SYNONYMS", "cosine", "embed_text", "terms"]

#: the weight of the per-text noise direction (paraphrases score about 1 / (1 + NOISE²))
NOISE = 0.15

STOP_WORDS = frozenset(
    """a an the this that these those of to in on at by for from with about into onto as and or but
    i me my mine you your yours we us our it its he she they them their his her
    is are was were be been being am do does did doing done have has had can could will would shall should
    may might must need needs let lets s t m re ve ll d
    how what whats when where which who why way ways there here much many until
    please kindly just some any get got tell know want like possible able go going take takes
    kind kinds type types other another details information info customer""".split()
)

#: synonym classes: every word of a class maps to its first word (two-word phrases are joined first)
_CLASSES = (
    "cancel terminate call_off stop abort",
    "order purchase buy",
    "refund reimburse reimbursement money_back",
    "account profile",
    "password passcode passphrase",
    "change reset update modify",
    "delete remove erase close",
    "ship deliver delivery shipping dispatch send",
    "track trace follow",
    "package parcel shipment",
    "address location",
    "invoice receipt bill",
    "download export save",
    "price cost pricing fee charge",
    "plan subscription tier membership",
    "upgrade upgrade_to move_up",
    "email mail",
    "payment pay card",
    "return send_back",
    "item product article",
    "long time duration",
    "open hours opening",
    "contact reach",
    "support help helpdesk service",
)
SYNONYMS: dict[str, str] = {word: cls.split()[0] for cls in _CLASSES for word in cls.split()}
_PHRASES = tuple(sorted((w.replace("_", " ") for w in SYNONYMS if "_" in w), key=len, reverse=True))
_SPLIT = re.compile(r"[^a-z0-9]+")
_SUFFIXES = ("ing", "ed", "es", "s")


def _stem(word: str) -> str:
    """A trailing suffix dropped; a doubled last letter then undoubled when that names a class."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)]
            if stem not in SYNONYMS and stem[-1] == stem[-2] and stem[:-1] in SYNONYMS:
                return stem[:-1]  # "cancelled" → "cancel", "shipped" → "ship"
            return stem
    return word


def terms(text: str) -> tuple[str, ...]:
    """The text's bag of terms, sorted (see the module docstring)."""
    lowered = " ".join(_SPLIT.split(text.lower()))
    for phrase in _PHRASES:  # two-word synonyms become one word before splitting
        if phrase in lowered:
            lowered = re.sub(rf"\b{phrase}\b", phrase.replace(" ", "_"), lowered)
    bag = set()
    for word in lowered.split():
        if word in STOP_WORDS or not word:
            continue
        term = SYNONYMS.get(word)
        if term is None:
            stem = _stem(word)
            term = SYNONYMS.get(stem, stem)
        bag.add(term)
    return tuple(sorted(bag))


def _direction(seed: int, key: str, dimensions: int) -> NDArray[np.float64]:
    digest = hashlib.blake2b(f"{seed}\x1f{key}".encode("utf-8", "surrogatepass"), digest_size=16).digest()
    return np.random.default_rng(int.from_bytes(digest, "big")).standard_normal(dimensions)


@functools.lru_cache(maxsize=8192)
def _term_direction(seed: int, term: str, dimensions: int) -> NDArray[np.float64]:
    vector = _direction(seed, "term\x1f" + term, dimensions)
    vector.flags.writeable = False
    return vector


def _unit(vector: NDArray[np.float64]) -> NDArray[np.float64]:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def embed_text(seed: int, text: str, dimensions: int) -> bytes:
    """The unit vector of ``text`` as little-endian float32 bytes (the wire's base64 payload)."""
    noise = _unit(_direction(seed, "text\x1f" + text, dimensions))
    bag = terms(text)
    if bag:
        meaning = _unit(np.sum([_term_direction(seed, term, dimensions) for term in bag], axis=0))
        vector = _unit(meaning + NOISE * noise)
    else:
        vector = noise
    return vector.astype("<f4").tobytes()


def cosine(a: bytes, b: bytes) -> float:
    """The cosine of two vectors given as float32 bytes."""
    x, y = np.frombuffer(a, dtype="<f4"), np.frombuffer(b, dtype="<f4")
    denominator = float(np.linalg.norm(x) * np.linalg.norm(y))
    return float(np.dot(x, y)) / denominator if denominator else 0.0
