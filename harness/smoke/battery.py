"""The smoke battery: a few calls through the reference client, each judged as a check.

::

    plain        an answer, with usage                                  (kind "chat")
    rate_limits  the limit, remaining and reset headers of that answer
    stream       a streamed answer whose usage the stream reported      (kind "chat_stream")
    must_fail    an unknown model: a typed NotFound, not retried, free  (kind "error_unknown_model")
    burst        a few concurrent calls within what the headers left    (kind "chat")
    cost         each answer's cost = price table × the usage reported
    cap          spent ≤ --max-cost-usd (the client's hard budget held it)

Every call goes through :class:`~harness.client.ResilientClient` with a hard ``total`` budget at the
cap, one retry for transient failures, no breaker (each check should fail for its own reason), and a
:class:`~harness.smoke.recording.RecordingTransport`, whose copies of the responses become the shapes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from harness.client import (
    AiohttpTransport,
    BudgetRule,
    ChatRequest,
    ChatResponse,
    ClientConfig,
    Message,
    ModelSpec,
    ResilientClient,
    RetryConfig,
    Timeouts,
    Transport,
)
from harness.client.adapters import ADAPTERS
from harness.errors import HarnessError, NotFound, ProviderError
from harness.pricing import Usage
from harness.smoke.plan import PROMPT, PROMPT_ALLOWANCE_TOKENS, UNKNOWN_MODEL, SmokeSettings, preflight
from harness.smoke.recording import CALL_KIND, Exchange, RecordingTransport
from harness.smoke.shapes import exchange_shape, merge_exchange
from harness.wire.neutral import RateLimits

__all__ = ["BatteryResult", "Check", "client_config", "describe_error", "run_battery"]

PASS, FAIL, SKIP = "pass", "fail", "skip"


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the table: a name, pass / fail / skip, and a sentence saying why."""

    name: str
    status: str
    detail: str

    @property
    def failed(self) -> bool:
        return self.status == FAIL


@dataclass
class BatteryResult:
    """What the battery found and what it spent."""

    checks: list[Check] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    spent_usd: Decimal = Decimal(0)
    answers: list[tuple[str, ChatResponse]] = field(default_factory=list)  # (kind, answer): "chat" or "chat_stream"
    limits: RateLimits | None = None

    @property
    def passed(self) -> bool:
        return not any(c.failed for c in self.checks)

    def shapes(self) -> dict[str, Any]:
        """Every complete response's shape, merged per kind (non-2xx answers of a kind get ``kind_STATUS``)."""
        out: dict[str, Any] = {}
        for ex in self.exchanges:
            if not ex.complete:
                continue
            kind = ex.kind if ex.status < 300 or ex.kind.startswith("error_") else f"{ex.kind}_{ex.status}"
            shape = exchange_shape(ex.status, ex.headers, ex.body, ex.chunks)
            out[kind] = merge_exchange(out[kind], shape) if kind in out else shape
        return dict(sorted(out.items()))


