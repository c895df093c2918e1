"""The reference client: one call path that enforces every policy, for OpenAI, Anthropic and Gemini.

Per logical request, for each model of its chain (the model asked for, then its fallbacks)::

    skip? (prefill the model rejects, prompt over its context window)
    adaptive throttle → breaker permit → budget reserve (prompt + max_tokens at list price)
      → limiter acquire (waits through the injected sleep) → send through the transport
      → read: plain body, or the stream under first-token / stall / attempt / total deadlines
      → settle limiter, budget, cost tracker, breaker (rate-limit headers feed the limiter)
    on failure: rotate the key (401/403, insufficient_quota), retry (RetryPolicy, retry hint, retry
      budget) or move to the next model (fallback rules in harness.client.fallback)

and then exactly one :class:`~harness.records.OutcomeRecord` goes to the outcome log. Every attempt
carries ``x-harness-request-id`` (the logical id), ``x-harness-attempt`` (0-based) and, when known,
``x-client-id``, so the provider's log links attempts to logical requests.

Time comes from an injected clock and sleep (default: the running loop's ``time`` and
``asyncio.sleep``) and deadlines use ``asyncio.timeout_at`` on the loop clock, so the same client runs
in real time over sockets and in virtual time over :class:`~harness.runner.memory_transport.MemoryTransport`.

Example::

    config = ClientConfig.parse(tomllib.load(f)["client"]).with_base_url(server.url)
    async with ResilientClient(config) as client:
        answer = await client.chat(ChatRequest("gpt-4o-mini", (Message("user", "Hi"),), max_tokens=64))
        async with client.stream(request) as stream:
            async for delta in stream:
                print(delta.text, end="")
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from harness.client.attempt import AttemptRunner
from harness.client.breaker import Breaker
from harness.client.cache import ResponseCache, request_key
from harness.client.coalesce import SingleFlight
from harness.client.config import ClientConfig
from harness.client.cost import CostTracker
from harness.client.degradation import QuotaGauge, Signals, StaleAnswers, steps_for, trigger
from harness.client.fallback import fallover_allowed, skip_reason
from harness.client.logical import LogicalRequest, outcome_row
from harness.client.outcomes import OutcomeLog
from harness.client.retry import RetryBudget, RetryPolicy, RetryState, is_timeout
from harness.client.routes import Route, build_budgets, build_routes
from harness.client.stream_api import ChatStream
from harness.client.structured import chat_structured, check_tool_calls, wants_json
from harness.client.transport import Transport
from harness.client.types import ChatRequest, ChatResponse
from harness.clock import Clock, Sleep
from harness.errors import (
    AllFallbacksFailed,
    AuthenticationError,
    BadRequest,
    CircuitOpen,
    ContextLengthExceeded,
    Degraded,
    HarnessError,
    NotFound,
    ProviderError,
    QuotaExhausted,
    RetryBudgetExhausted,
    StreamInterrupted,
)
from harness.pricing import Usage
from harness.records import ClientEvent, OutcomeRecord

if TYPE_CHECKING:
    from harness.client.semantic_cache import SemanticCache

__all__ = ["ResilientClient"]

_ZERO = Decimal(0)


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


def default_clock() -> Clock:
    """The running loop's clock, as cheaply as it can be read.

    A plain asyncio loop's ``time()`` is ``time.monotonic()``: use that directly. Another loop (the
    virtual-time loop) is bound when one is running; with none running, every reading asks for it.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return _loop_time
    if type(loop).time is asyncio.BaseEventLoop.time:
        return time.monotonic
    return loop.time


class _PrimarySlow(Exception):
    """Internal signal: the primary missed the ladder's deadline (never leaves :meth:`ResilientClient._degrade`)."""


def _refusing(route: Route) -> bool:
    """Does the route's breaker refuse calls now?"""
    return route.breaker is not None and route.breaker.blocked_until() is not None


