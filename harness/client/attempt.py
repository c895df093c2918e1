"""One attempt: admit it through the policies, send it, read it, and book it everywhere.

::

    adaptive throttle → breaker permit → budget reserve (prompt + max_tokens at list price)
      → limiter (waits through the injected sleep) → transport send → plain body, or the stream
        under first-token / stall / attempt / total deadlines → rate-limit headers to the limiter
      → settle: cost tracker, budget, limiter, breaker, throttle, the attempt record

Failures are booked as carefully as successes: what the provider bills for a failed attempt (nothing
without a 2xx status; the prompt and the output it sent otherwise: a stream cut midway) is charged to
the cost tracker and the budget, the limiter is settled with it, the breaker hears the outcome kind
and retry hint, and the attempt is recorded with its status and error kind. The in-memory policies
are called synchronously (their async protocol is for the Redis backends): this path runs for every
request of a load test.
"""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal
from typing import Any

from harness.client.adapters import limit_observation, limit_values
from harness.client.breaker import outcome_kind
from harness.client.budget import BudgetLedger, Budgets
from harness.client.config import Timeouts
from harness.client.cost import Attribution, CostTracker
from harness.client.fastinit import positional_maker
from harness.client.keys import RedactedHeaders
from harness.client.limiter import Demand, Grant, Reservation
from harness.client.logical import LogicalRequest
from harness.client.routes import Route
from harness.client.streaming import (
    AttemptClock,
    Deadline,
    DeadlineWatch,
    StreamAssembler,
    consume_stream,
    deadline_error,
)
from harness.client.transport import HttpRequest, HttpResponse, Transport
from harness.client.types import ChatResponse
from harness.clock import Clock, Sleep
from harness.errors import (
    BadRequest,
    ConnectError,
    ContentFiltered,
    DeadlineExceeded,
    ProviderError,
    RetryBudgetExhausted,
)
from harness.pricing import Usage
from harness.tokenizer import count_tokens

__all__ = ["AttemptRunner"]

_ZERO = Decimal(0)
_NOTHING = Usage()
_ACCEPTED = frozenset({"success", "client_error"})  # the backend took the request (adaptive throttling)
_ATTEMPT_HEADER = tuple(str(n) for n in range(64))  # x-harness-attempt values, prebuilt
_make_request = positional_maker(HttpRequest)
_make_response = positional_maker(ChatResponse)


def _money(cost: Decimal) -> str:
    """An attempt's cost as the outcome log keeps it (exact, plain notation)."""
    return "0" if not cost else format(cost, "f")


