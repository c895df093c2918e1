"""Turning a ``[load]`` spec into concrete, seeded :class:`ChatRequest` objects.

Each request is a pure function of (seed, index): its prompt length, max_tokens, model, user, feature,
lane and streaming flag are drawn from a ``random.Random`` seeded with both, so the same scenario and
seed produce the same requests whatever order the run interleaves them in. Prompts are built from
words the harness tokenizer counts as one token each, so ``prompt_tokens`` is exact against the fake
provider (the chat template's own overhead is added on top, as real counters do).
"""

from __future__ import annotations

import _random
import bisect
import functools
import math
import random
from itertools import accumulate

from harness.client.fastinit import positional_maker
from harness.client.types import ChatRequest, Message, ResponseSchema, ToolSpec
from harness.distributions import Distribution
from harness.scenario.load import LoadSpec
from harness.scenario.questions import PHRASINGS, one_off_question, question_text
from harness.seeded import choices
from harness.tokenizer import MESSAGE_OVERHEAD, REPLY_PRIMING

__all__ = ["PREFILL", "Workload", "prompt_of"]

# short words, each exactly one harness token
_WORDS = (
    "the a of to and in is it for on was with as at by be this are or from an but not have all can "
    "were we if one so out up who do its two more no may time new like our over also most some many "
    "than them when what your how each way she which word each long make thing see him has look more "
    "day go come did part made find use work know call down get"
).split()
_WORDS = [w for w in _WORDS if len(w) <= 4]  # longer words would count as two tokens


#: ``random.Random.seed`` without its Python-level type checks (an int seed goes straight to this)
_reseed = _random.Random.seed
#: ChatRequest and Message from every field, positionally (harness.client.fastinit): half the cost
_make_request = positional_maker(ChatRequest)
_make_message = positional_maker(Message)
_bisect_right = bisect.bisect_right
#: the smallest prompt a request asks for, and what of it is the chat template's ("user" is one token)
_MIN_TOTAL = MESSAGE_OVERHEAD + REPLY_PRIMING + 2
_OVERHEAD = MESSAGE_OVERHEAD + REPLY_PRIMING + 1

#: the assistant prefill of requests that carry one (``prefill_share``)
PREFILL = Message("assistant", "Sure, here is")


def prompt_of(tokens: int, rng: random.Random) -> str:
    """Text of exactly ``tokens`` harness tokens."""
    return " ".join(rng.choice(_WORDS) for _ in range(max(0, tokens)))


class _Corpus:
    """A long seeded text of one-token words; a prompt is a slice of it (no per-word work per request)."""

    __slots__ = ("starts", "text", "words")

    def __init__(self, seed: int, words: int = 50_000) -> None:
        rng = random.Random(seed ^ 0xC0FFEE)
        chosen = choices(rng, _WORDS, words)  # [rng.choice(_WORDS) for _ in range(words)], in bulk
        self.text = " ".join(chosen)  # one space between words
        self.words = words
        starts = [0] * (words + 1)  # starts[i]: offset of word i; starts[words]: len(text) + 1
        offset = 0
        for i, word in enumerate(chosen):
            starts[i] = offset
            offset += len(word) + 1
        starts[words] = offset
        self.starts = starts

    def slice(self, tokens: int, u: float) -> str:
        """``tokens`` consecutive words starting at a position chosen by ``u`` ∈ [0, 1)."""
        words = self.words
        if tokens > words:
            tokens = words
        elif tokens <= 0:
            return ""
        first = int(u * (words - tokens + 1))
        starts = self.starts
        return self.text[starts[first] : starts[first + tokens] - 1]


@functools.lru_cache(maxsize=4)
def _corpus(seed: int) -> _Corpus:
    """The seed's corpus, built once: runs of one seed (a replay, an exploration shrinking) share it."""
    return _Corpus(seed)