def _money(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def describe_error(exc: BaseException) -> str:
    """An error as one line: its type, status and code, and its message."""
    if isinstance(exc, ProviderError):
        parts = [f"HTTP {exc.status}" if exc.status else "no HTTP status"]
        if exc.code:
            parts.append(f"code {exc.code}")
        return f"{exc.kind} ({', '.join(parts)}): {exc.message}"
    return f"{type(exc).__name__}: {exc}"


class _Battery:
    def __init__(self, settings: SmokeSettings, client: ResilientClient, recorder: RecordingTransport) -> None:
        self.settings = settings
        self.client = client
        self.recorder = recorder
        self.adapter = ADAPTERS[settings.provider]
        self.result = BatteryResult(exchanges=recorder.exchanges)
        self.prices = client.config.price_table()

    def request(self, model: str | None = None) -> ChatRequest:
        messages = tuple(Message(role, text) for role, text in PROMPT)
        return ChatRequest(model or self.settings.model, messages, max_tokens=self.settings.max_tokens, temperature=0)

    def add(self, name: str, status: str, detail: str) -> Check:
        check = Check(name, status, detail)
        self.result.checks.append(check)
        return check

    async def timed(self, call: Awaitable[Any]) -> Any:
        async with asyncio.timeout(self.settings.timeout_s * self.settings.max_attempts):
            return await call

    # ------------------------------------------------------------------------------------ checks
    async def plain(self) -> ChatResponse | None:
        token = CALL_KIND.set("chat")
        try:
            answer: ChatResponse = await self.timed(self.client.chat(self.request()))
        except (HarnessError, TimeoutError) as exc:
            self.add("plain", FAIL, describe_error(exc))
            return None
        finally:
            CALL_KIND.reset(token)
        self.result.answers.append(("chat", answer))
        usage = answer.usage
        problems = []
        if not answer.text.strip():
            problems.append("the answer has no text")
        if usage.input_tokens <= 0 or usage.output_tokens <= 0:
            problems.append(f"usage reports {usage.input_tokens} input / {usage.output_tokens} output tokens")
        detail = (
            f"{usage.input_tokens} in / {usage.output_tokens} out tokens, finish {answer.finish_reason}, "
            f"{answer.latency_s:.2f} s, {answer.attempts} attempt(s)"
        )
        self.add("plain", FAIL if problems else PASS, "; ".join(problems) if problems else detail)
        return answer

    def rate_limits(self) -> None:
        answered = [e for e in self.recorder.of("chat") if 200 <= e.status < 300]
        if self.settings.provider == "gemini":
            self.add("rate_limits", SKIP, "Gemini announces no limits in response headers (its 429s carry RetryInfo)")
            return
        if not answered:
            self.add("rate_limits", FAIL, "no successful answer to read rate-limit headers from")
            return
        headers = dict(answered[-1].headers)
        limits = self.adapter.parse_limits(headers, time.time())
        self.result.limits = limits
        families = {
            "requests": (limits.requests_limit, limits.requests_remaining, limits.requests_reset_s),
            "tokens": (limits.tokens_limit, limits.tokens_remaining, limits.tokens_reset_s),
            "input-tokens": (limits.input_tokens_limit, limits.input_tokens_remaining, limits.input_tokens_reset_s),
            "output-tokens": (limits.output_tokens_limit, limits.output_tokens_remaining, limits.output_tokens_reset_s),
        }
        read = {name: values for name, values in families.items() if any(v is not None for v in values)}
        incomplete = [name for name, values in read.items() if any(v is None for v in values)]
        parts = [f"{name} {lim} limit, {rem} left, reset in {reset:.2f} s" for name, (lim, rem, reset) in read.items()
                 if None not in (lim, rem, reset)]  # fmt: skip
        if "requests" not in read or not ({"tokens", "input-tokens"} & set(read)):
            missing = [n for n in ("requests", "tokens") if n not in read]
            self.add("rate_limits", FAIL, f"no {' or '.join(missing)} rate-limit headers on the answer")
        elif incomplete:
            self.add("rate_limits", FAIL, f"incomplete family: {', '.join(incomplete)} (limit, remaining and reset)")
        else:
            self.add("rate_limits", PASS, "; ".join(parts))

    async def stream(self) -> None:
        token = CALL_KIND.set("chat_stream")
        deltas = 0
        try:
            async with self.client.stream(self.request()) as stream:
                async with asyncio.timeout(self.settings.timeout_s * self.settings.max_attempts):
                    async for delta in stream:
                        if not delta.final and delta.text:
                            deltas += 1
            answer = stream.response
        except (HarnessError, TimeoutError) as exc:
            self.add("stream", FAIL, describe_error(exc))
            return
        finally:
            CALL_KIND.reset(token)
        assert answer is not None
        self.result.answers.append(("chat_stream", answer))
        reported = self.stream_usage()
        problems = []
        if deltas == 0:
            problems.append("no text delta arrived")
        if reported is None:
            problems.append("the stream reported no usage (the client had to estimate it)")
        elif reported != answer.usage:
            problems.append(f"the client booked {answer.usage}, the stream reported {reported}")
        ttft = "?" if answer.ttft_s is None else f"{answer.ttft_s:.2f} s"
        detail = (
            f"{deltas} text deltas, first after {ttft}, usage {answer.usage.input_tokens} in / "
            f"{answer.usage.output_tokens} out reported by the stream"
        )
        self.add("stream", FAIL if problems else PASS, "; ".join(problems) if problems else detail)

    def stream_usage(self) -> Usage | None:
        """The usage the last complete stream reported, as its wire module reads it."""
        streams = [e for e in self.recorder.of("chat_stream") if e.complete and e.status == 200]
        if not streams:
            return None
        reader = self.adapter.stream_reader()
        usage = None
        for chunk in streams[-1].chunks or ():
            for event in reader.feed(chunk):
                if event.usage is not None:
                    usage = event.usage
        for event in reader.finish():
            if event.usage is not None:
                usage = event.usage
        return usage

    async def must_fail(self) -> None:
        token = CALL_KIND.set("error_unknown_model")
        try:
            answer = await self.timed(self.client.chat(self.request(UNKNOWN_MODEL)))
        except NotFound as exc:
            record = self.client.outcomes()[-1]
            charged = sum((Decimal(a.cost_usd or "0") for a in record.attempts), Decimal(0))
            problems = []
            if len(record.attempts) != 1:
                problems.append(f"{len(record.attempts)} attempts (a 404 must not be retried)")
            if charged:
                problems.append(f"charged ${charged}")
            if problems:
                self.add("must_fail", FAIL, f"{describe_error(exc)}; " + "; ".join(problems))
            else:
                self.add("must_fail", PASS, f"{describe_error(exc)}; 1 attempt, cost $0")
            return
        except (HarnessError, TimeoutError) as exc:
            self.add("must_fail", FAIL, f"expected NotFound for model {UNKNOWN_MODEL!r}, got {describe_error(exc)}")
            return
        finally:
            CALL_KIND.reset(token)
        self.add("must_fail", FAIL, f"model {UNKNOWN_MODEL!r} answered ({answer.usage.output_tokens} tokens)")

    def burst_size(self) -> tuple[int, str]:
        """How many concurrent calls the announced limits leave room for, and why that many."""
        size, why = self.settings.burst, f"at most {self.settings.burst}"
        limits = self.result.limits
        if limits is None:
            return size, why + ("; no limits announced" if self.settings.provider == "gemini" else "")
        tokens = PROMPT_ALLOWANCE_TOKENS + self.settings.max_tokens  # what one call may count against a limit
        room = []
        if limits.requests_remaining is not None:
            room.append((limits.requests_remaining - 1, f"{limits.requests_remaining} requests left"))
        for remaining, name in ((limits.tokens_remaining, "tokens"), (limits.input_tokens_remaining, "input tokens"),
                                (limits.output_tokens_remaining, "output tokens")):  # fmt: skip
            if remaining is not None:
                room.append((remaining // tokens - 1, f"{remaining} {name} left"))
        for n, reason in room:
            if n < size:
                size, why = max(n, 0), reason
        return size, why

    async def burst(self) -> None:
        size, why = self.burst_size()
        if size < 2:
            self.add("burst", SKIP, f"the announced limits leave room for {size} concurrent call(s) ({why})")
            return
        token = CALL_KIND.set("chat")
        try:
            started = len(self.client.outcomes())
            calls = [self.timed(self.client.chat(self.request())) for _ in range(size)]
            results = await asyncio.gather(*calls, return_exceptions=True)
        finally:
            CALL_KIND.reset(token)
        records = self.client.outcomes()[started:]
        limited = sum(1 for r in records for a in r.attempts if a.status == 429)
        failures = [r for r in results if isinstance(r, BaseException)]
        for r in results:
            if isinstance(r, ChatResponse):
                self.result.answers.append(("chat", r))
        if failures or limited:
            first = describe_error(failures[0]) if failures else ""
            self.add("burst", FAIL, f"{len(failures)} of {size} failed, {limited} attempt(s) got 429. {first}".strip())
        else:
            self.add("burst", PASS, f"{size} concurrent calls ({why}), all answered, no 429")

    def cost(self) -> None:
        """Each answer's cost, again: the price table × the usage the provider's bytes reported."""
        if not self.result.answers:
            self.add("cost", FAIL, "no answer to price")
            return
        price = self.prices.find(self.settings.model)
        assert price is not None  # preflight refused unpriced models
        reported = self.reported_usage()
        streamed = self.stream_usage()
        problems, total = [], Decimal(0)
        for kind, answer in self.result.answers:
            pid = answer.provider_request_ids[-1] if answer.provider_request_ids else ""
            usage = streamed if kind == "chat_stream" else reported.get(pid)
            if usage is None:
                problems.append(f"no usage reported for the {kind} answer {pid or answer.request_id}")
                continue
            expected = price.cost(usage)
            total += expected
            if expected != answer.cost_usd:
                problems.append(f"client booked ${answer.cost_usd}, price table × reported usage = ${expected}")
        if problems:
            self.add("cost", FAIL, "; ".join(problems[:3]))
            return
        self.add(
            "cost",
            PASS,
            f"{len(self.result.answers)} answers, ${_money(total)} in all, each = reported usage × "
            f"${price.input} / ${price.output} per 1M tokens in / out",
        )

    def reported_usage(self) -> dict[str, Usage]:
        """Provider request id → the usage its plain body reported (read by the wire module)."""
        out: dict[str, Usage] = {}
        for ex in self.recorder.of("chat"):
            if ex.complete and 200 <= ex.status < 300:
                try:
                    result = self.adapter.parse_plain(ex.body, dict(ex.headers))
                except HarnessError:
                    continue
                if result.request_id:
                    out[result.request_id] = result.usage
        return out

    def cap(self, worst_case: Decimal) -> None:
        spent = self.client.cost.total  # every attempt the client's ledger charged, answers or not
        self.result.spent_usd = spent
        cap = self.settings.max_cost_usd
        refused = [e for e in self.client.events() if e.kind == "budget_hard"]
        detail = f"spent ${_money(spent)} of the ${cap} cap (worst case ${_money(worst_case)})"
        if refused:
            detail += f"; the hard budget refused {len(refused)} call(s)"
        self.add("cap", PASS if spent <= cap else FAIL, detail)


def client_config(settings: SmokeSettings, key: str) -> ClientConfig:
    """The reference client of a smoke run: the model, the unknown one, a hard budget at the cap."""
    base = settings.base_url
    spec = ModelSpec(settings.model, settings.provider, base, api_keys=(key,))
    price = spec.price or ClientConfig(models=(spec,)).price_table().find(settings.model)
    unknown = ModelSpec(UNKNOWN_MODEL, settings.provider, base, api_keys=(key,), price=price)
    estimate = preflight(settings)
    budget = BudgetRule("global", "*", "total", hard_usd=settings.max_cost_usd - estimate.allowance_usd)
    timeouts = Timeouts(
        connect_s=10.0, first_token_s=settings.timeout_s, stall_s=settings.timeout_s, attempt_s=settings.timeout_s,
        total_s=settings.timeout_s * settings.max_attempts,
    )  # fmt: skip
    return ClientConfig(
        models=(spec, unknown),
        retry=RetryConfig(max_attempts=settings.max_attempts),
        retry_budget=None,
        breaker=None,
        budgets=(budget,),
        timeouts=timeouts,
        name="smoke",
    )


async def run_battery(
    settings: SmokeSettings,
    key: str,
    *,
    transport: Transport | None = None,
    on_check: Callable[[str], None] | None = None,
) -> BatteryResult:
    """Run every check against the provider ``settings`` names (``on_check``: told each check's name first)."""
    config = client_config(settings, key)
    inner = transport or AiohttpTransport(config.transport, connect_timeout_s=config.timeouts.connect_s)
    recorder = RecordingTransport(inner)
    worst = preflight(settings).total_usd
    tell = on_check or (lambda name: None)
    async with ResilientClient(config, transport=recorder, env={}) as client:
        battery = _Battery(settings, client, recorder)
        tell("plain")
        await battery.plain()
        battery.rate_limits()
        tell("stream")
        await battery.stream()
        tell("must_fail")
        await battery.must_fail()
        tell("burst")
        await battery.burst()
        battery.cost()
        battery.cap(worst)
        return battery.result
