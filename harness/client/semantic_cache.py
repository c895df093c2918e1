"""The semantic cache: a question asked again in other words is answered from the cache (off by default).

For each eligible request (temperature 0 unless configured otherwise; its last message is the user's)
the client embeds that last message through the provider's embeddings API (OpenAI ``/v1/embeddings``
or Gemini ``embedContent``), and looks for the most similar cached question of the same *scope*: the
same model asked for, the same earlier messages (system prompt, history), the same ``max_tokens``,
temperature, stop sequences, tools and output schema. A cosine at or above ``threshold`` is a hit:
the cached answer is returned with ``source = "semantic-cache"``, its similarity, the id of the
request it was cached from, no attempt and zero provider cost. Otherwise the request goes on to the
provider, and its answer (a plain text answer: no tool calls) is stored under the question's vector.

The embedding call is costed: its price (input tokens, counted by the harness tokenizer as the fake
provider counts them) goes to the client's cost ledger and budgets, and onto the outcome as
``embedding_cost_usd``. It carries the logical request's id, so the provider's log ties it to the
request. When the embedding call fails (an error status, a timeout, a budget refusal) the request is
simply a miss that is not stored: the cache never makes a request fail.

Entries live in memory (:class:`~harness.client.semantic_store.VectorIndex`) or, with ``backend =
"redis"``, in Redis shared by every process (:class:`~harness.client.semantic_store.RedisVectorStore`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from numpy.typing import NDArray

from harness.client.budget import Budgets
from harness.client.config import ClientConfig, ModelSpec
from harness.client.cost import Attribution, CostTracker
from harness.client.events import EventSink, PolicyEvent
from harness.client.logical import LogicalRequest
from harness.client.redis_support import RedisLink
from harness.client.routes import Route
from harness.client.semantic_config import SemanticCacheConfig
from harness.client.semantic_store import Entry, RedisVectorStore, VectorIndex
from harness.client.transport import HttpRequest, Transport
from harness.client.types import ChatRequest, ChatResponse
from harness.clock import Clock
from harness.errors import HarnessError
from harness.pricing import Usage
from harness.tokenizer import count_tokens
from harness.wire import gemini, openai

__all__ = ["Probe", "SemanticCache", "build_semantic_cache", "scope_of"]

_ZERO = Decimal(0)


def scope_of(request: ChatRequest) -> str:
    """What else two requests must share to answer each other (everything but the last message)."""
    parts = (
        request.model, request.messages[:-1], request.max_tokens, request.temperature, request.stop,
        request.tools, request.tool_choice, request.response_schema, request.json_mode, request.thinking_budget,
    )  # fmt: skip
    return hashlib.blake2b(repr(parts).encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


@dataclass(slots=True)
class Probe:
    """A lookup's result: the question's vector and scope, and the hit if there was one."""

    scope: str
    vector: NDArray[np.float32]
    hit: ChatResponse | None = None
    similarity: float | None = None


class SemanticCache:
    """Embeds questions, finds near ones, stores answers (module docstring)."""

    def __init__(
        self,
        config: SemanticCacheConfig,
        *,
        spec: ModelSpec,
        api_key: Callable[[], str],
        transport: Transport,
        cost: CostTracker,
        budgets: Budgets | None,
        clock: Clock,
        wall: Clock,
        on_event: EventSink,
        redis_link: Any = None,
        redis_name: str = "harness",
    ) -> None:
        self.config = config
        self.spec = spec  # base URL (and Gemini API version) of the embeddings calls
        self._api_key = api_key  # the key to send (read at call time: key rotation applies)
        self._transport = transport
        self._cost = cost
        self._budgets = budgets
        self._clock = clock
        self._wall = wall
        self._timeout_s = config.timeout_s
        self._on_event = on_event
        self.store: VectorIndex | RedisVectorStore
        if config.backend == "redis":
            assert redis_link is not None
            self.store = RedisVectorStore(redis_link, redis_name, config.max_entries, config.ttl_s)
        else:
            self.store = VectorIndex(config.max_entries, config.ttl_s)
        self.hits = 0
        self.misses = 0
        self.errors = 0  # embedding calls that failed (each a miss)

    def eligible(self, request: ChatRequest) -> bool:
        messages = request.messages
        if not messages or messages[-1].role != "user":
            return False
        return not self.config.temperature_zero_only or request.temperature == 0

    async def lookup(self, lr: LogicalRequest) -> Probe | None:
        """Embed the question and look for a near one; None when the embedding call failed."""
        request = lr.request
        if not self.eligible(request):
            return None
        vector = await self._embed(lr, request.messages[-1].content)
        if vector is None:
            return None
        probe = Probe(scope_of(request), vector)
        store = self.store
        found = (
            await store.nearest(probe.scope, vector, self._wall())
            if isinstance(store, RedisVectorStore)
            else store.nearest(probe.scope, vector, self._wall())
        )
        if found is not None and found[0] >= self.config.threshold:
            similarity, entry = found
            probe.hit, probe.similarity = _answer(entry.payload), round(similarity, 6)
            self.hits += 1
        else:
            self.misses += 1
        return probe

    async def remember(self, probe: Probe, response: ChatResponse) -> None:
        """Store a plain answer under the probe's question."""
        if response.tool_calls or response.source != "provider":
            return
        payload = {
            "text": response.text, "model": response.model, "provider": response.provider,
            "finish_reason": response.finish_reason, "input_tokens": response.usage.input_tokens,
            "output_tokens": response.usage.output_tokens, "from": response.request_id,
        }  # fmt: skip
        entry = Entry(probe.scope, self._wall(), payload)
        store = self.store
        if isinstance(store, RedisVectorStore):
            await store.add(probe.vector, entry)
        else:
            store.add(response.request_id, probe.vector, entry)

    # ------------------------------------------------------------------------------------ embeddings
    async def _embed(self, lr: LogicalRequest, text: str) -> NDArray[np.float32] | None:
        config = self.config
        tokens = count_tokens(text)
        attribution = Attribution(config.model, lr.request.user, lr.request.feature, "")
        held = None
        try:
            if self._budgets is not None:
                held = await self._budgets.reserve_async(self._cost.estimate(config.model, tokens, 0), attribution)
            async with asyncio.timeout(self._timeout_s):
                status, body = await self._send(self._request(lr, text))
        except (HarnessError, TimeoutError, OSError) as exc:
            await self._failed(held, type(exc).__name__)
            return None
        if status != 200:
            await self._failed(held, f"HTTP {status}")
            return None
        cost = self._charge(lr, attribution, tokens)  # an answer is billed, readable or not
        if held is not None and self._budgets is not None:
            await self._budgets.settle_async(held, cost)
        try:
            vector = _vector(config.provider, body)
        except (ValueError, KeyError, TypeError, IndexError):
            await self._failed(None, "unreadable embeddings body")
            return None
        norm = float(np.linalg.norm(vector))
        return vector / np.float32(norm) if norm > 0 else vector

    def _request(self, lr: LogicalRequest, text: str) -> HttpRequest:
        config, spec = self.config, self.spec
        key = self._api_key()
        extra: dict[str, Any]
        if config.provider == "openai":
            url = f"{spec.root_url}{openai.EMBEDDINGS_PATH}"
            headers = openai.auth_headers(key)
            extra = {"dimensions": config.dimensions} if config.dimensions else {}
            body = {"model": config.model, "input": text, "encoding_format": "base64", **extra}
        else:
            url = f"{spec.root_url}/{spec.api_version}/models/{config.model}:embedContent"
            headers = gemini.auth_headers(key)
            extra = {"outputDimensionality": config.dimensions} if config.dimensions else {}
            body = {"content": {"parts": [{"text": text}]}, **extra}
        headers = {**headers, "x-harness-request-id": lr.id}
        if lr.client_id is not None:
            headers["x-client-id"] = lr.client_id
        return HttpRequest("POST", url, headers, json.dumps(body).encode())

    async def _send(self, request: HttpRequest) -> tuple[int, bytes]:
        response = await self._transport.send(request)
        try:
            return response.status, await response.read()
        finally:
            await response.aclose()

    def _charge(self, lr: LogicalRequest, attribution: Attribution, tokens: int) -> Decimal:
        cost = self._cost.record_for(attribution, Usage(tokens, 0))
        lr.embedding_cost += cost
        return cost

    async def _failed(self, held: Any, reason: str) -> None:
        """A failed embeddings call: a miss (and an event); nothing is charged (the provider bills only answers)."""
        self.errors += 1
        self.misses += 1
        data = {"reason": f"embeddings call failed ({reason}): a miss"}
        self._on_event(PolicyEvent("semantic_cache.error", self.config.model, self._clock(), data))
        if held is not None and self._budgets is not None:
            await self._budgets.cancel_async(held)


