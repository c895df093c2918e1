"""A scenario's ``[load]`` as Locust runs it: users, spawn rate, run time, and each process's share.

Pure and gevent-free (the orchestrator, the Locust processes and the unit tests all use it):

* **closed loop** → ``users`` Locust users (``--users`` overrides the scenario), spawned at
  ``spawn_rate`` per second (``--spawn-rate``; default: all of them over ``start_spread_s``, or at
  once), each thinking ``think_s`` between requests (its ``wait_time``); ``requests_per_user`` stops a
  user after that many requests; ``max_requests`` is split between the processes that run users;
* **open loop** → the arrival schedule of the asyncio runner (the same offsets for the same seed,
  :func:`harness.scenario.load.open_loop_arrivals`), dealt round-robin to the processes; Locust's users
  are the senders that take the arrivals as they fall due, and a :class:`~locust.LoadTestShape` keeps
  ``users_at(t) ≈ rate(t) × allowance_s`` of them (``--users`` caps it), so a sender is free when an
  arrival is due as long as answers take less than ``allowance_s``. An arrival that finds no free user
  waits for one and is counted as late; one still waiting when the run ends is counted as dropped.

Example::

    plan = plan_load(scenario, users=None, spawn_rate=None)
    plan.users_at(5.0)                                   # Locust users wanted 5 s into the run
    arrivals_for(plan, scenario.seed, share=0, shares=2)  # [(0, 0.0), (2, 0.21), …]
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from harness.client import ClientConfig
from harness.errors import ConfigError
from harness.scenario.load import LoadSpec, open_loop_arrivals
from harness.scenario.model import Scenario

__all__ = [
    "MAX_RUN_TIME_S",
    "MAX_USERS",
    "MAX_WORKERS",
    "LoadPlan",
    "arrivals_for",
    "check_run_time",
    "plan_load",
    "share_of",
]

MAX_USERS = 100_000  # Locust users in one run (greenlets are cheap; the client's sockets are not)
MAX_WORKERS = 64  # worker processes on this machine (--workers)
MAX_RUN_TIME_S = 24 * 3600.0  # a run is bounded: a day at most
DEFAULT_ALLOWANCE_S = 30.0  # open loop: latency allowed per arrival when the client sets no total deadline
MAX_ALLOWANCE_S = 120.0


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """How Locust runs a scenario's load (see the module docstring)."""

    load: LoadSpec  # the scenario's [load]
    users: int  # closed loop: Locust users; open loop: the most senders at once
    spawn_rate: float  # users started per second
    run_time_s: float  # no request starts after this
    drain_s: float  # in-flight requests then get this long before they are cancelled
    allowance_s: float  # open loop: senders per arrival per second (users_at = rate × allowance)

    @property
    def closed(self) -> bool:
        return self.load.mode == "closed"

    def users_at(self, t: float) -> int:
        """Locust users wanted ``t`` seconds into the run (the LoadTestShape's answer)."""
        if self.closed:
            return self.users
        rate = self.load.rate_at(min(max(t, 0.0), self.run_time_s), self.run_time_s)
        return max(1, min(self.users, math.ceil(rate * self.allowance_s)))


def _allowance(scenario: Scenario) -> float:
    client = scenario.client
    total = client.timeouts.total_s if isinstance(client, ClientConfig) else None
    allowance = DEFAULT_ALLOWANCE_S if total is None else total
    return min(max(allowance, 1.0), MAX_ALLOWANCE_S)


def check_run_time(seconds: float) -> float:
    """``--run-time`` (or a scenario's ``duration_s``) within bounds, else a ConfigError naming it."""
    if not 0 < seconds <= MAX_RUN_TIME_S:  # NaN fails the comparison too
        raise ConfigError("--run-time", f"expected seconds in (0, {MAX_RUN_TIME_S:.0f}], got {seconds:g}")
    return seconds


def plan_load(scenario: Scenario, *, users: int | None = None, spawn_rate: float | None = None) -> LoadPlan:
    """The plan for ``scenario`` (its ``duration_s`` is the run time) with the command line's overrides.

    A bad value is a ConfigError naming it.
    """
    load = scenario.load
    run_time = scenario.duration_s
    if run_time > MAX_RUN_TIME_S:
        raise ConfigError("duration_s", f"a load run is at most {MAX_RUN_TIME_S:.0f} s; pass a shorter --run-time")
    if users is not None and not (1 <= users <= MAX_USERS):
        raise ConfigError("--users", f"expected 1 to {MAX_USERS}, got {users}")
    if spawn_rate is not None and not (0 < spawn_rate <= MAX_USERS):  # NaN fails the comparison too
        raise ConfigError("--spawn-rate", f"expected users per second in (0, {MAX_USERS}], got {spawn_rate:g}")
    allowance = _allowance(scenario)
    if load.mode == "closed":
        count = users if users is not None else load.users
        if count > MAX_USERS:
            raise ConfigError("load.users", f"a load run has at most {MAX_USERS} users, got {count}")
        if spawn_rate is None:
            spread = load.start_spread_s
            spawn_rate = count / spread if spread > 0 else float(count)
    else:
        peak = load.peak_rate()
        wanted = max(1, math.ceil(peak * allowance))
        count = users if users is not None else min(wanted, MAX_USERS)
        if spawn_rate is None:
            spawn_rate = float(max(count, 1))  # senders idle until an arrival is due: start them at once
    return LoadPlan(
        load=load,
        users=count,
        spawn_rate=min(spawn_rate, float(MAX_USERS)),
        run_time_s=run_time,
        drain_s=scenario.drain_s,
        allowance_s=allowance,
    )


def share_of(total: int | None, share: int, shares: int) -> int | None:
    """Process ``share`` of ``shares``' part of ``total`` (None: unbounded); the parts add up to ``total``."""
    if total is None:
        return None
    if not 0 <= share < shares:
        raise ValueError(f"share {share} of {shares}")
    return total // shares + (1 if share < total % shares else 0)


def arrivals_for(plan: LoadPlan, seed: int, *, share: int, shares: int) -> list[tuple[int, float]]:
    """Open loop: ``(index, offset_s)`` of every arrival this process sends (``index % shares == share``).

    The schedule is the asyncio runner's (same seed, same offsets), cut at the run time and at
    ``max_requests`` in total, so all the processes together send exactly the runner's arrivals.
    """
    if plan.closed:
        return []
    if not 0 <= share < shares:
        raise ValueError(f"share {share} of {shares}")
    arrivals = open_loop_arrivals(plan.load, plan.run_time_s, random.Random(seed ^ 0xA11))
    return [(i, offset) for i, offset in enumerate(arrivals) if i % shares == share]
