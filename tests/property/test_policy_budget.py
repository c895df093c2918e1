"""Stateful: for any interleaving of reserve, settle and cancel, settled spend never exceeds the hard limit."""

from __future__ import annotations

import contextlib
from decimal import Decimal

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from harness.client.budget import BudgetLedger, BudgetReservation, BudgetRule
from harness.client.cost import Attribution
from harness.clock import ManualClock
from harness.errors import BudgetExceeded

HARD = Decimal("1.00")
RULES = [
    BudgetRule("global", "*", "total", hard_usd=HARD * 3),
    BudgetRule("user", "*", "hour", "rolling", soft_usd=HARD / 2, hard_usd=HARD),
    BudgetRule("user", "*", "day", "calendar", hard_usd=HARD * 2),
]
amounts = st.decimals(min_value=0, max_value=Decimal("0.7"), places=6)


class BudgetMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(1_700_000_000.0)
        self.ledger = BudgetLedger(RULES, clock=self.clock, wall=self.clock)
        self.open: list[BudgetReservation] = []

    @rule(amount=amounts, user=st.sampled_from(["ana", "bo"]))
    def reserve(self, amount: Decimal, user: str) -> None:
        with contextlib.suppress(BudgetExceeded):
            self.open.append(self.ledger.reserve(amount, Attribution("gpt-4o", user=user)))

    @precondition(lambda self: self.open)
    @rule(data=st.data(), fraction=st.decimals(min_value=0, max_value=1, places=3))
    def settle(self, data: st.DataObject, fraction: Decimal) -> None:
        r = self.open.pop(data.draw(st.integers(0, len(self.open) - 1)))
        self.ledger.settle(r, r.amount * fraction)

    @precondition(lambda self: self.open)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        self.ledger.cancel(self.open.pop(data.draw(st.integers(0, len(self.open) - 1))))

    @rule(dt=st.floats(0, 7200))
    def advance(self, dt: float) -> None:
        self.clock.advance(dt)

    @invariant()
    def never_overspent(self) -> None:
        for i, rule_ in enumerate(RULES):
            entities = ["global"] if rule_.scope == "global" else ["ana", "bo"]
            for e in entities:
                spent, held = self.ledger.spent(i, e), self.ledger.outstanding(i, e)
                assert rule_.hard_usd is not None
                assert spent + held <= rule_.hard_usd, (rule_.name, e, spent, held)


TestBudget = BudgetMachine.TestCase
