"""Prometheus metrics of the fake provider, rendered as the text exposition format at ``GET /metrics``.

Counters are plain dicts the provider's accounts update in batches, off the request path (the
``sync`` hook brings them up to date before every render); the rendering follows the exposition
format 0.0.4, so any Prometheus (or ``prometheus_client.parser``) reads it. Label cardinality is
bounded: unknown models are labelled ``"unknown"``.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from decimal import Decimal

__all__ = ["BUCKETS", "ProviderMetrics"]

#: latency histogram bucket bounds, seconds
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def _nothing() -> None:
    return None


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class ProviderMetrics:
    """Requests by (api, model, status), tokens by (api, model, kind), latency by api, cost by model."""

    __slots__ = ("_sync", "cost", "latency", "requests", "tokens")

    def __init__(self, sync: Callable[[], None] = _nothing) -> None:
        self._sync = sync  # called before rendering: folds pending attempts in
        self.requests: dict[tuple[str, str, int], int] = {}
        self.tokens: dict[tuple[str, str, str], int] = {}
        self.latency: dict[str, list[float]] = {}  # api → bucket counts (+Inf last), then sum, count
        self.cost: dict[str, Decimal] = {}

    def observe(
        self, api: str, model: str, status: int, prompt: int, output: int, duration_s: float, cost: Decimal
    ) -> None:
        key = (api, model, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        if prompt:
            tkey = (api, model, "prompt")
            self.tokens[tkey] = self.tokens.get(tkey, 0) + prompt
        if output:
            tkey = (api, model, "output")
            self.tokens[tkey] = self.tokens.get(tkey, 0) + output
        hist = self.latency.get(api)
        if hist is None:
            hist = self.latency[api] = [0.0] * (len(BUCKETS) + 3)
        hist[bisect.bisect_left(BUCKETS, duration_s)] += 1
        hist[-2] += duration_s
        hist[-1] += 1
        if cost:
            self.cost[model] = self.cost.get(model, Decimal(0)) + cost

    def render(self) -> str:
        self._sync()
        lines = [
            "# HELP fake_provider_requests_total Attempts answered, by API, model and HTTP status (0: no status).",
            "# TYPE fake_provider_requests_total counter",
        ]
        for (api, model, status), n in sorted(self.requests.items()):
            lines.append(f'fake_provider_requests_total{{api="{api}",model="{_label(model)}",status="{status}"}} {n}')
        lines += [
            "# HELP fake_provider_tokens_total Tokens counted, by API, model and kind (prompt, output).",
            "# TYPE fake_provider_tokens_total counter",
        ]
        for (api, model, kind), n in sorted(self.tokens.items()):
            lines.append(f'fake_provider_tokens_total{{api="{api}",model="{_label(model)}",kind="{kind}"}} {n}')
        lines += [
            "# HELP fake_provider_billed_usd_total Amount billed, by model.",
            "# TYPE fake_provider_billed_usd_total counter",
        ]
        for model, usd in sorted(self.cost.items()):
            lines.append(f'fake_provider_billed_usd_total{{model="{_label(model)}"}} {float(usd)!r}')
        lines += [
            "# HELP fake_provider_request_duration_seconds Arrival to last byte, by API.",
            "# TYPE fake_provider_request_duration_seconds histogram",
        ]
        for api, hist in sorted(self.latency.items()):
            cumulative = 0.0
            for bound, count in zip((*BUCKETS, "+Inf"), hist[: len(BUCKETS) + 1], strict=True):
                cumulative += count
                le: str = bound if isinstance(bound, str) else repr(bound)
                lines.append(
                    f'fake_provider_request_duration_seconds_bucket{{api="{api}",le="{le}"}} {int(cumulative)}'
                )
            lines.append(f'fake_provider_request_duration_seconds_sum{{api="{api}"}} {hist[-2]!r}')
            lines.append(f'fake_provider_request_duration_seconds_count{{api="{api}"}} {int(hist[-1])}')
        return "\n".join(lines) + "\n"

    def clear(self) -> None:
        self.requests = {}
        self.tokens = {}
        self.latency = {}
        self.cost = {}