#: the tool a ``tools_share`` of the load offers, and the schema a ``structured_share`` asks for
_ORDER = {"order_id": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{6}$"}, "include_items": {"type": "boolean"}}
LOOKUP_TOOL = ToolSpec(
    "lookup_order", {"type": "object", "properties": _ORDER, "required": ["order_id"]}, "Look an order up by its id"
)
_VERDICT = {
    "label": {"type": "string", "enum": ["ok", "spam", "abuse"]},
    "confidence": {"type": "number", "minimum": 0, "maximum": 1},
}
VERDICT_SCHEMA = ResponseSchema(
    "verdict",
    {"type": "object", "properties": _VERDICT, "required": ["label", "confidence"], "additionalProperties": False},
)


def _picker(weights: tuple[tuple[str, float], ...]) -> tuple[tuple[str, ...], tuple[float, ...]]:
    names = tuple(n for n, _ in weights)
    total = sum(w for _, w in weights)
    return names, tuple(c / total for c in accumulate(w for _, w in weights))


def _bounded(table: tuple[tuple[str, ...], tuple[float, ...]]) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """``table`` with its last bound made infinite: ``names[bisect_right(bounds, u)]`` is then
    :meth:`Workload._pick` for any finite ``u`` (past the last rounded bound, both give the last name)."""
    names, cumulative = table
    return names, (*cumulative[:-1], math.inf)


def _constant_int(dist: Distribution, minimum: int) -> int | None:
    """``dist.sample_int(rng, minimum)`` when it draws nothing (a fixed value), else None."""
    if dist.kind != "fixed":
        return None
    return dist.sample_int(random.Random(0), minimum)  # a fixed distribution does not touch the generator


class Workload:
    """Seeded request factory for one scenario."""

    def __init__(self, spec: LoadSpec, seed: int, default_model: str, client_id: str = "harness") -> None:
        self.spec = spec  # the [load] section
        self.seed = seed  # the scenario seed
        self.client_id = client_id  # x-client-id prefix
        self._models = _picker(spec.models or ((default_model, 1.0),))
        self._features = _picker(spec.features)
        self._prompts = _picker(spec.prompts) if spec.prompts else None
        self._corpus = _corpus(seed)
        self._shared: Message | None = None
        #: reseeded for each request (the same draws as a fresh ``random.Random((seed << 32) ^ …)``);
        #: nothing here calls ``gauss()``, so its spare value (``gauss_next``) stays None across reseeds
        self._rng = random.Random()
        self._seed_high = seed << 32
        # -- what every request shares, worked out once (request() draws the same values in the same order)
        self._model_names, self._model_bounds = _bounded(self._models)
        self._feature_names, self._feature_bounds = _bounded(self._features)
        self._max_tokens = _constant_int(spec.max_tokens, 1)  # None: drawn per request
        #: any of the shares drawn only when asked for (questions, prefill, cached prefix, tools, schema, prompts)
        self._extras = bool(
            spec.questions_share > 0
            or spec.prefill_share > 0
            or spec.cached_prefix_share > 0
            or spec.tools_share > 0
            or spec.structured_share > 0
            or self._prompts is not None
        )
        self._request_id_prefix = f"req-{seed}-"
        #: per user slot: its ``user`` ("user-<slot mod pool>") and ``client_id`` strings, made on first use
        self._slot_ids: dict[int, tuple[str, str]] = {}

    @staticmethod
    def _pick(table: tuple[tuple[str, ...], tuple[float, ...]], u: float) -> str:
        names, cumulative = table
        return names[min(bisect.bisect_right(cumulative, u), len(names) - 1)]

    def request(self, index: int, user_slot: int | None = None) -> ChatRequest:
        """The ``index``-th logical request (``user_slot``: the closed-loop user sending it)."""
        spec = self.spec
        rng = self._rng
        draw = rng.random
        _reseed(rng, self._seed_high ^ (index * 0x9E3779B1))  # what random.Random(…) does with an int
        # the prompt's content tokens: the wanted total minus the chat template's overhead
        content = spec.prompt_tokens.sample_int(rng, _MIN_TOTAL) - _OVERHEAD  # "user" is one token
        max_tokens = self._max_tokens
        if max_tokens is None:
            max_tokens = spec.max_tokens.sample_int(rng, 1)
        stream = draw() < spec.stream_share
        model = self._model_names[_bisect_right(self._model_bounds, draw())]
        feature = self._feature_names[_bisect_right(self._feature_bounds, draw())]
        slot = user_slot if user_slot is not None else rng.randrange(spec.users_pool)
        batch = draw() < spec.batch_share
        prompt = _make_message("user", self._corpus.slice(content, draw()), (), None, None, None)
        messages: tuple[Message, ...] = (prompt,)
        tools: tuple[ToolSpec, ...] = ()
        schema = None
        prompt_name = None
        if self._extras:  # drawn only when asked for, so scenarios without these shares keep their streams
            messages, tools, schema, prompt_name = self._extra_draws(rng, prompt)
        ids = self._slot_ids.get(slot)
        if ids is None:
            ids = self._slot_ids[slot] = (f"user-{slot % spec.users_pool}", f"{self.client_id}-{slot}")
        return _make_request(
            model, messages, max_tokens, 0.0, stream, (), ids[0], feature, "batch" if batch else "interactive",
            f"{self._request_id_prefix}{index}", ids[1], tools, None, schema, False, None, prompt_name,
        )  # fmt: skip

    def _extra_draws(
        self, rng: random.Random, prompt: Message
    ) -> tuple[tuple[Message, ...], tuple[ToolSpec, ...], ResponseSchema | None, str | None]:
        """The draws of the shares a scenario asks for, after the common ones: (messages, tools, schema, prompt)."""
        spec = self.spec
        if spec.questions_share > 0:
            u, question, phrasing = rng.random(), rng.randrange(spec.questions), rng.randrange(PHRASINGS)
            if u < spec.questions_share:
                prompt = Message("user", question_text(question, phrasing))
            else:
                prompt = Message("user", one_off_question(rng))
        prefill = spec.prefill_share > 0 and rng.random() < spec.prefill_share
        messages = (prompt, PREFILL) if prefill else (prompt,)
        tools: tuple[ToolSpec, ...] = ()
        schema = None
        prompt_name = None
        if spec.cached_prefix_share > 0 and rng.random() < spec.cached_prefix_share:
            messages = (self._prefix(), *messages)
        if spec.tools_share > 0 and rng.random() < spec.tools_share:
            tools = (LOOKUP_TOOL,)
        if spec.structured_share > 0 and rng.random() < spec.structured_share:
            # a JSON answer: no tool offered with it (the answer would be a call, never the JSON asked for)
            tools = ()
            schema = VERDICT_SCHEMA
        if self._prompts is not None:
            prompt_name = self._pick(self._prompts, rng.random())
        return messages, tools, schema, prompt_name

    def _prefix(self) -> Message:
        """The scenario's shared system prompt (a cache breakpoint after it for Anthropic)."""
        if self._shared is None:
            tokens = self.spec.cached_prefix_tokens - MESSAGE_OVERHEAD - 1  # "system" is one token … of two
            self._shared = Message("system", self._corpus.slice(max(1, tokens - 1), 0.0), cache_ttl="5m")
        return self._shared
