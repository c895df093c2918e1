"""Deterministic answers whose every piece is exactly one harness token.

Per seed, a corpus of pieces is built once: short lower-case words (1–4 ASCII letters, one token
each under :mod:`harness.tokenizer`) with a full stop or comma now and then (also one token). A
word piece carries its leading space, a punctuation piece does not, so pieces never merge: the
token count of any prefix of an answer is the number of pieces in it. That is what keeps the
usage fields, the stream usage, the request log and the billing ledger in exact agreement, also
for a stream cut after *k* chunks.

An answer is a slice of the corpus: its start and its natural length come from a hash of the
canonical request (the seed, the model, the messages, max_tokens, stop), so the same request and
seed give the same text, and different requests give different texts.

>>> gen = TextGenerator(seed=1)
>>> a = gen.answer(b"same request", max_tokens=5, natural=lambda u: 40)
>>> a.tokens, a.finish, a.text == gen.answer(b"same request", 5, lambda u: 40).text
(5, 'length', True)
"""

from __future__ import annotations

import functools
import hashlib
import random
from array import array
from collections.abc import Callable, Sequence
from itertools import accumulate

__all__ = ["WORDS", "Answer", "TextGenerator", "embedding_vector", "request_digest"]

# Short English words, none longer than four letters: each is a single harness token.
_WORD_TEXT = (
    "the of and to a in is it you that he was for on are as with his they I at be this have from or one had by "
    "word but not what all were we when your can said ther use an each she whic do how if will up "
    "othe out many then them thes so some her make like him into time has look two more writ go see "
    "no way coul peop my than firs been call who its now find long down day did get come made may part "
    "over new soun take only litt work know plac year live me back give most very aftr our just name good "
    "man thin say grea wher help thro much line righ too mean old any same tell boy foll came want show "
    "also arou form thre smal set put end does anot well larg must big even such beca turn here why ask "
    "went men read need land diff home us move try kind hand pict agai chan off play spel air away "
    "anim hous poin page lett moth answ foun stud stil lear shou amer worl high ever near add food betw "
    "own belo coun plan last scho fath keep tree nevr star city eart eyes ligh thou head unde stor saw "
    "left dont few whil alon migh clos some seem next hard open exam begi life alwa thos both pape toge "
    "got grou ofte run impo unti chil side feet car mile nigh walk whit sea bega grow took rivr four "
    "carr stat once book hear stop with firs idea fish moun nort once base hear hors cut sure watc colo "
    "face wood main enou plai girl usua youn read abov ever red list thou feel talk bird soon body dog "
    "fami dire pose leav song meas door prod blac shor numb clas wind ques happ comp ship area half rock "
    "ordr fire sout prob piec told knew pass sinc top whol king spac hear best hour bett true duri hund "
    "five reme step earl hold west grou inte reac fast verb sing list six tabl trav less morn ten simp "
    "seve towa war lay agai patt slow cent love pers mone serv appe road map rain rule gove pull cold "
    "noti voic unit powe town fine cert fly fall lead cry dark mach note wait plan figu star box noun "
    "fiel rest corr able poun done beau driv stoo cont fron teac week fina gave gree oh quic deve ocea "
    "warm free minu stro spec mind behi clea tail prod fact stre inch mult noth cour stay whee full forc "
    "blue obje deci surf deep moon isla foot syst busy test reco boat comm gold poss plan dry wond laug "
    "thou ago ran chec game shap equa hot miss brou heat snow tire brin yes dist fill east pain lang amon"
)
_WORDS = tuple(dict.fromkeys(_WORD_TEXT.split()))  # unique, order kept (the corpus depends on it)
WORDS = _WORDS  # one-token words: also what generated JSON strings are made of
_CORPUS_PIECES = 1 << 16


