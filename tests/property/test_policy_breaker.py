"""Stateful: no call passes an open breaker before its period ends; at most N probes while half-open."""

from __future__ import annotations

import random

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from harness.client.breaker import OUTCOME_KINDS, BreakerConfig, CircuitBreaker, Permit
from harness.clock import ManualClock
from harness.errors import CircuitOpen

PROBES = 2


class BreakerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        cfg = BreakerConfig(consecutive_failures=3, failure_rate=0.5, minimum_calls=4, window_size=8,
                            half_open_probes=PROBES, probe_timeout_s=30, slow_call_rate=0.9, slow_call_s=5)  # fmt: skip
        self.breaker = CircuitBreaker(cfg, clock=self.clock, rng=random.Random(0))
        self.in_flight: list[Permit] = []

    @rule()
    def call(self) -> None:
        state = self.breaker.state
        open_until = self.breaker.open_until
        try:
            permit = self.breaker.allow()
        except CircuitOpen as exc:
            refused = exc
        else:
            assert not (state == "open" and self.clock() < open_until), "a call passed an open breaker"
            self.in_flight.append(permit)
            return
        assert state in ("open", "half_open")
        assert refused.retry_at > self.clock()

    @precondition(lambda self: self.in_flight)
    @rule(data=st.data(), kind=st.sampled_from(OUTCOME_KINDS), duration=st.none() | st.floats(0, 10),
          hint=st.none() | st.floats(0.1, 100))  # fmt: skip
    def finish(self, data: st.DataObject, kind: str, duration: float | None, hint: float | None) -> None:
        permit = self.in_flight.pop(data.draw(st.integers(0, len(self.in_flight) - 1)))
        if data.draw(st.booleans()):
            self.breaker.record(permit, kind, duration_s=duration, retry_after_s=hint)
        else:
            self.breaker.release(permit)

    @rule(dt=st.floats(0, 120))
    def advance(self, dt: float) -> None:
        self.clock.advance(dt)

    @invariant()
    def probes_bounded(self) -> None:
        assert self.breaker.probes_in_flight() <= PROBES
        if self.breaker.state == "open":
            assert self.breaker.open_until > self.clock()


TestBreaker = BreakerMachine.TestCase
