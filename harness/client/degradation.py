"""The degradation ladder: what the client serves when the primary model cannot (off unless declared).

When a rule says the primary should not be asked (every breaker of its chain, fallbacks included, is
open; the budget is nearly spent; the provider's rate-limit headers say little of its quota is left),
or the primary failed this request, or it had not begun to answer within the ladder's deadline, the
client walks down a ladder of cheaper answers, in order::

    cache    a recent answer to the very same request (the ladder's own store of good answers)
    cheaper  one call to a cheaper model (skipped while its breaker is open or the budget is almost gone)
    static   a fixed answer the team wrote ("We are busy; here is the help page"), zero cost
    error    the request fails (the primary's error, or ``Degraded`` when the primary was never asked)

Every outcome records the step that served it (``degradation_step``: ``primary`` or one of the
steps above). The rules are plain data (:class:`DegradationConfig`) and the decision is a pure
function of :class:`Signals` (:func:`trigger`, :func:`steps_for`): no I/O, no clock, so tests pin each
rule. :class:`StaleAnswers` and :class:`QuotaGauge` take times from the caller (an injected clock).

Example (TOML)::

    [client.degradation]
    steps = ["cache", "cheaper", "static"]   # in this order ("error" is always last); the default, or
                                             # ["cache", "static"] without a cheaper_model
    cheaper_model = "gpt-4o-mini"            # one of [[client.models]]
    static_answer = "We are answering many questions right now; please try again in a minute."
    on_breaker_open = true                   # the primary's breaker is open: do not ask it
    on_failure = true                        # the primary failed this request: degrade
    budget_usd = "0.05"                      # what budget_share counts against (default: the first
                                             # global hard budget of [[client.budgets]])
    degrade_above = 0.8                      # spent ≥ 80 % of it: do not ask the primary
    static_above = 0.95                      # spent ≥ 95 %: not the cheaper model either
    quota_below = 0.1                        # the provider said < 10 % of the primary's quota is left
    primary_deadline_s = 8                   # no answer (streamed: no first text) within 8 s: give up on
                                             # the primary for this request and go down the ladder

See ``docs/degradation.md``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from decimal import Decimal
from typing import Generic, TypeVar

from harness.clock import Clock
from harness.errors import ConfigError
from harness.records import DEGRADATION_STEPS
from harness.validate import Table
from harness.wire.neutral import RateLimits

__all__ = [
    "LADDER_STEPS",
    "STEPS",
    "DegradationConfig",
    "QuotaGauge",
    "Signals",
    "StaleAnswers",
    "steps_for",
    "trigger",
]

#: the steps a ladder may declare, in the order the ladder walks them
LADDER_STEPS = ("cache", "cheaper", "static")
STEPS = DEGRADATION_STEPS  # every value of OutcomeRecord.degradation_step, best first
_WHERE = "client.degradation"
_STATIC = "The service is busy; please try again in a minute."


@dataclass(frozen=True, slots=True)
class DegradationConfig:
    """The ladder's steps and the rules that send a request down it."""

    steps: tuple[str, ...] = LADDER_STEPS
    cheaper_model: str | None = None  # required when "cheaper" is a step
    static_answer: str = _STATIC
    on_breaker_open: bool = True  # the primary's breaker refuses calls: go down the ladder at once
    on_failure: bool = True  # the primary failed this request (after its retries): go down the ladder
    budget_usd: Decimal | None = None  # what the shares count against; None: the first global hard budget
    degrade_above: float | None = None  # spent share of the budget at or above which the primary is not asked
    static_above: float | None = None  # spent share at or above which the cheaper model is not asked either
    quota_below: float | None = (
        None  # share of the primary's quota left (its last rate-limit headers) below which it is not asked
    )
    primary_deadline_s: float | None = None  # the primary must answer (or stream its first text) within this
    cache_ttl_s: float = 600.0  # a remembered answer older than this is not served
    cache_max_entries: int = 1000  # beyond this the least recently used answer goes

    def __post_init__(self) -> None:
        if not isinstance(self.steps, tuple) or not self.steps:
            raise ConfigError(f"{_WHERE}.steps", f"expected a non-empty list of {LADDER_STEPS}, got {self.steps!r}")
        for step in self.steps:
            if step not in LADDER_STEPS:
                what = f"expected steps among {LADDER_STEPS} ('error' is always last), got {step!r}"
                raise ConfigError(f"{_WHERE}.steps", what)
        if len(set(self.steps)) != len(self.steps):
            raise ConfigError(f"{_WHERE}.steps", f"each step once, got {list(self.steps)}")
        if list(self.steps) != sorted(self.steps, key=LADDER_STEPS.index):
            raise ConfigError(f"{_WHERE}.steps", f"expected the ladder's order {LADDER_STEPS}, got {list(self.steps)}")
        if "cheaper" in self.steps and not self.cheaper_model:
            raise ConfigError(f"{_WHERE}.cheaper_model", 'required when "cheaper" is a step')
        if not isinstance(self.static_answer, str) or not self.static_answer.strip():
            raise ConfigError(f"{_WHERE}.static_answer", "expected a non-empty text")
        if self.quota_below is not None and not (
            isinstance(self.quota_below, int | float) and 0 < self.quota_below < 1
        ):
            raise ConfigError(
                f"{_WHERE}.quota_below", f"expected a share of the quota in (0, 1), got {self.quota_below!r}"
            )
        for name in ("degrade_above", "static_above"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int | float) and 0 < value <= 1):
                raise ConfigError(f"{_WHERE}.{name}", f"expected a share of the budget in (0, 1], got {value!r}")
        if self.budget_usd is not None and not (self.budget_usd.is_finite() and self.budget_usd > 0):
            raise ConfigError(f"{_WHERE}.budget_usd", f"expected an amount > 0, got {self.budget_usd!r}")
        deadline = self.primary_deadline_s
        if deadline is not None and not (isinstance(deadline, int | float) and 0 < deadline <= 3600):
            raise ConfigError(f"{_WHERE}.primary_deadline_s", f"expected seconds in (0, 3600], got {deadline!r}")
        if not (isinstance(self.cache_ttl_s, int | float) and self.cache_ttl_s > 0):
            raise ConfigError(f"{_WHERE}.cache_ttl_s", f"expected seconds > 0, got {self.cache_ttl_s!r}")
        if not (isinstance(self.cache_max_entries, int) and 1 <= self.cache_max_entries <= 1_000_000):
            raise ConfigError(f"{_WHERE}.cache_max_entries", f"expected 1 to 1,000,000, got {self.cache_max_entries!r}")
        rules = (self.on_breaker_open, self.on_failure, self.degrade_above is not None, deadline is not None)
        if not any(rules):
            raise ConfigError(
                _WHERE,
                "no rule sends a request down the ladder: set on_breaker_open, on_failure, degrade_above "
                "or primary_deadline_s",
            )

    @property
    def uses_budget(self) -> bool:
        return self.degrade_above is not None or self.static_above is not None

    @classmethod
    def parse(cls, data: object, path: str) -> DegradationConfig | None:
        """The table, or None when it says ``enabled = false``."""
        t = Table(data, path)
        if not t.bool("enabled", default=True):
            return None
        cheaper = t.str("cheaper_model", default=None)
        default_steps = LADDER_STEPS if cheaper is not None else ("cache", "static")
        budget = t.raw("budget_usd", default=None)
        amount = None
        if budget is not None:
            try:
                amount = Decimal(str(budget))
            except ArithmeticError:
                raise t.error("budget_usd", f"expected an amount in USD, got {budget!r}") from None
        result = cls(
            steps=tuple(t.str_list("steps", default=default_steps)),
            cheaper_model=cheaper,
            static_answer=t.str("static_answer", default=_STATIC),
            on_breaker_open=t.bool("on_breaker_open", default=True),
            on_failure=t.bool("on_failure", default=True),
            budget_usd=amount,
            degrade_above=t.float("degrade_above", default=None, min=0, max=1, exclusive_min=True),
            static_above=t.float("static_above", default=None, min=0, max=1, exclusive_min=True),
            quota_below=t.float("quota_below", default=None, min=0, max=1, exclusive_min=True),
            primary_deadline_s=t.float("primary_deadline_s", default=None, min=0, max=3600, exclusive_min=True),
            cache_ttl_s=t.float("cache_ttl_s", default=600.0, min=0, exclusive_min=True),
            cache_max_entries=t.int("cache_max_entries", default=1000, min=1, max=1_000_000),
        )
        t.done()
        return result


