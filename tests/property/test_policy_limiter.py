"""Stateful: whatever the interleaving of acquire, settle, cancel and time, no window admits over the limit."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from harness.client.limiter import Demand, LimitConfig, RateLimiter, Reservation
from harness.clock import ManualClock
from harness.pricing import Usage

RPM, TPM, WINDOW = 5, 400, 60.0


class LimiterMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.limiter = RateLimiter(LimitConfig(rpm=RPM, tpm=TPM, max_queue_wait_s=20), clock=self.clock)
        self.admitted: dict[str, tuple[float, float]] = {}  # id -> (time, tokens): estimate, then actual
        self.queued: list[Reservation] = []
        self.granted: list[Reservation] = []

    @rule(i=st.integers(0, 150), o=st.integers(0, 150), lane=st.sampled_from(["interactive", "batch"]),
          key=st.sampled_from(["a", "b", "c"]))  # fmt: skip
    def acquire(self, i: int, o: int, lane: str, key: str) -> None:
        self._handle(self.limiter.reserve(Demand(i, o), lane=lane, key=key))

    @precondition(lambda self: self.queued)
    @rule(data=st.data())
    def poll(self, data: st.DataObject) -> None:
        r = self.queued.pop(data.draw(st.integers(0, len(self.queued) - 1)))
        self._handle(self.limiter.reserve(r.demand, lane=r.lane, key=r.key, ticket=r))

    @precondition(lambda self: self.granted)
    @rule(data=st.data(), used=st.floats(0, 1))
    def settle_or_cancel(self, data: st.DataObject, used: float) -> None:
        r = self.granted.pop(data.draw(st.integers(0, len(self.granted) - 1)))
        if data.draw(st.booleans()):
            out = int(r.demand.max_output_tokens * used)  # actual ≤ estimate
            self.limiter.settle_now(r, Usage(input_tokens=r.demand.input_tokens, output_tokens=out))
            self.admitted[r.id] = (self.admitted[r.id][0], float(r.demand.input_tokens + out))
        else:  # never sent: it no longer counts
            self.limiter.cancel_now(r)
            del self.admitted[r.id]

    @rule(dt=st.floats(0, 90))
    def advance(self, dt: float) -> None:
        self.clock.advance(dt)

    def _handle(self, r: Reservation) -> None:
        if r.granted:
            self.admitted[r.id] = (self.clock(), float(r.demand.input_tokens + r.demand.max_output_tokens))
            self.granted.append(r)
        elif r.reason == "queued":
            assert r.wait_s > 0
            self.queued.append(r)

    @invariant()
    def no_window_over_the_limit(self) -> None:
        for t, _ in self.admitted.values():
            window = [tok for u, tok in self.admitted.values() if t - WINDOW < u <= t]
            assert len(window) <= RPM
            assert sum(window) <= TPM


TestLimiter = LimiterMachine.TestCase
