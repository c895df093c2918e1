"""Gates: a metric, a comparison, a threshold; defaults and their reasons in docs/metrics.md.

In a scenario::

    [[gates]]
    metric = "herd_peak_100ms"          # threshold defaults to the herd gate computed for this run

    [[gates]]
    metric = "success_rate"
    op = ">="
    threshold = 0.99

    [[gates]]
    metric = "latency_p99_s"
    op = "<="
    threshold = 5.0

``threshold`` may also name another metric (``threshold = "herd_gate_100ms"``). A gate whose metric is
not available for the run (``None``: say, a herd gate without an outage) fails, so a misconfigured
gate is never silently green.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from harness.errors import ConfigError
from harness.judge.facts import RunFacts
from harness.validate import Table, describe

__all__ = [
    "DEFAULT_GATES",
    "LAG_TOLERANT",
    "GateResult",
    "GateSpec",
    "default_threshold",
    "evaluate_gates",
    "parse_gates",
]

_OPS: Mapping[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
    "==": operator.eq,
}


@dataclass(frozen=True, slots=True)
class GateSpec:
    """One gate; ``threshold`` None means "the default for this metric"."""

    metric: str
    op: str | None = None
    threshold: float | str | None = None

    @property
    def name(self) -> str:
        return self.metric


@dataclass(frozen=True, slots=True)
class GateResult:
    """A judged gate, as it appears in summary.json."""

    name: str
    op: str
    value: float | str | None
    threshold: float | str | None
    passed: bool
    note: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "op": self.op,
            "value": self.value,
            "threshold": self.threshold,
            "passed": self.passed,
            **({"note": self.note} if self.note else {}),
        }

    def describe(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        note = f" ({self.note})" if self.note else ""
        return f"{self.name} = {self.value} (gate {self.op} {self.threshold}) {verdict}{note}"


def default_threshold(metric: str, facts: RunFacts) -> tuple[str, float | str] | None:
    """The op and threshold docs/metrics.md gives for ``metric``, or None when it has no default."""
    if metric == "herd_peak_100ms":
        return "<=", "herd_gate_100ms"
    if metric in ("retry_after_violations", "lost_requests", "limit_violations", "provider_429s", "auth_failures"):
        return "==", 0
    if metric in ("cost_abs_error_usd", "overspend_usd"):
        return "<=", 0
    if metric == "jitter_cv":
        return ">=", 0.45
    if metric == "goodput_ratio":
        return ">=", 0.97
    if metric == "success_rate":
        return ">=", 0.99
    if metric == "retry_amplification":
        budget = facts.retry_budget
        if budget is not None:
            logical = max(1, len(facts.issued_ids))
            return "<=", round(1 + budget.ratio + budget.reserve / logical + 0.02, 6)
        if facts.max_attempts is not None:
            return "<=", float(facts.max_attempts)
        return "<=", 3.0
    return None


#: gates a scenario gets when it declares none: the client's conduct, and whether it could do its job
#: at all (no request refused for its credentials; at least one answer)
DEFAULT_GATES: tuple[GateSpec, ...] = (
    GateSpec("lost_requests"),
    GateSpec("retry_after_violations"),
    GateSpec("cost_abs_error_usd"),
    GateSpec("auth_failures"),
    GateSpec("success_rate", ">", 0.0),
)


def parse_gates(tables: Sequence[Table], known_metrics: Sequence[str]) -> tuple[GateSpec, ...]:
    """``[[gates]]`` tables into specs; unknown metrics and ops are errors naming the field."""
    specs = []
    for t in tables:
        metric = t.choice("metric", tuple(known_metrics))
        op = t.choice("op", tuple(_OPS), default=None)
        threshold = t.raw("threshold", None)
        if threshold is not None:
            if isinstance(threshold, str):
                if threshold not in known_metrics:
                    raise t.error("threshold", f"expected a number or a metric name, got {describe(threshold)}")
            elif isinstance(threshold, bool) or not isinstance(threshold, int | float) or not math.isfinite(threshold):
                raise t.error("threshold", f"expected a number or a metric name, got {describe(threshold)}")
            if op is None:
                raise t.error("op", "required when a threshold is given (one of <=, <, >=, >, ==)")
        t.done()
        specs.append(GateSpec(metric, op, threshold))
    return tuple(specs)


def _number(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str | Decimal):
        try:
            return float(Decimal(value))
        except ArithmeticError:
            return None
    return None


#: metrics that time a pause the client should not take at all: in real time an upper bound on them
#: is judged with the run's measured event-loop lag added (``RunFacts.loop_lag_max_s``), since a pause
#: that long can be the loop's or the machine's, not the client's (docs/scenarios.md, "Real time")
LAG_TOLERANT = frozenset({"failover_wait_max_s"})


def evaluate_gates(specs: Sequence[GateSpec], metrics: Mapping[str, object], facts: RunFacts) -> list[GateResult]:
    """Judge each gate against the computed metrics."""
    results = []
    for spec in specs:
        op, threshold = spec.op, spec.threshold
        if threshold is None:
            default = default_threshold(spec.metric, facts)
            if default is None:
                raise ConfigError(f"gates.{spec.metric}", "this metric has no default threshold; give op and threshold")
            default_op, threshold = default
            op = op or default_op
        assert op is not None
        value = metrics.get(spec.metric)
        limit_value: object = metrics.get(threshold) if isinstance(threshold, str) else threshold
        shown_threshold = limit_value if isinstance(threshold, str) else threshold
        v, lim = _number(value), _number(limit_value)
        shown_value = value if isinstance(value, int | float | str) or value is None else str(value)
        if v is None or lim is None:
            missing = spec.metric if v is None else str(threshold)
            results.append(
                GateResult(spec.name, op, shown_value, _shown(shown_threshold), False, f"{missing} not available")
            )
            continue
        note = ""
        lag = facts.loop_lag_max_s
        if spec.metric in LAG_TOLERANT and op in ("<=", "<") and lag:
            lim += lag
            note = f"real time: judged against the threshold + {lag:.3f} s of measured loop lag"
        results.append(GateResult(spec.name, op, shown_value, _shown(shown_threshold), _OPS[op](v, lim), note))
    return results


def _shown(value: object) -> float | str | None:
    if value is None or isinstance(value, int | float | str):
        return value
    return str(value)