@dataclass(frozen=True, slots=True)
class Signals:
    """What the rules look at for one request, read by the client just before it decides."""

    primary_open: bool = False  # the primary's breaker refuses calls now, and so do its fallbacks' breakers
    cheaper_open: bool = False  # the cheaper model's breaker refuses calls now
    spent_share: float | None = None  # spent / budget_usd (None: no budget to count against)
    quota_share: float | None = None  # the primary's quota left, as its last headers said (None: not known)
    primary_failed: bool = False  # the primary was asked and failed
    primary_slow: bool = False  # the primary was asked and had not begun to answer by the ladder's deadline


def trigger(config: DegradationConfig, signals: Signals) -> str | None:
    """Why this request goes down the ladder ("budget", "breaker_open", "quota", "primary_failed",
    "primary_slow"), or None: ask the primary."""
    share = signals.spent_share
    if config.degrade_above is not None and share is not None and share >= config.degrade_above:
        return "budget"
    if config.on_breaker_open and signals.primary_open:
        return "breaker_open"
    quota = signals.quota_share
    if config.quota_below is not None and quota is not None and quota < config.quota_below:
        return "quota"
    if config.on_failure and signals.primary_failed:
        return "primary_failed"
    if config.primary_deadline_s is not None and signals.primary_slow:
        return "primary_slow"
    return None