def _vector(provider: str, body: bytes) -> NDArray[np.float32]:
    data = json.loads(body)
    if provider == "openai":
        value = data["data"][0]["embedding"]
        if isinstance(value, str):
            return np.frombuffer(base64.b64decode(value), dtype="<f4").astype(np.float32)
        return np.asarray(value, dtype=np.float32)
    return np.asarray(data["embedding"]["values"], dtype=np.float32)


def _answer(payload: dict[str, Any]) -> ChatResponse:
    usage = Usage(int(payload["input_tokens"]), int(payload["output_tokens"]))
    return ChatResponse(
        text=str(payload["text"]), model=str(payload["model"]), provider=str(payload["provider"]),
        finish_reason=payload.get("finish_reason"), usage=usage, cost_usd=_ZERO, request_id=str(payload["from"]),
    )  # fmt: skip


def build_semantic_cache(
    config: ClientConfig,
    *,
    routes: Mapping[str, Route],
    transport: Transport,
    cost: CostTracker,
    budgets: Budgets | None,
    clock: Clock,
    wall: Clock,
    on_event: EventSink,
    redis: Any,
) -> SemanticCache | None:
    """The client's semantic cache, or None when ``[client.semantic_cache]`` is absent."""
    semantic, spec = config.semantic_cache, config.embeddings_model()
    if semantic is None or spec is None:
        return None
    keys = routes[spec.name].keys
    link = None
    if semantic.backend == "redis":
        assert config.redis is not None
        assert redis is not None
        link = RedisLink(
            redis, clock=clock, fallback=config.redis.fallback, source="semantic_cache", kind="semantic_cache",
            on_event=on_event,
        )  # fmt: skip
    return SemanticCache(
        semantic, spec=spec, api_key=lambda: keys.current.secret, transport=transport, cost=cost, budgets=budgets,
        clock=clock, wall=wall, on_event=on_event, redis_link=link,
        redis_name=config.redis.name if config.redis is not None else "harness",
    )  # fmt: skip
