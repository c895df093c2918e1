"""The ``[load]`` section: who sends what, when.

Two shapes of load, as in every serious load tool:

* **closed loop** (``mode = "closed"``): ``users`` concurrent users, each sending a request, waiting
  for the answer, thinking (``think_s``), and sending the next; the offered load adapts to latency.
* **open loop** (``mode = "open"``): arrivals on a schedule that does not wait for answers
  (``arrivals`` = constant, poisson, ramp, step, spike), which is what exposes queueing and herds.

Example::

    [load]
    mode = "closed"
    users = 1000
    think_s = { kind = "exponential", mean = 2.0 }
    prompt_tokens = { kind = "lognormal", median = 120, p99 = 900 }
    max_tokens = 128
    stream_share = 0.25
    models = { "gpt-4o-mini" = 1.0 }
    users_pool = 50                 # distinct user ids for cost attribution
    features = { chat = 3, summarise = 1 }
    batch_share = 0.2               # share of requests in the limiter's batch lane
    prefill_share = 0.1             # share ending with an assistant prefill ("Sure, here is")
    questions_share = 0.8           # share asking a support question in one of its wordings
    questions = 12                  # of the pool's first 12 questions (paraphrases: harness.scenario.questions)
    prompts = { "support@v1" = 1, "support@v2" = 1 }   # [client.prompts] versions, by weight

    [load]
    mode = "open"
    arrivals = "step"
    steps = [[0, 5.0], [30, 20.0], [60, 5.0]]   # (from second, requests per second)
    max_requests = 5000
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

from harness.distributions import Distribution
from harness.scenario.questions import QUESTIONS
from harness.validate import Table, describe

__all__ = ["ARRIVALS", "LoadSpec", "open_loop_arrivals"]

ARRIVALS = ("constant", "poisson", "ramp", "step", "spike")


@dataclass(frozen=True, slots=True)
class LoadSpec:
    """A validated ``[load]`` section."""

    mode: str = "closed"  # "closed" or "open"
    users: int = 10  # closed loop: concurrent users
    think_s: Distribution = Distribution.fixed(0.0)  # closed loop: pause between a user's requests
    start_spread_s: float = 0.0  # closed loop: users start uniformly over this many seconds
    requests_per_user: int | None = None  # closed loop: stop a user after this many requests
    arrivals: str = "constant"  # open loop: arrival process
    rate: float = 1.0  # open loop: requests per second (constant, poisson; ramp start; spike base)
    rate_end: float = 1.0  # ramp: rate at the end of the run
    steps: tuple[tuple[float, float], ...] = ()  # step: (from second, rate)
    spike_at_s: float = 0.0  # spike: when it starts
    spike_s: float = 1.0  # spike: how long it lasts
    spike_rate: float = 10.0  # spike: rate during the spike
    max_requests: int | None = None  # hard bound on logical requests
    prompt_tokens: Distribution = Distribution.fixed(50.0)  # prompt length, harness tokens
    max_tokens: Distribution = Distribution.fixed(64.0)  # the max_tokens each request asks for
    stream_share: float = 0.0  # fraction of requests that stream
    models: tuple[tuple[str, float], ...] = ()  # (model, weight); empty → the client's first model
    users_pool: int = 1  # distinct user ids ("user-0" …) for attribution and fair sharing
    features: tuple[tuple[str, float], ...] = (("default", 1.0),)
    batch_share: float = 0.0  # fraction of requests in the "batch" priority lane
    prefill_share: float = 0.0  # fraction of requests ending with an assistant prefill message
    tools_share: float = 0.0  # fraction offering a tool (tool_choice "auto": the answer is a tool call)
    structured_share: float = 0.0  # fraction asking for JSON output matching a schema
    cached_prefix_share: float = 0.0  # fraction starting with the scenario's shared system prompt
    cached_prefix_tokens: int = 1500  # that prompt's length (≥ 1,024 to be cacheable; Anthropic: a breakpoint)
    questions_share: float = 0.0  # fraction asking a question of the paraphrase pool, in a seeded wording
    questions: int = len(QUESTIONS)  # how many of the pool's questions are asked (the first N)
    prompts: tuple[tuple[str, float], ...] = ()  # (prompt or prompt@version, weight): ChatRequest.prompt

    @classmethod
    def parse(cls, t: Table) -> LoadSpec:
        mode = t.choice("mode", ("closed", "open"), "closed")
        kw: dict[str, object] = {"mode": mode}
        if mode == "closed":
            if not t.has("users"):
                raise t.error("users", "required: a closed loop declares how many users it runs")
            kw["users"] = t.int("users", 10, min=1, max=1_000_000)
            if t.has("think_s"):
                kw["think_s"] = Distribution.parse(t.raw("think_s"), t.field("think_s"))
            kw["start_spread_s"] = t.float("start_spread_s", 0.0, min=0)
            kw["requests_per_user"] = t.int("requests_per_user", None, min=1)
        else:
            arrivals = t.choice("arrivals", ARRIVALS, "constant")
            kw["arrivals"] = arrivals
            if arrivals != "step" and not t.has("rate"):
                raise t.error("rate", "required: an open loop declares its arrival rate (requests per second)")
            kw["rate"] = t.float("rate", 1.0, min=0)
            if arrivals == "ramp":
                kw["rate_end"] = t.float("rate_end", min=0)
            if arrivals == "step":
                kw["steps"] = _steps(t)
            if arrivals == "spike":
                kw["spike_at_s"] = t.float("spike_at_s", min=0)
                kw["spike_s"] = t.float("spike_s", min=0, exclusive_min=True)
                kw["spike_rate"] = t.float("spike_rate", min=0)
        kw["max_requests"] = t.int("max_requests", None, min=1)
        for key in ("prompt_tokens", "max_tokens"):
            if t.has(key):
                kw[key] = Distribution.parse(t.raw(key), t.field(key))
        kw["stream_share"] = t.float("stream_share", 0.0, min=0, max=1)
        kw["models"] = _weights(t, "models", ())
        kw["users_pool"] = t.int("users_pool", 1, min=1)
        kw["features"] = _weights(t, "features", (("default", 1.0),))
        kw["batch_share"] = t.float("batch_share", 0.0, min=0, max=1)
        kw["prefill_share"] = t.float("prefill_share", 0.0, min=0, max=1)
        for key in ("tools_share", "structured_share", "cached_prefix_share"):
            kw[key] = t.float(key, 0.0, min=0, max=1)
        kw["cached_prefix_tokens"] = t.int("cached_prefix_tokens", 1500, min=1, max=100_000)
        kw["questions_share"] = t.float("questions_share", 0.0, min=0, max=1)
        kw["questions"] = t.int("questions", len(QUESTIONS), min=1, max=len(QUESTIONS))
        kw["prompts"] = _weights(t, "prompts", ())
        t.done()
        return cls(**kw)  # type: ignore[arg-type]

    def rate_at(self, t: float, duration_s: float) -> float:
        """Open loop: arrivals per second at ``t`` seconds into the run."""
        if self.arrivals in ("constant", "poisson"):
            return self.rate
        if self.arrivals == "ramp":
            frac = min(max(t / duration_s, 0.0), 1.0) if duration_s > 0 else 1.0
            return self.rate + (self.rate_end - self.rate) * frac
        if self.arrivals == "step":
            rate = 0.0
            for start, step_rate in self.steps:
                if t >= start:
                    rate = step_rate
            return rate
        in_spike = self.spike_at_s <= t < self.spike_at_s + self.spike_s
        return self.spike_rate if in_spike else self.rate

    def peak_rate(self) -> float:
        rates = [self.rate, self.rate_end if self.arrivals == "ramp" else 0.0]
        rates += [r for _, r in self.steps]
        if self.arrivals == "spike":
            rates.append(self.spike_rate)
        return max(rates)


def _steps(t: Table) -> tuple[tuple[float, float], ...]:
    raw = t.raw("steps")
    if not isinstance(raw, list) or not raw:
        raise t.error("steps", f"expected a non-empty array of [from_second, rate] pairs, got {describe(raw)}")
    steps = []
    for i, pair in enumerate(raw):
        ok = isinstance(pair, list) and len(pair) == 2
        ok = ok and all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in pair)
        if not ok:
            raise t.error(f"steps[{i}]", f"expected [from_second ≥ 0, rate ≥ 0], got {describe(pair)}")
        steps.append((float(pair[0]), float(pair[1])))
    if [s for s, _ in steps] != sorted(s for s, _ in steps):
        raise t.error("steps", "expected steps in increasing order of their start second")
    return tuple(steps)


def _weights(t: Table, key: str, default: tuple[tuple[str, float], ...]) -> tuple[tuple[str, float], ...]:
    if not t.has(key):
        t.raw(key, None)
        return default
    raw = t.raw(key)
    if isinstance(raw, list) and raw and all(isinstance(v, str) and v for v in raw):
        return tuple((name, 1.0) for name in raw)
    if isinstance(raw, dict) and raw:
        out = []
        for name, weight in raw.items():
            if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0 or math.isinf(weight):
                raise t.error(f"{key}.{name}", f"expected a weight ≥ 0, got {describe(weight)}")
            out.append((str(name), float(weight)))
        if sum(w for _, w in out) <= 0:
            raise t.error(key, "expected at least one positive weight")
        return tuple(out)
    raise t.error(key, f"expected a list of names or a table of name = weight, got {describe(raw)}")


def open_loop_arrivals(spec: LoadSpec, duration_s: float, rng: random.Random) -> Iterator[float]:
    """Arrival offsets (seconds from run start) for an open-loop spec, in order, within the duration.

    Constant, ramp, step and spike arrivals are evenly spaced at the instantaneous rate; ``poisson``
    draws exponential gaps. Rates that vary over time use thinning against the peak rate for Poisson.
    """
    count = 0
    limit = spec.max_requests if spec.max_requests is not None else math.inf
    if spec.arrivals == "poisson":
        peak = spec.peak_rate()
        if peak <= 0:
            return
        t = 0.0
        while count < limit:
            t += rng.expovariate(peak)
            if t >= duration_s:
                return
            if rng.random() * peak <= spec.rate_at(t, duration_s):
                count += 1
                yield t
        return
    # deterministic spacing: integrate the rate in 1 ms steps, emit each time the integral crosses 1
    if spec.arrivals == "constant":
        if spec.rate <= 0:
            return
        while count < limit and count / spec.rate < duration_s:
            yield count / spec.rate
            count += 1
        return
    step = 0.001
    acc = 1.0 - 1e-9  # the first request goes out at t = 0 when the rate there is positive
    k = 0
    while (t := k * step) < duration_s and count < limit:
        acc += spec.rate_at(t, duration_s) * step
        while acc >= 1.0 and count < limit:
            acc -= 1.0
            count += 1
            yield t
        k += 1
