"""How much work a scenario asks for, estimated before anything runs, and the ceiling above which a
run needs ``--allow-large``.

A typo (``rate = 1e9``, ``duration_s = 1e9``, ``requests_per_user = 1e18``, ten thousand faults)
must not turn into a run that fills the disk: the estimate is arithmetic on the parsed scenario
(no request is generated), so a refusal comes in milliseconds, as one line naming the key that
drives the total::

    load.rate: 1e+09 requests/s over duration_s 60 s is about 6e+10 requests, above the ceiling of
    200,000; lower it, bound it with load.max_requests, or pass --allow-large

The ceilings (docs/scenarios.md, "Bounds"):

* **requests**: the logical requests every client of the run sends together (``[[compare_with]]``
  clients run the same storm again), ``MAX_REQUESTS``;
* **users**: closed-loop users (each is a coroutine with its own state), ``MAX_USERS``;
* **faults**: ``[[faults]]`` entries (each is consulted on every request), ``MAX_FAULTS``;
* **time**: ``duration_s + drain_s`` (the run's clock, per-second progress and report series),
  ``MAX_RUN_S``.

The request estimate: open loop, the integral of the arrival rate over ``duration_s``; closed loop,
``users × requests_per_user``, or, without ``requests_per_user``, ``users × duration_s / think``
where ``think`` is the median of ``think_s`` plus the least median ``ttft`` of the models the load
calls, but at least ``SECONDS_PER_REQUEST_FLOOR`` (a user with no think time sends its next request
as soon as an answer arrives, and in virtual time the fake provider, whose default latency is zero,
answers in a millisecond). ``load.max_requests`` caps either.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.errors import ConfigError
from harness.scenario.load import LoadSpec

__all__ = [
    "MAX_FAULTS",
    "MAX_REQUESTS",
    "MAX_RUN_S",
    "MAX_USERS",
    "SECONDS_PER_REQUEST_FLOOR",
    "Work",
    "check_bounds",
    "estimate_requests",
]

MAX_REQUESTS = 200_000
MAX_USERS = 20_000
MAX_FAULTS = 1_000
MAX_RUN_S = 86_400.0  # one day of (simulated or real) time, drain included
SECONDS_PER_REQUEST_FLOOR = 0.001
_ADVICE = "or pass --allow-large"


@dataclass(frozen=True, slots=True)
class Work:
    """The estimated requests of one client's run, and the key that drives them (for the message)."""

    requests: float
    key: str
    why: str  # "1e+09 requests/s over duration_s 60 s", for the message


def _open_loop(load: LoadSpec, duration_s: float) -> Work:
    arrivals = load.arrivals
    if arrivals in ("constant", "poisson"):
        return Work(load.rate * duration_s, "load.rate", f"{load.rate:g} requests/s over duration_s {duration_s:g} s")
    if arrivals == "ramp":
        mean = (load.rate + load.rate_end) / 2
        key = "load.rate_end" if load.rate_end >= load.rate else "load.rate"
        return Work(
            mean * duration_s, key, f"a ramp of {load.rate:g} to {load.rate_end:g} requests/s over {duration_s:g} s"
        )
    if arrivals == "step":
        total = 0.0
        for i, (start, rate) in enumerate(load.steps):
            end = load.steps[i + 1][0] if i + 1 < len(load.steps) else duration_s
            total += rate * max(0.0, min(end, duration_s) - min(start, duration_s))
        return Work(total, "load.steps", f"steps up to {load.peak_rate():g} requests/s over {duration_s:g} s")
    # spike: the base rate outside the spike, the spike rate inside it (both within the duration)
    inside = max(0.0, min(load.spike_at_s + load.spike_s, duration_s) - min(load.spike_at_s, duration_s))
    spike = load.spike_rate * inside
    base = load.rate * (duration_s - inside)
    if spike >= base:
        return Work(spike + base, "load.spike_rate", f"{load.spike_rate:g} requests/s for {inside:g} s of spike")
    return Work(spike + base, "load.rate", f"{load.rate:g} requests/s over duration_s {duration_s:g} s")


def _closed_loop(load: LoadSpec, duration_s: float, latency_s: float) -> Work:
    think = max(load.think_s.median + latency_s, SECONDS_PER_REQUEST_FLOOR)
    paced = duration_s / think  # requests one user can send in the duration
    per_user = paced if load.requests_per_user is None else min(float(load.requests_per_user), paced)
    if load.requests_per_user is not None and load.requests_per_user <= paced:
        return Work(load.users * per_user, "load.requests_per_user", f"{load.users} users × {per_user:g} requests")
    if load.think_s.median + latency_s < SECONDS_PER_REQUEST_FLOOR:
        why = f"{load.users} users with no think_s (one request per ms at most) over {duration_s:g} s"
        return Work(load.users * per_user, "load.requests_per_user", why)
    why = f"{load.users} users, one request per {think:g} s (think_s and latency), over {duration_s:g} s"
    return Work(load.users * per_user, "load.users", why)


def estimate_requests(load: LoadSpec, duration_s: float, latency_s: float = 0.0) -> Work:
    """The logical requests one client's run of this load may send (capped by ``max_requests``).

    ``latency_s``: the least median time to first token of the models the load calls (a closed-loop
    user waits for it between requests).
    """
    work = _open_loop(load, duration_s) if load.mode == "open" else _closed_loop(load, duration_s, latency_s)
    if load.max_requests is not None and load.max_requests < work.requests:
        return Work(float(load.max_requests), "load.max_requests", f"max_requests {load.max_requests}")
    return work


def _number(value: float) -> str:
    return f"{value:,.0f}" if value < 1e7 else f"{value:.3g}"


def check_bounds(
    load: LoadSpec, duration_s: float, drain_s: float, faults: int, clients: int, latency_s: float = 0.0
) -> None:
    """Refuse (ConfigError naming the key) a scenario whose work is above a ceiling (see the module doc)."""
    if faults > MAX_FAULTS:
        raise ConfigError("faults", f"{faults} faults, above the ceiling of {MAX_FAULTS:,}; merge them, {_ADVICE}")
    if load.mode == "closed" and load.users > MAX_USERS:
        raise ConfigError("load.users", f"{load.users:,} users, above the ceiling of {MAX_USERS:,}; lower it {_ADVICE}")
    if duration_s + drain_s > MAX_RUN_S:
        key = "duration_s" if duration_s >= drain_s else "drain_s"
        raise ConfigError(
            key,
            f"duration_s + drain_s is {_number(duration_s + drain_s)} s, above the ceiling of "
            f"{_number(MAX_RUN_S)} s (a day); shorten it {_ADVICE}",
        )
    work = estimate_requests(load, duration_s, latency_s)
    total = work.requests * clients
    if not math.isfinite(total) or total > MAX_REQUESTS:
        times = f" × {clients} clients (compare_with)" if clients > 1 else ""
        raise ConfigError(
            work.key,
            f"{work.why} is about {_number(total)} requests{times}, above the ceiling of {MAX_REQUESTS:,}; "
            f"lower it, bound it with load.max_requests, {_ADVICE}",
        )
