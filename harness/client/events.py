"""Policy events: what the limiter, breaker and budgets report when something worth knowing happens.

Policies never log; they hand a :class:`PolicyEvent` to an :class:`EventSink` (any callable taking one
event). :class:`EventLog` is a sink that keeps the events in a list, for tests and reports; several
sinks combine with :func:`fan_out`. A sink that raises is the caller's bug, so policies do not guard it.

Kinds (stable names, used in reports):

* ``breaker.state``: the breaker changed state; ``data`` has ``from``, ``to``, ``reason``.
* ``budget.soft_limit``: an entity crossed its soft budget; ``data`` has ``rule``, ``limit_usd``, ``spent_usd``.
* ``budget.hard_limit``: a reservation was refused by a hard budget.
* ``budget.overrun``: a settled cost exceeded its reservation (the estimate was too low).
* ``limiter.fallback`` / ``breaker.fallback`` / ``budget.fallback``: a Redis backend became
  unreachable and the configured fallback took over (``data["reason"]``); ``*.recovered`` when it came
  back; ``*.error`` for a Redis error that is not an outage (a script error).
* ``limiter.reseeded`` / ``budget.reseeded``: Redis had lost the shared state (a restart) and this
  process put back what it knew; ``limiter.written_back``: admissions made without Redis were booked.

Example::

    log = EventLog()
    breaker = CircuitBreaker(BreakerConfig(), clock=clock, on_event=log)
    ...
    [e.data["to"] for e in log.of_kind("breaker.state")]   # ["open", "half_open", "closed"]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EventLog", "EventSink", "PolicyEvent", "fan_out", "ignore_events"]


@dataclass(frozen=True, slots=True)
class PolicyEvent:
    """One thing a policy reports: a kind, the policy's name, a clock time and details."""

    kind: str  # stable dotted name, e.g. "breaker.state"
    source: str  # the policy instance's name (breaker name, budget entity, limiter name)
    at: float  # the policy's clock when it happened
    data: Mapping[str, Any] = field(default_factory=dict)  # kind-specific details (never secrets)


#: anything that accepts events
EventSink = Callable[[PolicyEvent], None]


def ignore_events(event: PolicyEvent) -> None:
    """The default sink: drop the event."""


class EventLog:
    """A sink that keeps every event, in order."""

    def __init__(self) -> None:
        self.events: list[PolicyEvent] = []  # everything received so far

    def __call__(self, event: PolicyEvent) -> None:
        self.events.append(event)

    def of_kind(self, kind: str) -> list[PolicyEvent]:
        return [e for e in self.events if e.kind == kind]

    def __iter__(self) -> Iterator[PolicyEvent]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)

    def __repr__(self) -> str:
        return f"EventLog({len(self.events)} events)"


def fan_out(*sinks: EventSink) -> EventSink:
    """One sink that forwards every event to each of ``sinks`` in order."""

    def sink(event: PolicyEvent) -> None:
        for s in sinks:
            s(event)

    return sink
