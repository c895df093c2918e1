"""What the judge needs to know about a run besides the two logs.

The runner fills :class:`RunFacts` from the scenario (fault windows, quotas, budgets, the client's
backoff cap) and from the run itself (start time, issued request ids, wall and simulated seconds).
All times are on the same clock as the logs (virtual or monotonic seconds).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

__all__ = ["BudgetFact", "CacheBaseline", "LimitFact", "RetryBudgetFact", "RunFacts"]


@dataclass(frozen=True, slots=True)
class LimitFact:
    """A provider quota the client must stay under (sliding window).

    ``kind``: ``rpm`` (requests), ``tpm`` (prompt + max_tokens at admission, OpenAI's rule),
    ``itpm`` (input tokens), ``otpm`` (output tokens). ``model`` / ``client`` restrict the scope
    (``client`` is the request log's key hash); ``None`` means every request.
    """

    kind: str
    limit: int
    model: str | None = None
    client: str | None = None
    window_s: float = 60.0
    told_to_client: bool = True  # the client was configured with this limit (gate: 0 violations)


@dataclass(frozen=True, slots=True)
class BudgetFact:
    """A hard cost budget: ``scope`` is "global", "user" or "feature"; ``value`` names the user/feature."""

    scope: str
    limit_usd: Decimal
    value: str | None = None


@dataclass(frozen=True, slots=True)
class RetryBudgetFact:
    """The client's retry budget: retries ≤ ``ratio`` × requests + ``reserve``."""

    ratio: float
    reserve: float


@dataclass(frozen=True, slots=True)
class CacheBaseline:
    """The same scenario and seed run again with the semantic cache off: what the cache is judged against.

    The runner makes it in virtual time whatever the run's own mode (a second run over sockets or under
    Locust would cost as much as the first); ``mode`` says which, so the report can say so.
    """

    mode: str  # how the baseline ran: "virtual"
    seed: int
    requests_logical: int
    attempts: int  # the answers' attempts at the provider (embeddings calls excluded; it makes none)
    success_rate: float | None
    cost_provider_usd: Decimal  # the provider's bill of the baseline, every attempt included
    latency_p50_s: float | None
    latency_p99_s: float | None

    def to_dict(self, money: Callable[[Decimal], str] = str) -> dict[str, object]:
        """As ``summary.json`` shows it (``money`` formats the bill as the summary does)."""
        return {
            "mode": self.mode,
            "seed": self.seed,
            "requests_logical": self.requests_logical,
            "attempts": self.attempts,
            "success_rate": self.success_rate,
            "cost_provider_usd": money(self.cost_provider_usd),
            "latency_p50_s": self.latency_p50_s,
            "latency_p99_s": self.latency_p99_s,
        }


@dataclass(frozen=True, slots=True)
class RunFacts:
    """Everything about a run that is not in the logs."""

    scenario: str
    seed: int
    mode: str  # "virtual" or "real-time"
    t0: float  # run start on the logs' clock
    t_end: float  # run end on the logs' clock
    wall_s: float  # real seconds the run took
    issued_ids: tuple[str, ...] = ()  # every logical request id the load issued
    outages: tuple[tuple[float, float], ...] = ()  # (start, end) on the logs' clock, for the herd metric
    backoff_cap_s: float | None = None  # the client's backoff cap W (8 s for the official SDKs)
    limits: tuple[LimitFact, ...] = ()
    budgets: tuple[BudgetFact, ...] = ()
    retry_budget: RetryBudgetFact | None = None
    max_attempts: int | None = None  # the client's per-request attempt limit
    jitter: str | None = None  # the client's backoff strategy name, for the jitter gate's default
    extra: dict[str, float] = field(default_factory=dict)  # runner-side counters (e.g. breaker opens)
    loop_lag_max_s: float | None = None  # real time: how late the run's event loop ran a timer, at worst
    #: logical id → the question it asks, for loads drawn from a paraphrase pool: two requests are
    #: paraphrases of each other when they ask the same question (the semantic cache's ground truth)
    questions: Mapping[str, str] = field(default_factory=dict)
    #: the same run with the semantic cache off, when the runner made one (exact savings)
    cache_baseline: CacheBaseline | None = None

    @property
    def simulated_s(self) -> float:
        return self.t_end - self.t0
