"""The judge: metrics from the provider's request log and the client's outcome log, then gates."""

from harness.judge.facts import BudgetFact, LimitFact, RetryBudgetFact, RunFacts
from harness.judge.gates import DEFAULT_GATES, GateResult, GateSpec, evaluate_gates, parse_gates
from harness.judge.metrics import compute_metrics

__all__ = [
    "DEFAULT_GATES",
    "BudgetFact",
    "GateResult",
    "GateSpec",
    "LimitFact",
    "RetryBudgetFact",
    "RunFacts",
    "compute_metrics",
    "evaluate_gates",
    "parse_gates",
]
