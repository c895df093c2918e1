"""The provider core: sans-I/O, clock injected; one request in, one plan out, one record back.

``ProviderCore.handle(ProviderRequest)`` routes, authenticates, validates, tokenizes, asks the fault
sources, generates, and returns an :class:`Exchange` holding the :class:`~fake_provider.plan.Plan`. A
performer (the aiohttp app, or :mod:`fake_provider.memory`) carries the plan out and calls
:meth:`Exchange.finish` exactly once with what it delivered; that writes the request-log record, the
ledger entry (billing follows delivery) and the metrics.

The decision, step by step (each step may answer with an error plan in the provider's shape)::

    route (404) → method (405) → size (413) → key (401) → JSON (400) → fields (400) → model (404)
      → limits: max_tokens, context window, prefill (400) → fault sources → generate → plan

Example::

    core = ProviderCore(ProviderConfig(), clock=ManualClock())
    ex = core.handle(ProviderRequest("POST", "/v1/chat/completions", headers={"authorization": "Bearer k"},
                                     body=b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'))
    ex.plan.status  # 200
    ex.finish(Delivery(status=200, tokens_sent=ex.plan.body_tokens))
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from fake_provider import plans, responses
from fake_provider.accounting import Accounts
from fake_provider.config import ModelConfig, ProviderConfig
from fake_provider.context import CallContext
from fake_provider.fault import FaultSource, parse_fault_headers
from fake_provider.plan import Delivery, Plan
from fake_provider.textgen import TextGenerator, embedding_vector, request_digest
from harness.clock import Clock
from harness.records import ProviderRecord
from harness.tokenizer import count_messages
from harness.wire import anthropic, gemini, openai
from harness.wire.neutral import ChatCall, EmbeddingCall, RequestInvalid

__all__ = ["Exchange", "ProviderCore", "ProviderRequest"]

#: exact paths → (provider, api, method)
_ROUTES = {
    openai.CHAT_PATH: ("openai", "openai.chat", "POST"),
    openai.EMBEDDINGS_PATH: ("openai", "openai.embeddings", "POST"),
    openai.MODELS_PATH: ("openai", "openai.models", "GET"),
    anthropic.MESSAGES_PATH: ("anthropic", "anthropic.messages", "POST"),
}
_GEMINI_METHODS = {"generateContent": False, "streamGenerateContent": True}
_MODELS_CREATED = 1_700_000_000
_OWNER = {"openai": "openai", "anthropic": "anthropic", "gemini": "google"}
_MAX_LOGGED_MODEL = 200  # characters of a requested model name kept in the log


@dataclass(slots=True)  # not frozen: one per request/event on the hot path; treat as read-only
class ProviderRequest:
    """A request as the wire delivered it; ``headers`` answers lower-case names."""

    method: str
    path: str
    query: str = ""  # raw query string, without "?"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    body_truncated: bool = False  # the body exceeded the size limit and was not read in full


def _load_json(raw: bytes) -> Any:
    """``json.loads`` with a fast path for plain UTF-8 (other encodings JSON allows still work)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return json.loads(raw)
    return json.loads(text) if not text.startswith("\ufeff") else json.loads(raw)


class Exchange:
    """One planned attempt; call :meth:`finish` exactly once with what was delivered."""

    __slots__ = ("_core", "context", "plan", "record")

    def __init__(self, core: ProviderCore, context: CallContext, plan: Plan) -> None:
        self._core = core
        self.context = context  # what the core knew; read-only for performers
        self.plan = plan
        self.record: ProviderRecord | None = None  # set by finish

    @property
    def arrival(self) -> float:
        return self.context.arrival

    def finish(self, delivery: Delivery) -> ProviderRecord:
        if self.record is not None:
            raise RuntimeError(f"Exchange.finish called twice for request {self.context.request_id}")
        self.record = self._core.accounts.record(self.context, self.plan, delivery)
        return self.record


def _header_faults(ctx: CallContext) -> Any:
    return parse_fault_headers(ctx.headers)