class AttemptRunner:
    """Runs single attempts for a client (holds what every attempt shares)."""

    def __init__(
        self,
        *,
        transport: Transport,
        cost: CostTracker,
        budgets: Budgets | None,
        timeouts: Timeouts,
        clock: Clock,
        sleep: Sleep,
        wall: Clock,
        rng: random.Random,
    ) -> None:
        self.transport = transport
        self.cost = cost
        self.budgets = budgets
        self.sync_budgets = budgets if type(budgets) is BudgetLedger else None
        self._clock = clock
        self._sleep = sleep
        self._wall = wall
        self._rng = rng
        self._first_token_s = timeouts.first_token_s
        self._stall_s = timeouts.stall_s
        self._attempt_s = timeouts.attempt_s
        self._min_send_s = timeouts.min_send_s  # a queued request is not sent with less time than this left
        self._timed = timeouts.first_token_s is not None or timeouts.stall_s is not None  # streams have deadlines
        self._estimates: dict[tuple[str, int, int], Decimal] = {}  # (model, prompt, max_tokens) → reservation
        self._last_estimate: tuple[str, int, int, Decimal] = ("", -1, -1, _ZERO)  # the latest of them
        self._attributions: dict[tuple[str, str | None, str | None, str], Attribution] = {}  # reused, immutable
        self._last_attribution = Attribution("")  # the latest one (compared by identity of its values)
        self._watch = DeadlineWatch()  # every attempt's deadline, on one loop timer

    # ------------------------------------------------------------------------------------ admission
    def _attribution(self, model: str, user: str | None, feature: str | None, label: str) -> Attribution:
        """The one Attribution object for these values (reused: the policies recognise it by identity)."""
        attribution_key = (model, user, feature, label)
        attribution = self._attributions.get(attribution_key)
        if attribution is None:
            if len(self._attributions) > 65_536:
                self._attributions.clear()
            attribution = self._attributions[attribution_key] = Attribution(*attribution_key)
        self._last_attribution = attribution
        return attribution

    def _estimate(self, model: str, prompt: int, max_tokens: int) -> Decimal:
        last = self._last_estimate  # the same request shape as the previous attempt's, most often
        if last[0] is model and last[1] == prompt and last[2] == max_tokens:
            return last[3]
        key = (model, prompt, max_tokens)
        amount = self._estimates.get(key)
        if amount is None:
            if len(self._estimates) > 65_536:
                self._estimates.clear()
            amount = self._estimates[key] = self.cost.estimate(model, prompt, max_tokens)
        self._last_estimate = (model, prompt, max_tokens, amount)
        return amount

    async def _reserve_budget(self, amount: Decimal, attribution: Attribution) -> Any:
        if self.sync_budgets is not None:
            return self.sync_budgets.reserve(amount, attribution)
        assert self.budgets is not None
        return await self.budgets.reserve_async(amount, attribution)

    async def _release_budget(self, held: Any, cost: Decimal) -> None:
        budgets = self.sync_budgets
        if budgets is not None:
            budgets.settle(held, cost) if cost else budgets.cancel(held)
            return
        assert self.budgets is not None
        if cost:
            await self.budgets.settle_async(held, cost)
        else:
            await self.budgets.cancel_async(held)

    async def _acquire(
        self, route: Route, lr: LogicalRequest, demand: Demand, reservation: Reservation | None
    ) -> Reservation:
        """A granted reservation, waiting through ``sleep`` while queued (cf. ``wait_for_capacity``).

        ``reservation``: the answer to a first ``reserve`` already made (None: ask now).
        """
        request = lr.request
        lane, key = request.priority, request.user or "default"
        if reservation is None:
            reservation = await route.limiter.acquire(demand, lane=lane, key=key)
        while not reservation.granted:
            if reservation.reason == "too_large":
                raise BadRequest(f"request needs more than a whole window's limit: {demand}", code="request_too_large")
            if lr.deadline is not None and self._clock() + reservation.wait_s > lr.deadline - self._min_send_s:
                await route.limiter.cancel(reservation)
                raise DeadlineExceeded("rate limiter wait would pass the request's deadline", code="limiter_wait")
            try:
                await self._sleep(reservation.wait_s)
            except BaseException:
                await route.limiter.cancel(reservation)
                raise
            reservation = await route.limiter.acquire(demand, lane=lane, key=key, ticket=reservation)
        return reservation

    # ------------------------------------------------------------------------------------ the attempt
    async def run(self, lr: LogicalRequest, route: Route) -> ChatResponse:
        spec, adapter, request = route.spec, route.adapter, lr.request
        clock = self._clock
        throttle = route.throttle
        if throttle is not None and throttle.should_reject(self._rng):
            raise RetryBudgetExhausted(f"adaptive throttling rejected a call to {spec.name} locally")
        key = route.keys.current
        lr.key_used = key
        max_tokens = request.max_tokens
        if max_tokens is None:
            max_tokens = spec.default_max_tokens if adapter.provider == "anthropic" else 0
        attribution = self._last_attribution  # the same one as the previous attempt's, most often
        if (
            attribution.model is not spec.name or attribution.user is not request.user
            or attribution.feature is not request.feature or attribution.key is not key.label
        ):  # fmt: skip
            attribution = self._attribution(spec.name, request.user, request.feature, key.label)

        # admission: breaker, budget, limiter (in memory: plain calls; Redis: awaited)
        breaker, sync_breaker = route.breaker, route.sync_breaker
        if sync_breaker is not None:
            permit: Any = sync_breaker.allow()
        else:
            permit = None if breaker is None else await breaker.acquire()
        held = None
        try:
            if self.budgets is not None:
                amount = self._estimate(spec.name, lr.prompt_tokens(), max_tokens or spec.default_max_tokens)
                if self.sync_budgets is not None:
                    held = self.sync_budgets.reserve(amount, attribution)
                else:
                    held = await self._reserve_budget(amount, attribution)
            prompt = lr.prompt_tokens() if route.counts_tokens() else 0
            sync_limiter = route.sync_limiter
            # the common case: granted at once as an opaque grant (no Reservation object, no coroutine)
            reservation: Any = None
            if sync_limiter is not None:
                reservation = sync_limiter.grant_now(prompt, max_tokens, request.priority)
            if reservation is None:
                reservation = await self._acquire(route, lr, Demand(prompt, max_tokens), None)
        except BaseException:
            if held is not None:
                await self._release_budget(held, _ZERO)
            if permit is not None and breaker is not None:
                await breaker.release_permit(permit)
            raise

        # the request
        stream = request.stream
        headers = RedactedHeaders(route.auth_headers(key))
        headers["x-harness-request-id"] = lr.id
        n = lr.n
        headers["x-harness-attempt"] = _ATTEMPT_HEADER[n] if n < 64 else str(n)
        if lr.client_id is not None:
            headers["x-client-id"] = lr.client_id
        body = lr.body(spec.name, stream)
        if body is None:
            body = lr.keep_body(spec.name, stream, adapter.body(spec, lr.messages, request, stream))
        http = _make_request("POST", route.url_stream if stream else route.url_plain, headers, body)
        lr.n = n + 1
        t0 = clock()
        attempt_at = None if self._attempt_s is None else t0 + self._attempt_s
        total_at = lr.deadline
        if attempt_at is None or (total_at is not None and total_at <= attempt_at):
            hard_at, hard_kind = total_at, "total"
        else:
            hard_at, hard_kind = attempt_at, "attempt"
        deadlines: AttemptClock | None = None
        timer: Deadline | None = None
        response: HttpResponse | None = None
        status = 0
        assembler: StreamAssembler | None = None
        billed_override: Usage | None = None
        first: float | None = None
        try:
            if stream:
                deadlines = AttemptClock(
                    clock, first_token_at=None if self._first_token_s is None else t0 + self._first_token_s,
                    stall_s=self._stall_s, attempt_at=attempt_at, total_at=total_at,
                )  # fmt: skip
                if hard_at is not None or self._timed:
                    timer = self._watch.deadline()
                    timer.arm(*deadlines.limit(False))
            elif hard_at is not None:
                timer = self._watch.deadline()
                timer.arm(hard_at, hard_kind)
            try:
                response = await self.transport.send(http)
                status = response.status
                raw = b""
                if status >= 300 or not stream:
                    if timer is not None and stream:
                        timer.arm(hard_at, hard_kind)
                    raw = await response.read()
                headers_in = response.headers
                if sync_limiter is not None and route.quota is None:
                    # in memory, no quota gauge: the limiter's numbers alone, as they are (no RateLimits
                    # object, no coroutine to await), per answer
                    if route.learns_limits:
                        values = adapter.limit_values(headers_in, self._wall())
                        if values is not None:
                            sync_limiter.observe_values(values)
                else:
                    limits = adapter.rate_limits(headers_in, self._wall())
                    if limits is not None and route.quota is not None:
                        route.quota.see(limits, clock())
                    if limits is not None and route.learns_limits:
                        if sync_limiter is not None:  # in memory: the values as they are, no coroutine
                            values = limit_values(limits)
                            if values is not None:
                                sync_limiter.observe_values(values)
                        else:
                            observation = limit_observation(limits)
                            if observation:
                                await route.limiter.observe(**observation)
                if status >= 300:
                    raise adapter.error(status, headers_in, raw, self._wall(), spec.name)
                if deadlines is not None:
                    header_id = headers_in.get(adapter.request_id_header) if adapter.request_id_header else None
                    assembler = StreamAssembler(adapter, spec.name, header_id)
                    sink = None if lr.sink is None else (lambda text: lr.deliver(text, clock()))
                    first = await consume_stream(response, assembler, deadlines, timer, sink)
                    text, finish, usage = assembler.text, assembler.finish, assembler.usage
                    tool_calls, thinking = assembler.tool_calls(), assembler.thinking
                    provider_id = assembler.request_id
                    if usage is None:  # complete by its end marker, but the provider sent no usage
                        usage = Usage(lr.prompt_tokens(), count_tokens(text))
                else:
                    result = adapter.parse_plain(raw, headers_in)
                    text, finish, usage = result.text, result.finish_reason, result.usage
                    tool_calls, thinking = result.tool_calls, result.thinking
                    provider_id = result.request_id
            except asyncio.CancelledError:
                if timer is not None and timer.expired():
                    raise deadline_error(timer.kind, spec.provider, spec.name, self._stall_s) from None
                raise
            finally:
                if timer is not None:
                    timer.disarm()
            neutral = None if finish is None else adapter.finish_reasons.get(finish, finish)
            if neutral == "content_filter":
                billed_override = usage
                raise ContentFiltered(
                    f"{spec.name} stopped the answer on its content policy (finish reason {finish!r})",
                    status=status, request_id=provider_id, code=finish, provider=spec.provider, model=spec.name,
                )  # fmt: skip
        except ProviderError as err:
            await self._failed(
                lr, route, err, n, t0, status, assembler, billed_override, permit, held, reservation, prompt, max_tokens
            )
            raise
        except BaseException as exc:
            billed = self._billed(lr, status, assembler, billed_override)
            counted = self._counted(billed, status, sent=True, prompt=prompt, max_tokens=max_tokens)
            cost = await self._settle(lr, route, attribution, billed, held, reservation, prompt, max_tokens, counted)
            if permit is not None and breaker is not None:
                await breaker.release_permit(permit)
            error = "Cancelled" if isinstance(exc, asyncio.CancelledError) else type(exc).__name__
            lr.attempts.append((n, t0, clock(), spec.name, status, error, None, None, None, _money(cost)))
            raise
        finally:
            if response is not None:
                await response.aclose()

        # booking: the cost tracker, the budget, the limiter, the breaker, the throttle, the record
        now = clock()
        budgets = self.sync_budgets
        if sync_limiter is not None and (held is None or budgets is not None):  # all in memory
            cost = _ZERO
            if usage.input_tokens or usage.output_tokens:
                cost = self.cost.record_for(attribution, usage)
                lr.cost += cost
            if held is not None:
                assert budgets is not None
                budgets.settle(held, cost) if cost else budgets.cancel(held)
            if type(reservation) is Grant:
                sync_limiter.settle_grant(reservation, prompt, max_tokens, usage)
            else:
                sync_limiter.settle_now(reservation, usage)
        else:
            cost = await self._settle(lr, route, attribution, usage, held, reservation, prompt, max_tokens)
        duration = (first if first is not None else now) - t0
        if sync_breaker is not None:
            sync_breaker.record(permit, "success", duration_s=duration)
        elif breaker is not None:
            await breaker.report(permit, "success", duration_s=duration)
        if throttle is not None:
            throttle.record(True)
        attempts = lr.attempts
        attempts.append((n, t0, now, spec.name, status, None, provider_id, None, None, _money(cost)))
        if len(attempts) == 1:  # the common case
            request_ids: tuple[str, ...] = () if provider_id is None else (provider_id,)
        else:
            request_ids = lr.request_ids()
        first_seen = lr.first_delivered if lr.first_delivered is not None else first
        return _make_response(
            # the configured name of the model that answered (a provider may report a dated snapshot name)
            lr.prefix + text, spec.name, spec.provider, neutral, usage, cost, lr.id, len(attempts),
            request_ids, now - lr.t_start, None if first_seen is None else first_seen - lr.t_start, lr.cost,
            "provider", tool_calls, thinking, None, None,
        )  # fmt: skip

    # ------------------------------------------------------------------------------------ booking
    def _billed(
        self, lr: LogicalRequest, status: int, assembler: StreamAssembler | None, override: Usage | None
    ) -> Usage:
        """What the provider bills for a failed attempt: nothing without a 2xx status; else the prompt
        and the output it sent (the ledger rule of docs/fake-provider.md, which real providers share)."""
        if override is not None:
            return override
        if not 200 <= status < 300:
            return _NOTHING
        if assembler is not None:
            return assembler.billed_usage(lr.prompt_tokens())
        return Usage(lr.prompt_tokens(), 0)

    async def _settle(
        self,
        lr: LogicalRequest,
        route: Route,
        attribution: Attribution,
        usage: Usage,
        held: Any,
        reservation: Any,
        prompt: int,
        max_tokens: int,
        counted: Usage | None = None,
    ) -> Decimal:
        """Charge ``usage`` to the cost tracker and the budget, ``counted`` (default: ``usage``) to the
        limiter; returns the cost.

        ``reservation``: a :class:`Reservation`, or the grant of a memory limiter's ``grant_now`` (for
        ``prompt`` input and ``max_tokens`` output tokens).
        """
        cost = _ZERO
        if usage.input_tokens or usage.output_tokens:
            cost = self.cost.record_for(attribution, usage)
            lr.cost += cost
        if held is not None:
            await self._release_budget(held, cost)
        if counted is None:
            counted = usage
        limiter = route.sync_limiter
        if limiter is not None and type(reservation) is Grant:
            limiter.settle_grant(reservation, prompt, max_tokens, counted)
        elif limiter is not None:
            limiter.settle_now(reservation, counted)
        else:
            await route.limiter.settle(reservation, counted)
        return cost

    @staticmethod
    def _counted(billed: Usage, status: int, *, sent: bool, prompt: int, max_tokens: int) -> Usage:
        """What the provider's rate limiter counted for a failed attempt.

        A request the provider received was admitted against its limits (the prompt and max_tokens,
        OpenAI's rule) whatever happened next — a 5xx, a reset, a cut stream, a client that gave up
        waiting — so the client's limiter keeps the estimate instead of refunding it; refunding would let
        the next window over-admit. Only a 429 (refused, nothing counted) or a request that never left
        is refunded down to what was billed.
        """
        if not sent or status == 429:
            return billed
        return Usage(max(prompt, billed.input_tokens), max(max_tokens, billed.output_tokens))

    async def _failed(
        self,
        lr: LogicalRequest,
        route: Route,
        err: ProviderError,
        n: int,
        t0: float,
        status: int,
        assembler: StreamAssembler | None,
        override: Usage | None,
        permit: Any,
        held: Any,
        reservation: Any,
        prompt: int,
        max_tokens: int,
    ) -> None:
        """Book a failed attempt everywhere: cost of what was billed, budget, limiter, breaker, record."""
        spec = route.spec
        if any(key.secret in err.message for key in route.keys.keys):
            err.message = route.keys.scrub(err.message)
            err.args = (err.message,)
        label = lr.key_used.label if lr.key_used is not None else None
        attribution = Attribution(spec.name, lr.request.user, lr.request.feature, label)
        billed = self._billed(lr, status, assembler, override)
        sent = not isinstance(err, ConnectError)
        counted = self._counted(billed, status, sent=sent, prompt=prompt, max_tokens=max_tokens)
        cost = await self._settle(lr, route, attribution, billed, held, reservation, prompt, max_tokens, counted)
        now = self._clock()
        kind = outcome_kind(err)
        if permit is not None and route.breaker is not None:
            if isinstance(err, DeadlineExceeded) and err.code == "total":
                # the request ran out of its own time (queueing included): not a verdict on the provider
                await route.breaker.release_permit(permit)
            else:
                await route.breaker.report(permit, kind, duration_s=now - t0, retry_after_s=err.retry_after_s)
        if route.throttle is not None:
            route.throttle.record(kind in _ACCEPTED)
        attempt = (n, t0, now, spec.name, status, err.kind, err.request_id, err.retry_after_s, None, _money(cost))
        lr.attempts.append(attempt)
        lr.partial = assembler.text if assembler is not None and lr.delivered else ""