def request_digest(*parts: str | bytes) -> bytes:
    """A 16-byte digest of the canonical parts of a request (order matters)."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part)
        h.update(b"\x1f")
    return h.digest()


class Answer:
    """One generated answer (a plain slotted class: one is built per request).

    An answer that is a plain slice of the corpus keeps its text as one slice of the corpus string
    and builds its list of pieces only when asked (streams ask; plain answers need the text only).
    """

    __slots__ = ("_pieces", "_source", "_text", "finish", "plain", "stop_sequence", "tokens")

    def __init__(self, pieces: Sequence[str], finish: str, stop_sequence: str | None = None) -> None:
        self._pieces: Sequence[str] | None = pieces  # one token each (the first has no leading space)
        self._source: tuple[_Corpus, int] | None = None  # (corpus, start) of a lazy answer
        self._text: str | None = None
        #: the text is known to be printable ASCII without '"' or '\\' (its JSON string is itself in quotes):
        #: a slice of a plain corpus; False says only that it was not checked
        self.plain = False
        self.tokens = len(pieces)  # output tokens: the number of pieces
        self.finish = finish  # "stop" (natural end or stop sequence) or "length" (max_tokens hit)
        self.stop_sequence = stop_sequence  # the stop sequence that ended it, if one did

    @classmethod
    def _slice(cls, corpus: _Corpus, start: int, length: int, finish: str) -> Answer:
        """``length`` pieces of the corpus from ``start`` (a word piece), without building the pieces."""
        answer = cls.__new__(cls)
        answer._pieces = None
        answer._source = (corpus, start)
        offsets = corpus.offsets
        answer._text = corpus.text[offsets[start] + 1 : offsets[start + length]]  # + 1: drop the leading space
        answer.plain = corpus.plain
        answer.tokens = length
        answer.finish = finish
        answer.stop_sequence = None
        return answer

    @property
    def pieces(self) -> Sequence[str]:
        if self._pieces is None:
            assert self._source is not None
            corpus, start = self._source
            pieces = corpus.pieces[start : start + self.tokens]
            pieces[0] = pieces[0][1:]
            self._pieces = pieces
        return self._pieces

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = "".join(self.pieces)
        return self._text

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Answer):
            return NotImplemented
        return (self.pieces, self.finish, self.stop_sequence) == (other.pieces, other.finish, other.stop_sequence)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Answer(tokens={self.tokens}, finish={self.finish!r}, stop_sequence={self.stop_sequence!r})"


class _Corpus:
    """The per-seed corpus, doubled (so any slice up to its length is contiguous), as pieces and as one string."""

    __slots__ = ("is_word", "offsets", "pieces", "plain", "text")

    def __init__(self, pieces: list[str], is_word: list[bool]) -> None:
        self.pieces = pieces  # the doubled list of pieces
        self.is_word = is_word  # per piece of one copy: a word (with its leading space), not punctuation
        self.text = "".join(pieces)  # every piece, in order
        self.offsets = array("I", [0, *accumulate(map(len, pieces))])  # piece i is text[offsets[i]:offsets[i+1]]
        # checked once per seed, so that an answer's JSON string needs no check per answer (it is a slice)
        text = self.text
        self.plain = text.isascii() and text.isprintable() and '"' not in text and "\\" not in text


class TextGenerator:
    """Slices answers out of a per-seed corpus; build once per seed, call :meth:`answer` per request."""

    __slots__ = ("_corpus", "seed")

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._corpus = _corpus(seed)

    def answer(
        self,
        digest: bytes,
        max_tokens: int | None,
        natural: Callable[[float], float],
        stop: Sequence[str] = (),
    ) -> Answer:
        """The answer for a request ``digest``.

        ``natural(u)`` maps a uniform draw to the natural length (the model's output distribution);
        the answer is cut at ``max_tokens`` (finish "length") and at the first stop sequence.
        """
        u = int.from_bytes(digest[:7], "big") / float(1 << 56)
        start = int.from_bytes(digest[8:16], "big") % _CORPUS_PIECES
        corpus = self._corpus
        if not corpus.is_word[start]:
            start = (start + 1) % _CORPUS_PIECES
        length = max(1, round(natural(u)))
        finish = "stop"
        if max_tokens is not None and length >= max_tokens:
            length, finish = max_tokens, "length"
        if length <= _CORPUS_PIECES and not stop:
            return Answer._slice(corpus, start, length, finish)
        pieces = self._slice(start, length)
        pieces[0] = pieces[0][1:]
        if stop:
            return _apply_stop(pieces, finish, stop)
        return Answer(pieces, finish)

    def _slice(self, start: int, length: int) -> list[str]:
        corpus = self._corpus.pieces
        if length <= _CORPUS_PIECES:
            return corpus[start : start + length]
        out: list[str] = []
        while len(out) < length:
            take = min(_CORPUS_PIECES, length - len(out))
            out.extend(corpus[start : start + take])
            start = 0 if self._corpus.is_word[0] else 1
        return out


@functools.lru_cache(maxsize=8)
def _corpus(seed: int) -> _Corpus:
    """The per-seed corpus; built once per seed."""
    rng = random.Random(f"fake-provider-text:{seed}")
    pieces: list[str] = []
    since_stop = 0
    for _ in range(_CORPUS_PIECES):
        if since_stop >= 6 and rng.random() < 0.12:
            pieces.append("." if rng.random() < 0.7 else ",")
            since_stop = 0
        else:
            pieces.append(" " + rng.choice(_WORDS))
            since_stop += 1
    return _Corpus(pieces + pieces, [p[0] == " " for p in pieces])


def _apply_stop(pieces: list[str], finish: str, stop: Sequence[str]) -> Answer:
    text = "".join(pieces)
    cut, which = -1, None
    for s in stop:
        at = text.find(s)
        if at >= 0 and (cut < 0 or at < cut):
            cut, which = at, s
    if which is None:
        return Answer(pieces, finish)
    kept: list[str] = []
    end = 0
    for piece in pieces:
        end += len(piece)
        if end > cut:
            break
        kept.append(piece)
    return Answer(kept, "stop", which)


def embedding_vector(digest: bytes, dimensions: int) -> bytes:
    """A deterministic unit vector as little-endian float32 bytes (the wire's base64 payload)."""
    import numpy as np

    rng = np.random.default_rng(int.from_bytes(digest, "big"))
    vector = rng.standard_normal(dimensions).astype("<f4")
    norm = float(np.linalg.norm(vector)) or 1.0
    return (vector / np.float32(norm)).astype("<f4").tobytes()
