"""The run a Locust process takes part in: what ``harness load`` hands its master, and the master its workers.

A :class:`RunSpec` carries the scenario's **text** (so every worker runs exactly the master's scenario,
whatever copy of the file it has), the command line's overrides, the fake provider's URL and a run id.
The orchestrator writes it to a private file named by ``HARNESS_LOAD_SPEC`` for the local or master
process; the master sends it to each worker in a Locust custom message with that worker's share.

The run id namespaces what a run shares: its request ids (``req-<seed>-<run>-<process>-<n>``) and,
when the client keeps state in Redis, its keys (``[client.redis] name`` becomes ``<name>:<run id>``),
so two runs never see each other's limiter windows or budgets.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from harness.client import ClientConfig, RedisConfig
from harness.errors import ConfigError
from harness.load.plan import LoadPlan, check_run_time, plan_load
from harness.scenario.model import Scenario, check_scenario_bounds, parse_scenario

__all__ = ["SPEC_ENV", "RunSpec", "digest", "scenario_for_load"]

#: environment variable naming the spec file of a local or master Locust process
SPEC_ENV = "HARNESS_LOAD_SPEC"


def digest(text: str) -> str:
    """A short fingerprint of a scenario's text (a worker refuses a master with another scenario)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class RunSpec:
    """One ``harness load`` run, as its Locust processes need it."""

    scenario_toml: str  # the scenario file's text
    scenario_path: str  # where it was read (names the scenario when it has no ``name``)
    run_id: str  # unique per run (hex)
    provider_url: str  # the fake provider every client talks to
    push_faults: bool = False  # a provider we did not start: send it the scenario's faults at test start
    seed: int | None = None  # --seed
    redis_url: str | None = None  # --redis: the client's shared state lives there
    users: int | None = None  # --users
    spawn_rate: float | None = None  # --spawn-rate
    run_time_s: float | None = None  # --run-time
    records_dir: str | None = None  # where the local / master process writes the records
    allow_large: bool = False  # --allow-large: accept work above the ceilings (harness.scenario.bounds)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        data: dict[str, Any] = json.loads(text)
        return cls(**data)

    @property
    def digest(self) -> str:
        return digest(self.scenario_toml)

    def scenario(self) -> Scenario:
        """The scenario as this run runs it (seed, Redis and the run's namespace applied)."""
        path = Path(self.scenario_path)
        try:
            data = tomllib.loads(self.scenario_toml)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(str(path), f"not valid TOML: {exc}") from None
        run_time_s = None if self.run_time_s is None else check_run_time(self.run_time_s)  # the option first
        scenario = parse_scenario(data, name=path.stem, path=path, allow_large=True)
        if self.seed is not None:
            scenario = scenario.with_seed(self.seed)
        if run_time_s is not None:
            scenario = replace(scenario, duration_s=run_time_s)
        if not self.allow_large:
            check_scenario_bounds(scenario)  # with --run-time applied
        return scenario_for_load(scenario, self.redis_url, self.run_id)

    def plan(self, scenario: Scenario) -> LoadPlan:
        """How Locust runs ``scenario`` (this spec's scenario) with the command line's overrides."""
        return plan_load(scenario, users=self.users, spawn_rate=self.spawn_rate)


def scenario_for_load(scenario: Scenario, redis_url: str | None, run_id: str) -> Scenario:
    """``--redis`` applied (it turns Redis on for the reference client), Redis keys namespaced by the run."""
    client = scenario.client
    if not isinstance(client, ClientConfig):
        if redis_url is not None:
            raise ConfigError(
                "--redis", f"the scenario's client is {client.kind!r}; only the reference client keeps state in Redis"
            )
        return scenario
    redis = client.redis
    if redis_url is not None:
        if not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("--redis", "expected a redis://, rediss:// or unix:// URL")
        redis = RedisConfig(redis_url) if redis is None else replace(redis, url=redis_url)
    if redis is None:
        return scenario
    redis = replace(redis, name=f"{redis.name}:{run_id}")
    return replace(scenario, client=replace(client, redis=redis))