class ResilientClient:
    """The reference client (see the module docstring); an async context manager."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        transport: Transport | None = None,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        wall: Clock = time.time,
        env: Mapping[str, str] | None = None,
        outcome_log: OutcomeLog | None = None,
        rng: random.Random | None = None,
        redis: Any = None,
    ) -> None:
        self.config = config  # read once; never parsed on the request path
        self.name = config.name  # for reports (the runner's ClientUnderTest.name)
        self.log = outcome_log if outcome_log is not None else OutcomeLog()  # outcomes and events
        self._clock = clock or default_clock()
        self._sleep = sleep or asyncio.sleep
        self._wall = wall
        self._rng = rng or random.Random(config.seed)
        self._own_redis = None  # a Redis client this client made (and closes)
        if config.redis is not None and redis is None:
            from harness.client.redis_support import redis_client

            redis = self._own_redis = redis_client(config.redis.url, config.redis.fallback)
        on_event = self.log.policy_event
        self.routes = build_routes(config, clock=self._clock, rng=self._rng, on_event=on_event, env=env, redis=redis)
        self.budgets = build_budgets(config, clock=self._clock, wall=wall, on_event=on_event, redis=redis)
        self.cost = CostTracker(config.price_table())  # the client's ledger
        self.retry = RetryPolicy(config.retry)
        budget = config.retry_budget
        self.retry_budget = None if budget is None else RetryBudget(budget.ratio, budget.reserve)
        if transport is None:
            from harness.client.transports.aiohttp import AiohttpTransport

            transport = AiohttpTransport(config.transport, connect_timeout_s=config.timeouts.connect_s)
        self.transport = transport
        self.cache = ResponseCache(config.cache, clock=self._clock) if config.cache.enabled else None
        self.flight: SingleFlight[ChatResponse] | None = SingleFlight() if config.coalesce else None
        self.semantic: SemanticCache | None = None
        if config.semantic_cache is not None:  # imported only when used (numpy)
            from harness.client.semantic_cache import build_semantic_cache

            self.semantic = build_semantic_cache(
                config, routes=self.routes, transport=transport, cost=self.cost, budgets=self.budgets,
                clock=self._clock, wall=wall, on_event=on_event, redis=redis,
            )  # fmt: skip
        ladder = config.degradation
        self._ladder_budget = config.ladder_budget() if ladder is not None and ladder.uses_budget else None
        self._stale: StaleAnswers[ChatResponse] | None = None
        if ladder is not None and ladder.quota_below is not None:
            for route in self.routes.values():
                route.quota = QuotaGauge()
        if ladder is not None and "cache" in ladder.steps:
            self._stale = StaleAnswers(ladder.cache_ttl_s, ladder.cache_max_entries, clock=self._clock)
        self._chains = {name: tuple(self.routes[m] for m in config.chain(name)) for name in self.routes}
        self._ids = itertools.count(1)
        self._id_prefix = f"{config.name}-{self._rng.getrandbits(32):08x}"
        self._total_s = config.timeouts.total_s
        self._attempts = AttemptRunner(
            transport=transport, cost=self.cost, budgets=self.budgets, timeouts=config.timeouts, clock=self._clock,
            sleep=self._sleep, wall=wall, rng=self._rng,
        )  # fmt: skip
        self._secrets = [k for ring in {id(r.keys): r.keys for r in self.routes.values()}.values() for k in ring.keys]

    # ------------------------------------------------------------------------------------ public API
    async def __aenter__(self) -> ResilientClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.transport.aclose()
        release = getattr(self.budgets, "aclose", None)
        if release is not None:  # a Redis ledger gives its leases back
            await release()
        if self._own_redis is not None:
            await self._own_redis.aclose()

    async def chat(self, request: ChatRequest) -> ChatResponse:
        """The whole answer; raises the error that ended the request (after retries and fallbacks)."""
        return await self._call(request, None)

    def stream(self, request: ChatRequest) -> ChatStream:
        """Text deltas as they arrive, then a final item with the usage (see :class:`ChatStream`)."""
        return ChatStream(self._call, request if request.stream else replace(request, stream=True))

    async def call(self, request: ChatRequest) -> bool:
        """The runner's entry point: True for a complete answer; errors are recorded, not raised.

        With ``[client.structured]``, a request whose answer must be JSON goes through the
        validate-and-re-ask policy (:func:`~harness.client.structured.chat_structured`; True only for a
        valid answer), and the arguments of any other answer's tool calls are validated; the verdicts
        are client events ("structured" and "tool_calls", named by the logical id) the judge reads.
        """
        policy = self.config.structured
        try:
            if policy is not None and wants_json(request):
                await chat_structured(self, request, policy, verdicts=self._verdicts)
                return True
            response = await self.chat(request)
        except HarnessError:
            return False
        if policy is not None and response.tool_calls:
            self._verdict_event("tool_calls", response.request_id, check_tool_calls(request, response))
        return True

    def _verdicts(self, logical_id: str, verdicts: tuple[str, ...]) -> None:
        self._verdict_event("structured", logical_id, verdicts)

    def _verdict_event(self, kind: str, logical_id: str, verdicts: tuple[str, ...]) -> None:
        self.log.event(ClientEvent(self._clock(), kind, logical_id, ",".join(verdicts)))

    def outcomes(self) -> list[OutcomeRecord]:
        return self.log.records

    def events(self) -> list[ClientEvent]:
        return list(self.log.events)

    def state(self) -> str:
        """Breaker states, for progress displays."""
        parts = []
        for route in self.routes.values():
            state = getattr(route.breaker, "state", None) if route.breaker is not None else "off"
            parts.append(f"{route.name}={state or '?'}")
        return ", ".join(parts)

    def __repr__(self) -> str:
        return f"ResilientClient({self.name!r}, models={list(self.routes)}, outcomes={len(self.log)})"

    # ------------------------------------------------------------------------------------ logical requests
    async def _call(self, request: ChatRequest, sink: Callable[[str], None] | None) -> ChatResponse:
        """One logical request, begun, served and recorded (exactly one outcome, whatever ends it);
        ``sink`` receives the text deltas of a stream (:class:`ChatStream` passes its queue)."""
        lr = self._begin(request, sink)
        try:
            if request.prompt is not None:
                self._use_prompt(lr)
            if self.config.degradation is not None:
                response = await self._degrade(lr)
            elif self.cache is None and self.flight is None and self.semantic is None:
                # _primary's common case inlined: one coroutine fewer to create and to resume through
                # at every suspension of the request (a simulated request suspends two or three times)
                response = await self._execute(lr)
            else:
                response = await self._serve(lr)
        except BaseException as exc:
            self._end(lr, None, exc)
            raise
        self._end(lr, response, None)
        return response

    async def _primary(self, lr: LogicalRequest) -> ChatResponse:
        """The normal path: the caches and coalescing when configured, then the chain."""
        if self.cache is None and self.flight is None and self.semantic is None:
            return await self._execute(lr)
        return await self._serve(lr)

    # ------------------------------------------------------------------------------------ degradation ladder
    def _signals(self, lr: LogicalRequest, primary_failed: bool = False, primary_slow: bool = False) -> Signals:
        """What the ladder's rules look at now (harness.client.degradation)."""
        ladder = self.config.degradation
        assert ladder is not None
        primary = self.routes.get(lr.request.model)
        chain = self._chains.get(lr.request.model, ())
        cheaper = None if ladder.cheaper_model is None else self.routes[ladder.cheaper_model]
        share = None
        if self._ladder_budget is not None:
            share = float(self.cost.total / self._ladder_budget)
        quota = None if primary is None or primary.quota is None else primary.quota.share(self._clock())
        return Signals(
            quota_share=quota,
            # the primary path is closed only when every model of its chain (the primary, then its
            # [client.fallbacks]) refuses calls: a fallback that would answer keeps the request on it
            primary_open=bool(chain) and all(_refusing(route) for route in chain),
            cheaper_open=cheaper is not None and _refusing(cheaper), spent_share=share, primary_failed=primary_failed,
            primary_slow=primary_slow,
        )  # fmt: skip

    async def _degrade(self, lr: LogicalRequest) -> ChatResponse:
        """The primary path unless a rule says otherwise, then the ladder's steps in order; the step that
        served the request goes to its outcome (``degradation_step``)."""
        ladder = self.config.degradation
        assert ladder is not None
        lr.degradation_step = "error"  # until a step serves it
        if lr.request.model not in self.routes:
            return await self._primary(lr)  # a caller's mistake (NotFound), not a reason to degrade
        signals = self._signals(lr)
        reason = trigger(ladder, signals)
        failure: HarnessError | None = None
        if reason is None:
            try:
                response = await self._primary_within(lr, ladder.primary_deadline_s)
            except _PrimarySlow:
                signals = self._signals(lr, primary_slow=True)
                reason = "primary_slow"
            except HarnessError as err:
                if lr.delivered or not ladder.on_failure or isinstance(err, BadRequest):
                    raise
                failure = err
                signals = self._signals(lr, primary_failed=True)
                reason = "primary_failed"
            else:
                lr.degradation_step = "primary"
                if self._stale is not None and response.source == "provider":
                    self._stale.put(request_key(lr.request), response)
                return response
        self.log.event(ClientEvent(self._clock(), "degraded", lr.request.model, reason))
        for step in steps_for(ladder, signals):
            if step == "cache" and self._stale is not None:
                hit = self._stale.get(request_key(lr.request))
                if hit is not None:
                    lr.degradation_step = "cache"
                    return self._shared(lr, hit, "cache")
            elif step == "cheaper" and ladder.cheaper_model is not None:
                try:
                    response = await self._walk(lr, (self.routes[ladder.cheaper_model],), [])
                except HarnessError as err:
                    if lr.delivered:
                        raise
                    failure = failure if failure is not None else err
                else:
                    lr.degradation_step = "cheaper"
                    return response
            elif step == "static":
                lr.degradation_step = "static"
                return self._static(lr, ladder.static_answer)
        raise failure if failure is not None else Degraded(reason)

    async def _primary_within(self, lr: LogicalRequest, deadline_s: float | None) -> ChatResponse:
        """The primary path, given up (its attempt cancelled, so the provider sees the client hang up) when
        it has neither answered nor delivered any text within ``deadline_s`` on the loop's clock; text
        already delivered binds the request to the primary, however long the rest takes."""
        if deadline_s is None:
            return await self._primary(lr)
        task = asyncio.ensure_future(self._primary(lr))
        try:
            await asyncio.wait((task,), timeout=deadline_s)
        except BaseException:
            task.cancel()  # the caller gave up on the whole request
            raise
        if task.done() or lr.delivered:
            return await task
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)  # its attempt ends, recorded as cancelled
        raise _PrimarySlow

    def _static(self, lr: LogicalRequest, text: str) -> ChatResponse:
        """The ladder's fixed answer: no call, no cost."""
        now = self._clock()
        if lr.sink is not None:
            lr.deliver(text, now)
        ttft = None if lr.first_delivered is None else lr.first_delivered - lr.t_start
        return ChatResponse(
            text=text, model="static", provider="static", finish_reason="stop", usage=Usage(), cost_usd=_ZERO,
            request_id=lr.id, attempts=0, latency_s=now - lr.t_start, ttft_s=ttft, total_cost_usd=_ZERO,
            source="static",
        )  # fmt: skip

    def _begin(self, request: ChatRequest, sink: Callable[[str], None] | None) -> LogicalRequest:
        now = self._clock()
        logical_id = request.request_id or f"{self._id_prefix}-{next(self._ids)}"
        deadline = None if self._total_s is None else now + self._total_s
        return LogicalRequest(request, logical_id, now, deadline, request.client_id or self.config.client_id, sink)

    def _use_prompt(self, lr: LogicalRequest) -> None:
        """Put the named prompt version's text first (raises NotFound for one not configured)."""
        assert lr.request.prompt is not None
        lr.prompt, system = self.config.prompts.resolve(lr.request.prompt)
        lr.request = replace(lr.request, messages=(system, *lr.request.messages))
        lr.messages = lr.request.messages

    def _end(self, lr: LogicalRequest, response: ChatResponse | None, error: BaseException | None) -> None:
        message = "" if error is None else self.scrub(str(error) or type(error).__name__)
        self.log.append(outcome_row(lr, self._clock(), response, error, message), lr.cost)

    def scrub(self, text: str) -> str:
        """``text`` with every configured API key replaced by its label."""
        for key in self._secrets:
            if key.secret in text:
                text = text.replace(key.secret, key.label)
        return text

    async def _serve(self, lr: LogicalRequest) -> ChatResponse:
        """Cache, then the semantic cache, then coalescing, then the chain."""
        request = lr.request
        cache = self.cache
        key = None
        if cache is not None and cache.eligible(request):
            key = request_key(request)
            hit = cache.get(key)
            if hit is not None:
                return self._shared(lr, hit, "cache")
        probe = None if self.semantic is None else await self.semantic.lookup(lr)
        if probe is not None and probe.hit is not None:
            return self._shared(lr, probe.hit, "semantic-cache", probe.similarity)
        if self.flight is not None and lr.sink is None:
            key = key if key is not None else request_key(request)
            response, shared = await self.flight.run(key, lambda: self._execute(lr))
            if shared:
                return self._shared(lr, response, "coalesced")
        else:
            response = await self._execute(lr)
        if cache is not None and key is not None and cache.eligible(request):
            cache.put(key, response)
        if probe is not None and self.semantic is not None:
            await self.semantic.remember(probe, response)
        return response

    def _shared(
        self, lr: LogicalRequest, response: ChatResponse, source: str, similarity: float | None = None
    ) -> ChatResponse:
        """Another call's answer for this logical request: no cost, no attempts."""
        now = self._clock()
        if lr.sink is not None:
            lr.deliver(response.text, now)
        ttft = None if lr.first_delivered is None else lr.first_delivered - lr.t_start
        return replace(
            response, request_id=lr.id, cost_usd=_ZERO, total_cost_usd=_ZERO, attempts=0, provider_request_ids=(),
            latency_s=now - lr.t_start, ttft_s=ttft, source=source, similarity=similarity,
            cached_from=response.request_id,
        )  # fmt: skip

    async def _execute(self, lr: LogicalRequest) -> ChatResponse:
        """Walk the chain: the model asked for, then its fallbacks (rules: harness.client.fallback)."""
        chain = self._chains.get(lr.request.model)
        if chain is None:
            known = ", ".join(self.routes)
            raise NotFound(f"model {lr.request.model!r} is not configured (configured: {known})", code="not_configured")
        if self.retry_budget is not None:
            self.retry_budget.on_request()
        errors: list[tuple[str, BaseException]] = []
        try:
            return await self._walk(lr, chain, errors)
        except HarnessError as err:
            if not lr.delivered:
                raise
            # part of the answer reached the caller: never a silent truncation, say how much
            raise StreamInterrupted(errors or [(lr.request.model, err)], lr.prefix + lr.partial) from err

    async def _walk(
        self, lr: LogicalRequest, chain: tuple[Route, ...], errors: list[tuple[str, BaseException]]
    ) -> ChatResponse:
        """Try each model of ``chain`` in turn; ``errors`` receives each model's error."""
        larger_than: int | None = None
        for i, route in enumerate(chain):
            spec = route.spec
            reason = self._skip(lr, route, larger_than)
            if reason is not None:
                errors.append((spec.name, reason))
                continue
            try:
                try:
                    return await self._attempts.run(lr, route)
                except ProviderError as failed:  # the first attempt failed: retries, key rotation
                    return await self._on_route(lr, route, failed, chain[i + 1 :])
            except HarnessError as err:
                errors.append((spec.name, err))
                if not fallover_allowed(err):
                    raise
                if isinstance(err, ContextLengthExceeded) and spec.context_window is not None:
                    larger_than = max(larger_than or 0, spec.context_window)
                if lr.delivered:
                    if not self.config.streaming.restart_on_break:
                        raise
                    lr.restart_with(lr.partial)
        if len(errors) == 1:
            raise errors[0][1]
        raise AllFallbacksFailed(errors)

    def _skip(self, lr: LogicalRequest, route: Route, larger_than: int | None) -> ProviderError | None:
        """Why ``route`` cannot take the request as it stands (nothing is sent to it), or None."""
        spec = route.spec
        if spec.accepts_prefill and spec.context_window is None:  # nothing to skip for
            return None
        return skip_reason(spec, lr.messages, self._max_tokens(lr, route), lr.prompt_tokens, larger_than=larger_than)

    def _alternative(self, lr: LogicalRequest, rest: tuple[Route, ...]) -> bool:
        """Could a later model of the chain take the request now (not skipped, its breaker admits it)?"""
        for route in rest:
            breaker = route.breaker
            if (breaker is None or breaker.blocked_until() is None) and self._skip(lr, route, None) is None:
                return True
        return False

    async def _on_route(
        self, lr: LogicalRequest, route: Route, failed: ProviderError, rest: tuple[Route, ...] = ()
    ) -> ChatResponse:
        """After a failed first attempt on one model: key rotation, retries with backoff and hints, the
        retry budget. Raises the failure that ends the model's attempts.

        The request leaves for the next model of the chain (``rest``) at once, without a backoff sleep
        or a retry-budget token, when this model's breaker refuses calls (open, or opened by this
        failure) or after ``retry.timeouts_before_failover`` timed-out attempts, provided a later model
        could take it. A chain of one is retried as the policy says, except that a retry the open
        breaker would refuse anyway ends the request now (``CircuitOpen``) instead of after the sleep.
        """
        tries = 0  # failed attempts on this model
        timeouts = 0  # of which timed out
        previous = 0.0  # the previous retry's delay
        rotations_left = len(route.keys.keys)
        leave_after = self.retry.config.timeouts_before_failover
        breaker = route.breaker
        err = failed
        while True:
            if lr.delivered and lr.partial:
                raise err  # this attempt's text reached the caller: continue elsewhere (or say how much)
            if isinstance(err, AuthenticationError | QuotaExhausted) and lr.key_used is not None:
                used = lr.key_used
                reason = "auth" if isinstance(err, AuthenticationError) else "quota"
                following = route.keys.fail(used, reason)
                if following is None or following == used or rotations_left <= 0:
                    raise err
                rotations_left -= 1
                detail = f"{reason}: {used.label} → {following.label}"
                self.log.event(ClientEvent(self._clock(), "key_rotated", route.keys.name, detail))
            else:
                tries += 1
                timeouts += is_timeout(err)
                blocked = None if breaker is None else breaker.blocked_until()
                if (blocked is not None or (leave_after and timeouts >= leave_after)) and self._alternative(lr, rest):
                    raise err  # the next model, now
                deadline = lr.deadline if lr.deadline is not None else float("inf")
                state = RetryState(tries, previous, self._clock(), deadline)
                decision = self.retry.decide(err, state, self._rng)
                if not decision.retry:
                    raise err
                if blocked is not None and self._clock() + decision.delay_s < blocked:
                    assert breaker is not None
                    raise CircuitOpen(getattr(breaker, "name", route.name), blocked) from err
                if self.retry_budget is not None and not self.retry_budget.try_spend():
                    raise RetryBudgetExhausted(f"the retry budget refused a retry on {route.name}", err) from err
                lr.wait_before_next(decision.delay_s)
                if await self._backoff(decision.delay_s, breaker, lr, rest):
                    if self.retry_budget is not None:
                        self.retry_budget.refund()
                    raise err  # the circuit opened while we waited: the next model, now
                previous = decision.delay_s
            try:
                return await self._attempts.run(lr, route)
            except ProviderError as again:
                err = again

    async def _backoff(
        self, delay: float, breaker: Breaker | None, lr: LogicalRequest, rest: tuple[Route, ...]
    ) -> bool:
        """Wait ``delay`` before a retry; True when the model's circuit opened meanwhile (other requests
        tripped it) and a later model could take the request: stop waiting and fall over."""
        watch = getattr(breaker, "notify_open", None)
        if watch is None or not rest or not self._alternative(lr, rest):
            await self._sleep(delay)
            return False
        opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        forget = watch(lambda: None if opened.done() else opened.set_result(None))
        sleeper = asyncio.ensure_future(self._sleep(delay))
        try:
            await asyncio.wait((sleeper, opened), return_when=asyncio.FIRST_COMPLETED)
        finally:
            forget()
            if not sleeper.done():
                sleeper.cancel()
            if not opened.done():
                opened.cancel()
        return opened.done() and not opened.cancelled()

    @staticmethod
    def _max_tokens(lr: LogicalRequest, route: Route) -> int:
        """max_tokens as sent to this model (Anthropic needs one; the others may omit it)."""
        asked = lr.request.max_tokens
        if asked is not None:
            return asked
        return route.spec.default_max_tokens if route.adapter.provider == "anthropic" else 0
