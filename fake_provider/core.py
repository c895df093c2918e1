"""The provider core: sans-I/O, clock injected; one request in, one plan out, one record back.

``ProviderCore.handle(ProviderRequest)`` routes, authenticates, validates, tokenizes, admits (quotas),
asks the fault sources, generates, and returns an :class:`Exchange` holding the
:class:`~fake_provider.plan.Plan`. A performer (the aiohttp app, or :mod:`fake_provider.memory`)
carries the plan out and calls :meth:`Exchange.settle` exactly once with what it delivered; that
releases the request's quotas and writes the request log (billing and metrics follow from it).

The decision, step by step (each step may answer with an error plan in the provider's shape)::

    route (404) → method (405) → size (413) → key (401) → JSON (400) → fields (400) → model (404)
      → limits: max_tokens, context window, prefill (400)
      → quotas: in flight, spend cap, rpm / tpm / itpm / otpm (429 …)
      → faults: test headers, then the schedule (errors, transport faults; latency and stream shape)
      → generate → plan

Example::

    core = ProviderCore(ProviderConfig(), clock=ManualClock())
    ex = core.handle(ProviderRequest("POST", "/v1/chat/completions", headers={"authorization": "Bearer k"},
                                     body=b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'))
    ex.plan.status  # 200
    ex.finish(Delivery(status=200, tokens_sent=ex.plan.body_tokens))
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs

from fake_provider import admission, listing, plans, prompt_cache, rejections
from fake_provider.accounting import Accounts
from fake_provider.config import ModelConfig, ProviderConfig, unknown_model
from fake_provider.context import CallContext, FaultSource
from fake_provider.exchange import Exchange, ProviderRequest, count_prompt, load_json
from fake_provider.fault import Fault, merge_faults, parse_fault_headers
from fake_provider.fault_spec import key_label
from fake_provider.generation import Generator
from fake_provider.plan import Delivery, Plan
from fake_provider.quotas import QuotaBook
from fake_provider.responses import json_plan
from fake_provider.schedule import FaultSchedule
from fake_provider.shape_faults import drop_from_plan
from fake_provider.tiers import TierBook, exhausted, header_names, merge_headers
from harness.clock import Clock
from harness.tokenizer import count_tokens
from harness.wire import (
    anthropic,
    anthropic_models,
    gemini,
    gemini_models,
    openai,
    openai_limits,
    openai_requests,
    openai_responses,
)
from harness.wire.formats import format_http_date
from harness.wire.neutral import ChatCall, EmbeddingCall, RequestInvalid

__all__ = ["Exchange", "ProviderCore", "ProviderRequest"]

#: exact paths → (provider, api, method)
_ROUTES = {
    openai.CHAT_PATH: ("openai", "openai.chat", "POST"),
    openai.EMBEDDINGS_PATH: ("openai", "openai.embeddings", "POST"),
    openai.MODELS_PATH: ("openai", "openai.models", "GET"),
    openai_responses.RESPONSES_PATH: ("openai", "openai.responses", "POST"),
    anthropic_models.COUNT_TOKENS_PATH: ("anthropic", "anthropic.count_tokens", "POST"),
    anthropic.MESSAGES_PATH: ("anthropic", "anthropic.messages", "POST"),
}
#: a Gemini model method → (api, HTTP method)
_GEMINI_METHODS = {
    "generateContent": "gemini.generate",
    "streamGenerateContent": "gemini.generate",
    "countTokens": "gemini.count_tokens",
    "embedContent": "gemini.embed",
    "batchEmbedContents": "gemini.batch_embed",
}
#: the routes that describe models (listed, never faulted, limited or billed)
_MODEL_ROUTES = frozenset(
    ("openai.models", "openai.model", "anthropic.models", "anthropic.model", "gemini.models", "gemini.model")
)
#: the model routes of a path several APIs share (whose they are is told by the credentials: _models_owner)
_SHARED_MODEL_ROUTES = frozenset(("openai.models", "openai.model", "gemini.models", "gemini.model"))
_MAX_LOGGED_MODEL = 200  # characters of a requested model name kept in the log
_RATE_LIMIT_REQUESTS = 60  # the requests limit a scheduled 429 reports when no quota is configured
_MAX_ADOPTED = 10_000  # undeclared model names remembered (accept_unknown_models; the 404 hints)
_log = logging.getLogger("fake_provider.models")


def _models_owner(api: str, headers: Mapping[str, str], query: str) -> tuple[str, str]:
    """Whose ``/v1/models[/{id}]`` a request means, by its credentials: Gemini's key header or ``?key=``,
    Anthropic's ``x-api-key`` or ``anthropic-version``, else OpenAI's (the path alone cannot tell)."""
    kind = "models" if api.endswith("models") else "model"
    if gemini.API_KEY_HEADER in headers or "key=" in query:
        return "gemini", f"gemini.{kind}"
    if anthropic_models.is_anthropic_request(headers):
        return "anthropic", f"anthropic.{kind}"
    return "openai", f"openai.{kind}"


def _header_faults(ctx: CallContext) -> Fault | None:
    return parse_fault_headers(ctx.headers)


def _shaped(plan: Plan, fault: Fault | None) -> Plan:
    """``plan`` less the headers and fields a ``drop`` fault leaves out."""
    if fault is None or not (fault.drop_headers or fault.drop_fields):
        return plan
    return drop_from_plan(plan, fault.drop_headers, fault.drop_fields)


class ProviderCore:
    """Routing, auth, validation, quotas, faults, generation and accounting for the fake provider (no I/O)."""

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
        self.generator = Generator(self.seed)
        self.text = self.generator.text
        # the request log, the billing ledger and the metrics
        self.accounts = Accounts({m.name: m.price for m in config.models})
        self.log = self.accounts.log
        self.ledger = self.accounts.ledger
        self.metrics = self.accounts.metrics
        self.schedule: FaultSchedule = config.faults  # replaced by POST /_fake/faults
        #: the documented tier's rate-limit headers on every answer (fake_provider.tiers); None: quotas' only
        self.tiers = TierBook(clock()) if config.rate_limit_headers else None
        quotas = config.quotas
        if quotas is not None and quotas.models:  # limits named by an alias apply to the model it reaches
            named = tuple((self.models[n].name if n in self.models else n, lim) for n, lim in quotas.models)
            quotas = replace(quotas, models=named)
        self.quotas = QuotaBook(quotas) if quotas is not None and quotas.enabled else None
        #: asked in order; the first failure wins, latencies add up (see fake_provider.fault.merge_faults)
        self.fault_sources: list[FaultSource] = [_header_faults] if config.allow_fault_headers else []
        self.fault_sources.append(self._scheduled)
        self.in_flight = 0  # exchanges handed out and not yet settled
        self.prompt_cache = prompt_cache.PromptCache()
        self._key_labels: dict[str, str] = {}
        self._adopted: dict[tuple[str, bool, str], ModelConfig] = {}  # accept_unknown_models: (api, embedding, name)
        self._hinted: set[str] = set()  # unknown model names the log already explained
        self._tier_named: dict[tuple[str, str], bool] = {}  # (provider, model) → the quotas name the tier's headers
        self._run = 0  # runs since start (POST /_fake/reset starts a new one)
        self._arrivals = 0  # requests of this run; the schedule's draws and the request ids use it
        self._salt = self._run_salt()
        self.started = self.run_started = clock()  # the run's start: fault windows are relative to it

    def _run_salt(self) -> str:
        """The unique part of this run's request ids (the arrival number follows it, 8 hex digits)."""
        return f"{random.Random(f'ids:{self.seed}:{self._run}').getrandbits(48):012x}"

    # ------------------------------------------------------------------------------------ decide
    def handle(self, request: ProviderRequest) -> Exchange:
        self._arrivals = arrival = self._arrivals + 1
        serial = f"{self._salt}{arrival:08x}"
        headers = request.headers
        route = _ROUTES.get(request.path)
        provider, api, method = route if route is not None else self._other_route(request.path, headers)
        if api in _SHARED_MODEL_ROUTES and (api[0] == "o" or request.path[:4] == "/v1/"):
            provider, api = _models_owner(api, headers, request.query)  # three APIs share /v1/models
        rid = serial if provider == "gemini" else f"req_{serial}"
        ctx = CallContext(provider, api, self.clock(), self.wall_clock(), rid, serial, headers)
        ctx.arrival_number = arrival
        ctx.client_id = headers.get("x-client-id")
        ctx.logical_id = headers.get("x-harness-request-id") or headers.get("idempotency-key")
        attempt = headers.get("x-stainless-retry-count") or headers.get("x-harness-attempt")
        if attempt is not None and attempt.isascii() and attempt.isdigit() and len(attempt) < 10:
            ctx.attempt = int(attempt)
        self.in_flight += 1
        plan = self._decide(request, ctx, method)
        if plan.status == 429:
            plan = exhausted(ctx, plan)
        return Exchange(self, ctx, plan)

    def _other_route(self, path: str, headers: Mapping[str, str]) -> tuple[str, str, str]:
        found = gemini.parse_route(path)
        if found is not None:
            api = _GEMINI_METHODS.get(found[1])
            return ("gemini", api, "POST") if api is not None else ("gemini", "unknown", "")
        if path.startswith(openai.MODELS_PATH + "/") and "/" not in path[len(openai.MODELS_PATH) + 1 :]:
            return "openai", "openai.model", "GET"
        listed = gemini_models.parse_models_path(path)
        if listed is not None:
            return "gemini", "gemini.models" if listed[1] is None else "gemini.model", "GET"
        # an unknown route answers in the shape of the API the request's path or headers point to
        if "messages" in path or anthropic_models.is_anthropic_request(headers):
            return "anthropic", "unknown", ""
        if path.startswith("/v1beta") or "x-goog-api-key" in headers:
            return "gemini", "unknown", ""
        return "openai", "unknown", ""

    def _untouched_tier(self, ctx: CallContext) -> None:
        """Put the key's untouched tier's headers on an answer given before the request was counted in its tier
        (an unknown model, an invalid body, a model listing …). Built here, not on arrival: most requests are
        counted, and answer with the headers of the tier they were counted in."""
        if ctx.untouched_tier:
            assert self.tiers is not None
            ctx.untouched_tier = False
            ctx.extra_headers = self.tiers.headers(ctx.provider, ctx.client, "", ctx.arrival, ctx.wall)

    def _error(
        self, ctx: CallContext, status: int, message: str | None = None, code: str | None = None, **kw: Any
    ) -> Plan:
        self._untouched_tier(ctx)
        plan, ctx.error_type = plans.error_plan(
            ctx.provider, status, ctx.request_id, message=message, code=code, extra_headers=ctx.extra_headers, **kw
        )
        return plan

    def _invalid(self, ctx: CallContext, exc: RequestInvalid, status: int = 400) -> Plan:
        self._untouched_tier(ctx)
        plan, ctx.error_type = plans.invalid_plan(ctx.provider, exc, ctx.request_id, status)
        return replace(plan, headers=(*plan.headers, *ctx.extra_headers)) if ctx.extra_headers else plan

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
        if self.tiers is not None:  # answers before a model is known report the key's untouched tier
            self.tiers.touch(ctx.client, "", ctx.arrival)
            ctx.untouched_tier = True  # its headers are built by the answer that needs them (_untouched_tier)
        if ctx.api in _MODEL_ROUTES:
            return self._model_route(request, ctx, query)
        try:
            body = load_json(request.body)
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
            call = openai_requests.parse_chat(body)
        elif api == "openai.responses":
            call = openai_responses.parse_responses(body)
        elif api == "anthropic.messages":
            call = anthropic.parse_messages(body)
        elif api == "openai.embeddings":
            call = openai_requests.parse_embeddings(body)
        elif api == "anthropic.count_tokens":
            return self._count_tokens(ctx, anthropic.parse_messages(body, count_only=True))
        else:
            model_name, gmethod = gemini.parse_route(request.path) or ("", "")
            if api == "gemini.count_tokens":
                inner = gemini_models.token_count_request(body)
                return self._count_tokens(ctx, gemini.parse_generate(inner, model_name, False))
            if api != "gemini.generate":
                embed = gemini_models.parse_embed(body, model_name, api == "gemini.batch_embed")
                counts = tuple(count_tokens(t) for t in embed.texts)
                call = EmbeddingCall(model_name, counts, False, embed.dimensions, embed.texts)
            else:
                ctx.stream = gmethod == "streamGenerateContent"
                if ctx.stream and query.get("alt", [""])[0] != "sse":
                    raise RequestInvalid("alt", "the fake provider streams with alt=sse only")
                call = gemini.parse_generate(body, model_name, ctx.stream)
        ctx.call = call
        ctx.model_name = call.model[:_MAX_LOGGED_MODEL]
        model = self.models.get(call.model)
        embedding = type(call) is EmbeddingCall
        if model is None or model.api != provider or (model.kind == "embedding") != embedding:
            adopted = self._adopt(provider, embedding, call.model) if model is None else None
            if adopted is None:
                self._hint_unknown(provider, call.model, model is not None)
                status, message, code = rejections.unknown_model(provider, api, call.model, model is not None)
                return self._error(ctx, status, message, code)
            model = adopted
        ctx.model = model
        if isinstance(call, EmbeddingCall):
            ctx.prompt_tokens = sum(call.token_counts)
        else:
            ctx.stream = call.stream
            ctx.prompt_tokens = prompt = count_prompt(call.messages) + (call.extras.prompt_tokens if call.extras else 0)
            refused = rejections.limit_refusal(
                provider, call.max_tokens, model.max_output_tokens, prompt, model.context_window
            )
            if refused is not None:
                status, message, code, param = refused
                return self._error(ctx, status, message, code, param=param)
            if call.prefill and model.rejects_prefill:
                return self._error(ctx, 400, anthropic.PREFILL_MESSAGE)
        if self.tiers is not None:
            self._count_tier(ctx, call, model)
        if self.quotas is not None:
            tier_headers = ctx.extra_headers
            refusal = self._admit(ctx, call, model)
            if tier_headers:  # the tier's families for the limits the quotas leave out
                ctx.extra_headers = merge_headers(ctx.extra_headers, tier_headers)
            if refusal is not None:
                return replace(refusal, headers=merge_headers(refusal.headers, tier_headers))
        fault: Fault | None = None
        for source in self.fault_sources:
            found = source(ctx)  # a source sees the faults merged so far in ctx.fault
            if found is not None:
                ctx.fault = fault = merge_faults(fault, found)
        if fault is not None:
            failed = self._fault_plan(ctx, fault)
            if failed is not None:
                return _shaped(failed, fault)
        if isinstance(call, EmbeddingCall):
            return _shaped(self.generator.embeddings_plan(ctx, call, request.body), fault)
        self._use_cache(ctx, call, model)
        return _shaped(self.generator.chat_plan(ctx, call, model), fault)

    def _model_route(self, request: ProviderRequest, ctx: CallContext, query: dict[str, Any]) -> Plan:
        """A models list or lookup (an unknown model is the provider's 404; a bad page parameter its 400)."""
        api = ctx.api
        name: str | None = None
        if api == "openai.model" or api == "anthropic.model" or api == "gemini.model":
            name = request.path.split("/", 3)[3]
        found = listing.model_route(api, self.config.models, self.models, name, query)
        if isinstance(found, bytes):
            self._untouched_tier(ctx)
            return json_plan(ctx, found)
        status, message, code = found
        return self._error(ctx, status, message, code)

    def _count_tokens(self, ctx: CallContext, call: ChatCall) -> Plan:
        """Anthropic's count_tokens and Gemini's countTokens: the prompt as a call would count it; not billed."""
        ctx.model_name = call.model[:_MAX_LOGGED_MODEL]
        model = self.models.get(call.model)
        if model is None or model.api != ctx.provider or model.kind != "chat":
            self._hint_unknown(ctx.provider, call.model, model is not None)
            status, message, code = rejections.unknown_model(ctx.provider, ctx.api, call.model, model is not None)
            return self._error(ctx, status, message, code)
        ctx.model = model
        ctx.prompt_tokens = prompt = count_prompt(call.messages) + (call.extras.prompt_tokens if call.extras else 0)
        self._untouched_tier(ctx)
        if ctx.provider == "anthropic":
            return json_plan(ctx, anthropic_models.count_tokens_body(prompt))
        return json_plan(ctx, gemini_models.count_tokens_body(prompt))

    def _adopt(self, provider: str, embedding: bool, name: str) -> ModelConfig | None:
        """The model an undeclared name gets under ``accept_unknown_models`` (None when that is off)."""
        price = self.config.unknown_model_price
        if price is None:
            return None
        key = (provider, embedding, name)
        model = self._adopted.get(key)
        if model is None:
            model = unknown_model(name, provider, price, embedding)
            if len(self._adopted) < _MAX_ADOPTED:
                self._adopted[key] = model
            self.accounts.add_price(name, price)
        return model

    def _hint_unknown(self, provider: str, name: str, wrong_kind: bool) -> None:
        """One log line per unknown model name: how to declare it (the answer itself stays the provider's 404)."""
        if name in self._hinted or len(self._hinted) >= _MAX_ADOPTED:
            return
        self._hinted.add(name)
        shown = name[:100].encode("unicode_escape").decode("ascii")
        if wrong_kind:
            _log.warning("model %r is not a %s model here: check its kind in [[provider.models]]", shown, provider)
            return
        _log.warning(
            "unknown model %r (%s API): 404. Declare it in the scenario: [[provider.models]] name = %s, "
            'api = "%s", price = { input = …, output = … } (USD per 1M tokens); or serve any name with '
            "[provider] accept_unknown_models = true and unknown_model_price = { input = …, output = … }",
            shown,
            provider,
            json.dumps(shown),
            provider,
        )

    def _use_cache(self, ctx: CallContext, call: ChatCall, model: ModelConfig) -> None:
        """The prompt cache's part in this answer (only answered requests read or write it)."""
        extras = call.extras
        if provider_marks := (extras.cache_marks if extras is not None else ()):
            use = self.prompt_cache.explicit(ctx.client, model.name, provider_marks, ctx.arrival)
        elif ctx.api in ("openai.chat", "gemini.generate") and ctx.prompt_tokens >= prompt_cache.MIN_TOKENS:
            head = extras.tools_text if extras is not None else ""
            use = self.prompt_cache.automatic(
                ctx.client, model.name, call.messages, head, ctx.prompt_tokens, ctx.arrival
            )
        else:
            return
        ctx.cached_tokens, ctx.cache_write_tokens, ctx.cache_write_1h_tokens = use.read, use.written, use.written_1h

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
            status, message, code = rejections.missing_key(ctx.provider)
            return self._error(ctx, status, message, code)
        client = self._key_labels.get(key)
        if client is None:
            if len(self._key_labels) > 10_000:
                self._key_labels.clear()  # bounded: fuzzers send endless keys
            client = self._key_labels[key] = key_label(key)
        ctx.client = client
        allowed = self.config.allowed_keys
        if allowed is not None and key not in allowed:
            status, message, _ = rejections.bad_key(ctx.provider)
            if ctx.provider != "gemini":
                return self._error(ctx, status, message)
            # Gemini answers a bad key with a 400 INVALID_ARGUMENT whose ErrorInfo says API_KEY_INVALID;
            # the log records that reason, so the judge can count it as an authentication failure
            plan = self._error(ctx, status, message, details=[dict(gemini.API_KEY_INVALID_DETAIL)])
            ctx.error_type = gemini.API_KEY_INVALID
            return plan
        return None

    # ------------------------------------------------------------------------------------ quotas, faults
    def _admit(self, ctx: CallContext, call: ChatCall | EmbeddingCall, model: ModelConfig) -> Plan | None:
        assert self.quotas is not None
        output = 0
        if isinstance(call, ChatCall):  # without max_tokens, a request counts as the answer it will get
            output = call.max_tokens or self.generator.output_tokens(ctx, call, model)
        return admission.admit(self.quotas, ctx, model.name, output, ctx.arrival, self.ledger.spent)

    def _count_tier(self, ctx: CallContext, call: ChatCall | EmbeddingCall, model: ModelConfig) -> None:
        """Count the request in its key's tier and put the tier's headers on its answer (unless the quotas'
        headers, which come after and win, name every one of them: then they would only be dropped)."""
        assert self.tiers is not None
        output = 0
        if isinstance(call, ChatCall):
            output = call.max_tokens or self.generator.answer(ctx, call, model).tokens
        tiers, provider = self.tiers, ctx.provider
        tiers.count(ctx.client, model.name, ctx.arrival, ctx.prompt_tokens, output)
        ctx.untouched_tier = False
        if self._quotas_name_tier(provider, model.name):
            ctx.extra_headers = ()
        else:
            ctx.extra_headers = tiers.headers(provider, ctx.client, model.name, ctx.arrival, ctx.wall)

    def _quotas_name_tier(self, provider: str, model: str) -> bool:
        """Whether the quota step puts its rate-limit headers on every answer to ``model`` and they name all of
        the tier's (so the tier's are dropped by the merge): remembered per (provider, model)."""
        key = (provider, model)
        named = self._tier_named.get(key)
        if named is None:
            quotas = self.quotas
            named = (
                quotas is not None
                and quotas.config.max_in_flight is None  # a refusal before admission answers with the tier's
                and quotas.config.spend_cap_usd is None
                and header_names(provider) <= admission.header_names(quotas.config, provider, model)
            )
            if len(self._tier_named) < _MAX_ADOPTED:
                self._tier_named[key] = named
        return named

    def _scheduled(self, ctx: CallContext) -> Fault | None:
        """The fault schedule as a fault source."""
        if not self.schedule.specs:
            return None
        t = ctx.arrival - self.run_started
        decided = ctx.fault is not None and ctx.fault.failure  # a test header's failure takes precedence
        return self.schedule.decide(ctx, t, ctx.arrival_number, self.seed, self.in_flight - 1, decided)

    def _fault_plan(self, ctx: CallContext, fault: Fault) -> Plan | None:
        """The answer a failure fault imposes, or None when it only shapes the success plan."""
        if fault.transport is not None:
            return plans.transport_plan(fault)
        provider = ctx.provider
        delay = fault.extra_ttft_s + fault.headers_delay_s
        if fault.special in ("context_length", "content_filter"):
            if fault.special == "content_filter":
                message, code = rejections.content_filter(provider)
                return self._error(ctx, 400, message, code, delay_s=delay)
            assert ctx.model is not None
            window = ctx.model.context_window
            max_tokens = ctx.call.max_tokens if isinstance(ctx.call, ChatCall) else None
            message, code = rejections.context_length(provider, max(ctx.prompt_tokens, window + 1), max_tokens, window)
            param = "messages" if provider == "openai" else None
            return self._error(ctx, 400, message, code, param=param, delay_s=delay)
        status = fault.status
        if fault.special == "overloaded":
            status = rejections.OVERLOADED_STATUS[provider]
        elif fault.stream_fault:
            if ctx.stream or (fault.error_after_chunks is None and fault.error_after_tokens is None):
                return None  # shapes the stream (or, on a plain answer, the body)
            status = status or rejections.OVERLOADED_STATUS[provider]  # a stream error asked of a plain answer
        if status is None:
            return None
        return self._fault_error(ctx, fault, status, delay)

    def _fault_error(self, ctx: CallContext, fault: Fault, status: int, delay: float) -> Plan:
        provider, hint, unit = ctx.provider, fault.retry_after_s, fault.retry_unit
        extra = ctx.extra_headers
        if hint is not None and unit == "date":
            sent_at = ctx.wall + delay
            when = math.ceil(sent_at + hint)
            hint = when - sent_at  # what the date means to a client reading it when the answer arrives
            if provider != "gemini":
                extra = (*extra, ("retry-after", format_http_date(when)))
                unit = "none"
        if fault.rate_limit_headers and status == 429 and not ctx.extra_headers:
            reset = hint if hint is not None else 1.0
            if provider == "openai":
                extra = (*extra, *openai_limits.rate_limit_headers((_RATE_LIMIT_REQUESTS, 0, reset), None))
            elif provider == "anthropic":
                state = [("requests", _RATE_LIMIT_REQUESTS, 0, ctx.wall + reset)]
                extra = (*extra, *anthropic.rate_limit_headers(state))
        ctx.retry_after_s = hint
        plan, ctx.error_type = plans.error_plan(
            provider,
            status,
            ctx.request_id,
            message=fault.message,
            code=fault.code,
            retry_after_s=hint,
            retry_unit=unit,
            delay_s=delay,
            extra_headers=extra,
        )
        return plan

    # ------------------------------------------------------------------------------------ settle
    def settle(self, ctx: CallContext, plan: Plan, delivery: Delivery) -> int:
        """An attempt ended: release its quotas, account for it; returns its seq in the log."""
        self.in_flight -= 1
        if ctx.quota_generation >= 0 and self.quotas is not None:
            admission.release(self.quotas, ctx, delivery.tokens_sent)
        return self.accounts.settle(ctx, plan, delivery)

    # ------------------------------------------------------------------------------------ control API
    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "seed": self.seed,
            "config": self.config.fingerprint(),
            "requests": len(self.log),
            "uptime_s": round(self.clock() - self.started, 3),
            "run_s": round(self.clock() - self.run_started, 3),
            "in_flight": self.in_flight,
            "faults": len(self.schedule),
            "quotas": self.quotas is not None,
            "models": sorted(self.models),
            "allow_fault_headers": self.config.allow_fault_headers,
        }

    def requests_jsonl(self, since: int = 0, limit: int | None = None) -> str:
        return self.log.jsonl(since, limit)

    def ledger_dict(self, entries: bool = False) -> dict[str, Any]:
        return self.ledger.to_dict(entries)

    def metrics_text(self) -> str:
        return self.metrics.render()

    def set_faults(self, schedule: FaultSchedule) -> None:
        """Replace the fault schedule (its windows stay relative to the run's start)."""
        self.schedule = schedule

    def faults_dict(self) -> dict[str, Any]:
        return self.schedule.to_dict()

    def reset(self) -> None:
        """A new run: forget the log, the ledger, the metrics and the quota state; fault windows restart."""
        self.accounts.clear()
        self.prompt_cache.clear()
        if self.quotas is not None:
            self.quotas.clear()
        self._run += 1
        self._salt = self._run_salt()
        self._arrivals = 0
        self.run_started = self.clock()
        if self.tiers is not None:
            self.tiers.clear(self.run_started)