def steps_for(config: DegradationConfig, signals: Signals) -> tuple[str, ...]:
    """The ladder's steps to try for a degraded request, in order (the cheaper model left out while
    its breaker is open or the budget's share is at or above ``static_above``)."""
    share = signals.spent_share
    no_cheaper = signals.cheaper_open or (
        config.static_above is not None and share is not None and share >= config.static_above
    )
    return tuple(s for s in config.steps if not (s == "cheaper" and no_cheaper))


_V = TypeVar("_V")


class StaleAnswers(Generic[_V]):
    """The ladder's cache step: the latest good answer per request key, kept ``ttl_s``, LRU-bounded."""

    def __init__(self, ttl_s: float, max_entries: int, *, clock: Clock) -> None:
        self._ttl = ttl_s
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, _V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, key: Hashable, value: _V) -> None:
        self._entries[key] = (self._clock(), value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def get(self, key: Hashable) -> _V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        stored, value = entry
        if self._clock() - stored > self._ttl:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value


class QuotaGauge:
    """How much of a model's quota the provider's rate-limit headers said was left, until their reset.

    ``see`` takes each response's headers (parsed) and the time they came; ``share(now)`` is the
    smallest remaining / limit over the dimensions the headers gave both for (requests, tokens, input
    and output tokens), or None when no header said so or the earliest of their resets has passed.
    """

    def __init__(self, hold_s: float = 60.0) -> None:
        self._hold_s = hold_s  # how long a reading without a reset time holds
        self._share: float | None = None
        self._until = 0.0

    def see(self, limits: RateLimits, now: float) -> None:
        shares: list[float] = []
        resets: list[float] = []
        for limit, remaining, reset in (
            (limits.requests_limit, limits.requests_remaining, limits.requests_reset_s),
            (limits.tokens_limit, limits.tokens_remaining, limits.tokens_reset_s),
            (limits.input_tokens_limit, limits.input_tokens_remaining, limits.input_tokens_reset_s),
            (limits.output_tokens_limit, limits.output_tokens_remaining, limits.output_tokens_reset_s),
        ):
            if limit is not None and remaining is not None and limit > 0:
                shares.append(max(0.0, remaining / limit))
                if reset is not None and reset >= 0:
                    resets.append(reset)
        if shares:
            self._share = min(shares)
            self._until = now + (min(resets) if resets else self._hold_s)

    def share(self, now: float) -> float | None:
        return self._share if self._share is not None and now < self._until else None
