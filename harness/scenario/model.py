"""Scenarios: one TOML file declares the provider, the faults, the load, the client and the gates.

A minimal scenario::

    version = 1
    name = "smoke"
    description = "A few requests, nothing wrong: the pipeline works."
    seed = 1
    duration_s = 10

    [load]
    users = 5

Sections (each documented in docs/scenarios.md, each validated with errors that name the key):

* ``[provider]``: models, prices, quotas, latency (:class:`fake_provider.config.ProviderConfig`);
* ``[[faults]]``: the seeded fault schedule (:class:`fake_provider.schedule.FaultSchedule`);
* ``[load]``: who sends what, when (:class:`harness.scenario.load.LoadSpec`);
* ``[client]``: the reference client's configuration (:class:`harness.client.config.ClientConfig`), or
  ``kind = "openai-sdk"`` / ``"anthropic-sdk"`` / ``"litellm"`` to judge a third-party client
  instead; ``instances = "per_user"`` gives every simulated user its own client (its own breaker,
  limiter and backoff state, as separate app instances would have); the default ``"shared"`` is one
  client for all;
* ``[[gates]]``: metric, comparison, threshold (defaults: docs/metrics.md);
* ``[explore]``: the space of worlds ``harness explore`` searches (:class:`harness.scenario.explore.ExploreSpace`);
  ``harness run`` ignores it and runs the file as written;
* ``[[compare_with]]``: other clients (tables shaped like ``[client]``) to run through the same storm,
  reported side by side; the gates judge the ``[client]`` only.

An invalid scenario raises :class:`~harness.errors.ConfigError` naming the key, the value and what was
expected; the CLI turns that into exit code 2.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fake_provider.config import ProviderConfig, scenario_seed
from fake_provider.schedule import FaultSchedule
from harness.client.config import ClientConfig
from harness.errors import ConfigError
from harness.judge.gates import DEFAULT_GATES, GateSpec, parse_gates
from harness.judge.metrics import METRIC_NAMES
from harness.pricing import PriceTable
from harness.scenario.app_spec import AppClientSpec
from harness.scenario.bounds import MAX_FAULTS, check_bounds
from harness.scenario.explore import ExploreSpace
from harness.scenario.load import LoadSpec
from harness.scenario.sdk_spec import SDK_KINDS, SDKClientSpec
from harness.validate import Table, describe

__all__ = ["SCENARIO_VERSION", "Scenario", "check_scenario_bounds", "load_scenario", "parse_scenario"]

SCENARIO_VERSION = 1
_INSTANCES = ("shared", "per_user")


@dataclass(frozen=True)
class Scenario:
    """A validated scenario file."""

    name: str
    description: str
    seed: int
    duration_s: float  # no new request starts after this (simulated seconds)
    drain_s: float  # then in-flight requests get this long to finish before they are cancelled
    provider: ProviderConfig  # its ``faults`` are the scenario's [[faults]]; its seed is the scenario's
    load: LoadSpec
    client: ClientConfig | SDKClientSpec
    gates: tuple[GateSpec, ...]
    instances: str = "shared"  # "shared": one client; "per_user": one client per simulated user
    compare_with: tuple[ClientConfig | SDKClientSpec, ...] = ()  # other clients run through the same storm
    tags: tuple[str, ...] = ()
    explore: ExploreSpace | None = None  # the [explore] table: the space harness explore searches
    version: int = SCENARIO_VERSION
    path: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)  # the parsed TOML

    @property
    def faults(self) -> FaultSchedule:
        return self.provider.faults

    def provider_prices(self) -> PriceTable:
        """The prices the provider bills with (what an app pricing an SDK's usage would use)."""
        return PriceTable({name: m.price for m in self.provider.models for name in m.names})

    @property
    def client_kind(self) -> str:
        return self.client.kind if isinstance(self.client, SDKClientSpec) else "reference"

    def with_client(self, client: ClientConfig | SDKClientSpec) -> Scenario:
        """The same storm for another client (``compare_with``)."""
        instances = "shared" if isinstance(client, SDKClientSpec) else self.instances
        return replace(self, client=client, compare_with=(), instances=instances)

    def with_seed(self, seed: int) -> Scenario:
        """The same scenario under another seed (the provider's answers and faults follow it)."""
        return replace(self, seed=seed, provider=replace(self.provider, seed=seed))


def _default_client(provider: ProviderConfig, load: LoadSpec) -> dict[str, Any]:
    """A reference client for the models the load uses, when the scenario declares no client."""
    index = provider.model_index()
    chat = [m.name for m in provider.models if m.kind != "embedding"]
    names = [m for m, _ in load.models] or (["gpt-4o-mini"] if "gpt-4o-mini" in chat else chat[:1])
    models = []
    for name in names:
        model = index.get(name)
        models.append({"name": name, "provider": model.api if model is not None else "openai"})
    return {"models": models}


def _check_client_models(client: ClientConfig, served: dict[str, Any], load: LoadSpec) -> None:
    """Every model the client may call is served, and every model the load asks for is configured."""
    for i, spec in enumerate(client.models):
        model = served.get(spec.name)
        if model is None:
            raise ConfigError(
                f"client.models[{i}].name", f"{spec.name!r} is not served by [provider]; add it to provider.models"
            )
        if model.api != spec.provider:
            speaks = f"{spec.name!r} speaks {model.api!r} at the provider, not {spec.provider!r}"
            raise ConfigError(f"client.models[{i}].provider", speaks)
    configured = {spec.name for spec in client.models}
    for name, _ in load.models:
        if name not in configured:
            raise ConfigError(f"load.models.{name}", "the client has no such model; add it to client.models")


def _parse_client(
    data: Any, path: str, served: dict[str, Any], load: LoadSpec, base: Path
) -> ClientConfig | SDKClientSpec:
    """A ``[client]``-shaped table: the reference client's config, an SDK by ``kind``, or the user's app.

    ``base``: the scenario's folder (where an app's module is looked for first).
    """
    kind = Table(data, path).choice("kind", ("reference", *SDK_KINDS, "app"), default="reference")
    rest = {k: v for k, v in data.items() if k != "instances"}
    if kind == "app":
        return AppClientSpec.parse_app(Table(rest, path), base)
    if kind in SDK_KINDS:
        return SDKClientSpec.parse(Table(rest, path))
    config = ClientConfig.parse(rest, path)
    _check_client_models(config, served, load)
    return config


_MAX_NAME = 100


def _plain_name(t: Table, value: str) -> str:
    """``name`` becomes a folder (``reports/<name>/``): a plain file name, never a path."""
    plain = value[:1].isascii() and value[:1].isalnum() and len(value) <= _MAX_NAME
    if not plain or not all(c.isascii() and (c.isalnum() or c in "-_.") for c in value):
        raise t.error(
            "name",
            f"expected a plain file name (ASCII letters, digits, '-', '_', '.'; starting with a letter or "
            f"a digit; at most {_MAX_NAME} characters), got {describe(value)}",
        )
    return value


def check_scenario_bounds(scenario: Scenario) -> None:
    """Refuse a scenario whose estimated work is above the ceilings (``harness.scenario.bounds``)."""
    clients = 1 + len(scenario.compare_with)
    called = {name for name, _ in scenario.load.models}
    chat = [m for m in scenario.provider.models if m.kind != "embedding" and (not called or m.name in called)]
    latency = min((m.ttft.median for m in chat), default=0.0)
    check_bounds(scenario.load, scenario.duration_s, scenario.drain_s, len(scenario.faults), clients, latency)


def parse_scenario(
    data: dict[str, Any], *, name: str = "scenario", path: Path | None = None, allow_large: bool = False
) -> Scenario:
    """Validate a parsed TOML document into a :class:`Scenario`.

    Unless ``allow_large``, a scenario whose estimated work is above the ceilings of
    :mod:`harness.scenario.bounds` is refused (ConfigError naming the key that drives it).
    """
    t = Table(data, "")
    version = t.int("version", SCENARIO_VERSION)
    if version != SCENARIO_VERSION:
        raise t.error("version", f"this harness reads scenario version {SCENARIO_VERSION}, got {describe(version)}")
    scenario_name = _plain_name(t, t.str("name", name))
    description = t.str("description", "", nonempty=False)
    seed = scenario_seed(data)  # the top-level seed, else [provider] seed (as harness serve reads it), else 1
    t.raw("seed", None)
    duration_s = t.float("duration_s", 60.0, min=0, exclusive_min=True)
    drain_s = t.float("drain_s", 120.0, min=0)
    tags = t.str_list("tags", ())
    provider = ProviderConfig.from_table(t.table("provider", default=Table({}, "provider")))
    raw_faults = t.raw("faults", [])
    if isinstance(raw_faults, list) and len(raw_faults) > MAX_FAULTS and not allow_large:
        check_bounds(LoadSpec(), 1.0, 0.0, len(raw_faults), 1)  # before parsing ten thousand tables
    faults = FaultSchedule.parse(raw_faults, "faults")
    provider = replace(provider, faults=faults, seed=seed)
    if not t.has("load"):
        raise t.error(
            "load",
            "a scenario must declare its load: a [load] table with users (closed loop) or a rate (open loop)",
        )
    load = LoadSpec.parse(t.table("load"))
    known = provider.model_index()
    for model, _ in load.models:
        if model not in known:
            raise ConfigError(f"load.models.{model}", f"unknown model; the provider serves: {', '.join(sorted(known))}")
    client_data = t.raw("client", None)
    if client_data is None:
        client_data = _default_client(provider, load)
    instances = Table(client_data, "client").choice("instances", _INSTANCES, "shared")
    base = path.parent if path is not None else Path.cwd()
    client = _parse_client(client_data, "client", known, load, base)
    compare = tuple(_parse_client(ct.data, ct.path, known, load, base) for ct in t.tables("compare_with", []))
    gate_tables = t.tables("gates", None)
    gates = DEFAULT_GATES if gate_tables is None else parse_gates(gate_tables, METRIC_NAMES)
    explore = None
    if t.has("explore"):
        explore = ExploreSpace.parse(t.raw("explore"), mode=load.mode, quotas=provider.quotas is not None)
    t.done()
    if math.isinf(duration_s):
        raise ConfigError("duration_s", "expected a finite number of seconds")
    scenario = Scenario(
        name=scenario_name,
        description=description,
        seed=seed,
        duration_s=duration_s,
        drain_s=drain_s,
        provider=provider,
        load=load,
        client=client,
        gates=gates,
        instances=instances,
        compare_with=compare,
        tags=tags,
        explore=explore,
        version=version,
        path=path,
        raw=data,
    )
    if not allow_large:
        check_scenario_bounds(scenario)
    return scenario


def load_scenario(path: str | Path, *, allow_large: bool = False) -> Scenario:
    """Read and validate a scenario file; every problem is a :class:`ConfigError` naming the key.

    ``allow_large``: accept work above the ceilings of :mod:`harness.scenario.bounds`.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(file), f"cannot read the scenario: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(str(file), "the scenario is not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(file), f"not valid TOML: {exc}") from None
    return parse_scenario(data, name=file.stem, path=file, allow_large=allow_large)