class ProviderCore:
    """Routing, auth, validation, generation and accounting for the fake provider (no I/O)."""

    def __init__(
        self,
        config: ProviderConfig | None = None,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        seed: int | None = None,
    ) -> None:
        self.config = config = config or ProviderConfig()
        self.seed = config.seed if seed is None else seed
        self.clock = clock  # arrival times in the log are raw readings of this clock
        self.wall_clock = wall_clock
        self.models: dict[str, ModelConfig] = config.model_index()
        self.text = TextGenerator(self.seed)
        self.accounts = Accounts()  # the request log, the billing ledger and the metrics
        self.log = self.accounts.log
        self.ledger = self.accounts.ledger
        self.metrics = self.accounts.metrics
        #: asked in order, first fault wins; the seeded schedule is appended by the faults issue
        self.fault_sources: list[FaultSource] = [_header_faults] if config.allow_fault_headers else []
        self._serials = itertools.count(1)
        self._salt = f"{random.Random(f'ids:{self.seed}').getrandbits(48):012x}"
        self._key_hashes: dict[str, str] = {}
        self.started = clock()

    # ------------------------------------------------------------------------------------ decide
    def handle(self, request: ProviderRequest) -> Exchange:
        serial = f"{self._salt}{next(self._serials):08x}"
        headers = request.headers
        route = _ROUTES.get(request.path)
        provider, api, method = route if route is not None else self._other_route(request.path)
        rid = serial if provider == "gemini" else f"req_{serial}"
        ctx = CallContext(provider, api, self.clock(), self.wall_clock(), rid, serial, headers)
        ctx.client_id = headers.get("x-client-id")
        ctx.logical_id = headers.get("x-harness-request-id") or headers.get("idempotency-key")
        attempt = headers.get("x-stainless-retry-count") or headers.get("x-harness-attempt")
        if attempt is not None and attempt.isascii() and attempt.isdigit() and len(attempt) < 10:
            ctx.attempt = int(attempt)
        return Exchange(self, ctx, self._decide(request, ctx, method))

    def _other_route(self, path: str) -> tuple[str, str, str]:
        found = gemini.parse_route(path)
        if found is not None:
            return ("gemini", "gemini.generate", "POST") if found[1] in _GEMINI_METHODS else ("gemini", "unknown", "")
        if path.startswith(openai.MODELS_PATH + "/"):
            return "openai", "openai.model", "GET"
        guess = "anthropic" if "messages" in path else "gemini" if path.startswith("/v1beta") else "openai"
        return guess, "unknown", ""

    def _error(
        self, ctx: CallContext, status: int, message: str | None = None, code: str | None = None, **kw: Any
    ) -> Plan:
        plan, ctx.error_type = plans.error_plan(ctx.provider, status, ctx.request_id, message=message, code=code, **kw)
        return plan

    def _invalid(self, ctx: CallContext, exc: RequestInvalid, status: int = 400) -> Plan:
        plan, ctx.error_type = plans.invalid_plan(ctx.provider, exc, ctx.request_id, status)
        return plan

    def _decide(self, request: ProviderRequest, ctx: CallContext, method: str) -> Plan:
        provider = ctx.provider
        if not method:
            what = f"Invalid URL ({request.method[:10]} {request.path[:200]})"
            return self._error(ctx, 404, what, "unknown_url" if provider == "openai" else None)
        if request.method != method:
            return self._error(ctx, 405, f"Invalid method for URL ({request.method[:10]} {request.path[:200]})")
        limit = self.config.max_body_bytes
        if request.body_truncated or len(request.body) > limit:
            exc = RequestInvalid(None, f"Request body exceeds the limit of {limit} bytes", "request_too_large")
            return self._invalid(ctx, exc, 413)
        query = parse_qs(request.query) if request.query else {}
        denied = self._authenticate(request, ctx, query)
        if denied is not None:
            return denied
        if ctx.api == "openai.models":
            return self._models_plan(ctx)
        if ctx.api == "openai.model":
            return self._model_plan(ctx, request.path[len(openai.MODELS_PATH) + 1 :])
        try:
            body = _load_json(request.body)
        except (ValueError, RecursionError) as exc:
            return self._invalid(ctx, RequestInvalid(None, f"the body is not valid JSON ({type(exc).__name__})"))
        try:
            return self._decide_call(request, ctx, body, query)
        except RecursionError:
            return self._invalid(ctx, RequestInvalid(None, "the body is nested too deeply"))
        except RequestInvalid as exc:
            return self._invalid(ctx, exc)

    def _decide_call(self, request: ProviderRequest, ctx: CallContext, body: object, query: dict[str, Any]) -> Plan:
        provider, api = ctx.provider, ctx.api
        call: ChatCall | EmbeddingCall
        if api == "openai.chat":
            call = openai.parse_chat(body)
        elif api == "anthropic.messages":
            call = anthropic.parse_messages(body)
        elif api == "openai.embeddings":
            call = openai.parse_embeddings(body)
        else:
            model_name, gmethod = gemini.parse_route(request.path) or ("", "")
            ctx.stream = _GEMINI_METHODS[gmethod]
            if ctx.stream and query.get("alt", [""])[0] != "sse":
                raise RequestInvalid("alt", "the fake provider streams with alt=sse only")
            call = gemini.parse_generate(body, model_name, ctx.stream)
        ctx.call = call
        ctx.model_name = call.model[:_MAX_LOGGED_MODEL]
        model = self.models.get(call.model)
        embedding = isinstance(call, EmbeddingCall)
        if model is None or model.api != provider or (model.kind == "embedding") != embedding:
            return self._unknown_model(ctx, call.model, model is not None)
        ctx.model = model
        if isinstance(call, EmbeddingCall):
            ctx.prompt_tokens = sum(call.token_counts)
            return self._fault_or(ctx, request) or self._embeddings_plan(ctx, call, request.body)
        ctx.stream = call.stream
        ctx.prompt_tokens = prompt = count_messages(call.messages)
        rejected = self._check_limits(ctx, call, model, prompt)
        return rejected or self._fault_or(ctx, request) or self._chat_plan(ctx, call, model, prompt)

    def _authenticate(self, request: ProviderRequest, ctx: CallContext, query: dict[str, Any]) -> Plan | None:
        headers = request.headers
        key: str | None = None
        auth = headers.get("authorization")
        if auth is not None and auth[:7].lower() == "bearer ":
            key = auth[7:].strip()
        if ctx.provider == "anthropic":
            key = headers.get("x-api-key") or key
        elif ctx.provider == "gemini":
            key = headers.get(gemini.API_KEY_HEADER) or (query.get("key") or [None])[0] or key
        if not key:
            return self._error(ctx, 401, _MISSING_KEY[ctx.provider], code=_MISSING_CODE[ctx.provider])
        client = self._key_hashes.get(key)
        if client is None:
            if len(self._key_hashes) > 10_000:
                self._key_hashes.clear()  # bounded: fuzzers send endless keys
            client = self._key_hashes[key] = "key:" + request_digest(key)[:6].hex()
        ctx.client = client
        allowed = self.config.allowed_keys
        if allowed is not None and key not in allowed:
            if ctx.provider == "gemini":
                return self._error(ctx, 400, "API key not valid. Please pass a valid API key.")
            message = "Incorrect API key provided." if ctx.provider == "openai" else "invalid x-api-key"
            return self._error(ctx, 401, message)
        return None

    def _unknown_model(self, ctx: CallContext, name: str, wrong_kind: bool) -> Plan:
        shown = json.dumps(name[:100])
        if ctx.provider == "openai":
            if wrong_kind:
                message = f"The model {shown} is not supported on {ctx.api.split('.')[1]} endpoint."
            else:
                message = f"The model {shown} does not exist or you do not have access to it."
            return self._error(ctx, 404, message, "model_not_found")
        if ctx.provider == "anthropic":
            return self._error(ctx, 404, f"model: {name[:100]}")
        message = f"models/{name[:100]} is not found for API version v1beta, or is not supported for generateContent."
        return self._error(ctx, 404, message)

    def _check_limits(self, ctx: CallContext, call: ChatCall, model: ModelConfig, prompt: int) -> Plan | None:
        provider, window, max_tokens = ctx.provider, model.context_window, call.max_tokens
        if max_tokens is not None and max_tokens > model.max_output_tokens and provider != "gemini":
            cap = model.max_output_tokens
            if provider == "openai":
                message = (
                    f"max_tokens is too large: {max_tokens}. This model supports at most {cap} completion tokens, "
                    f"whereas you provided {max_tokens}."
                )
                return self._error(ctx, 400, message, "invalid_value", param="max_tokens")
            message = f"max_tokens: {max_tokens} > {cap}, which is the maximum allowed number of output tokens"
            return self._error(ctx, 400, message)
        asked = prompt + (max_tokens or 0)
        if prompt > window or asked > window:
            if provider == "openai":
                message = (
                    f"This model's maximum context length is {window} tokens. However, you requested {asked} "
                    f"tokens ({prompt} in the messages, {max_tokens or 0} in the completion). "
                    "Please reduce the length of the messages or completion."
                )
                return self._error(ctx, 400, message, "context_length_exceeded", param="messages")
            if provider == "anthropic":
                message = f"prompt is too long: {prompt} tokens > {window} maximum"
                if prompt <= window:
                    message = f"input length and `max_tokens` exceed context limit: {prompt} + {max_tokens} > {window}"
                return self._error(ctx, 400, message)
            message = f"The input token count ({prompt}) exceeds the maximum number of tokens allowed ({window})."
            return self._error(ctx, 400, message)
        if call.prefill and model.rejects_prefill:
            return self._error(ctx, 400, anthropic.PREFILL_MESSAGE)
        return None

    def _fault_or(self, ctx: CallContext, request: ProviderRequest) -> Plan | None:
        """The fault step: ask each source; an HTTP-level fault answers now, stream faults shape the plan."""
        for source in self.fault_sources:
            fault = source(ctx)
            if fault is not None:
                ctx.fault = fault
                break
        fault = ctx.fault
        if fault is None:
            return None
        if fault.transport is not None:
            return plans.transport_plan(fault)
        if fault.status is not None and (fault.error_after_tokens is None or not ctx.stream):
            ctx.retry_after_s = fault.retry_after_s
            return self._error(
                ctx,
                fault.status,
                fault.message,
                fault.code,
                retry_after_s=fault.retry_after_s,
                retry_unit=fault.retry_unit,
            )
        return None

    # ------------------------------------------------------------------------------------ generate
    def _draw(self, digest: bytes, attempt: int) -> tuple[float, float]:
        mixed = request_digest(digest, str(attempt))
        return int.from_bytes(mixed[:7], "big") / 2**56, int.from_bytes(mixed[8:15], "big") / 2**56

    def _latency(self, model: ModelConfig, digest: bytes, attempt: int) -> tuple[float, float]:
        if model.ttft.is_zero and model.inter_chunk.is_zero:
            return 0.0, 0.0
        u1, u2 = self._draw(digest, attempt)
        return model.ttft.at(u1), model.inter_chunk.at(u2)

    def _digest(self, provider: str, call: ChatCall) -> bytes:
        """The canonical request: seed, API, model, messages, max_tokens and stop (not stream, not headers)."""
        text = "\x1e".join([f"{role}\x1f{content}" for role, content in call.messages])
        key = f"{self.seed}\x1f{provider}\x1f{call.model}\x1f{call.max_tokens}\x1f{call.stop!r}\x1f{text}"
        return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest()

    def _chat_plan(self, ctx: CallContext, call: ChatCall, model: ModelConfig, prompt: int) -> Plan:
        digest = self._digest(ctx.provider, call)
        cap = min(call.max_tokens or model.max_output_tokens, model.max_output_tokens, model.context_window - prompt)
        answer = self.text.answer(digest, max(1, cap), model.output_tokens.at, call.stop)
        ttft, inter = self._latency(model, digest, ctx.attempt)
        ctx.billable = True
        return responses.chat_plan(ctx, answer, ttft, inter, int(ctx.wall))

    def _embeddings_plan(self, ctx: CallContext, call: EmbeddingCall, body: bytes) -> Plan:
        assert ctx.model is not None
        dims = call.dimensions or ctx.model.dimensions
        vectors = [
            embedding_vector(request_digest(str(self.seed), body, str(i)), dims) for i in range(len(call.token_counts))
        ]
        ttft, _ = self._latency(ctx.model, request_digest(body), ctx.attempt)
        ctx.billable = True
        return responses.embeddings_plan(ctx, vectors, call.base64, ttft)

    def _models_plan(self, ctx: CallContext) -> Plan:
        listed = [(m.name, _MODELS_CREATED, _OWNER[m.api]) for m in self.config.models if m.api == "openai"]
        return responses.json_plan(ctx, openai.models_body(listed))

    def _model_plan(self, ctx: CallContext, name: str) -> Plan:
        model = self.models.get(name)
        if model is None or model.api != "openai":
            return self._unknown_model(ctx, name, False)
        body = json.dumps({"id": name, "object": "model", "created": _MODELS_CREATED, "owned_by": "openai"})
        return responses.json_plan(ctx, body.encode())

    # ------------------------------------------------------------------------------------ control API
    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "seed": self.seed,
            "requests": len(self.log),
            "uptime_s": round(self.clock() - self.started, 3),
            "models": sorted(self.models),
            "allow_fault_headers": self.config.allow_fault_headers,
        }

    def requests_jsonl(self, since: int = 0, limit: int | None = None) -> str:
        return self.log.jsonl(since, limit)

    def ledger_dict(self, entries: bool = False) -> dict[str, Any]:
        return self.ledger.to_dict(entries)

    def metrics_text(self) -> str:
        return self.metrics.render()

    def reset(self) -> None:
        """Forget the log, the ledger and the metrics (a new run); ids keep counting."""
        self.accounts.clear()


_MISSING_KEY = {
    "openai": (
        "You didn't provide an API key. You need to provide your API key in an Authorization header using "
        "Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
    ),
    "anthropic": "x-api-key header is required",
    "gemini": "Method doesn't allow unregistered callers. Please use API Key or other form of API consumer identity.",
}
_MISSING_CODE: dict[str, str | None] = {
    "openai": None,
    "anthropic": "authentication_error",
    "gemini": "UNAUTHENTICATED",
}
