"""A world as an ordinary scenario: built from the base scenario's document, run in virtual time, judged.

Every world goes through the same text a user would replay: the document is written as TOML, read back
and validated like any scenario file, and that scenario is what runs. So ``counterexample.toml`` is not
a description of the failing world but the world itself, and ``harness run counterexample.toml`` repeats
it bit for bit (virtual time is deterministic for a given file).

The properties a world must keep are the scenario's gates plus the invariants of ``[explore]``
(:data:`~harness.explore.space.INVARIANTS`). A gate whose metric does not exist in a world (a herd
gate in a world without an outage) does not apply to it; it neither passes nor fails there, and the
counterexample leaves it out so that replaying it fails only for the reason exploring did.
"""

from __future__ import annotations

import copy
import hashlib
import math
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.errors import ConfigError
from harness.explore.strategies import World
from harness.explore.toml_text import dumps
from harness.judge.gates import GateResult, GateSpec
from harness.report.result import RunResult
from harness.scenario.app_spec import AppClientSpec
from harness.scenario.explore import INVARIANTS
from harness.scenario.model import Scenario, parse_scenario

__all__ = ["WorldRun", "judge_world", "run_world", "world_document", "world_scenario", "world_toml"]

_QUOTA_LIMITS = ("rpm", "tpm", "itpm", "otpm", "max_in_flight")
_NOT_AVAILABLE = "not available"


def _gate_table(spec: GateSpec) -> dict[str, Any]:
    table: dict[str, Any] = {"metric": spec.metric}
    if spec.op is not None:
        table["op"] = spec.op
    if spec.threshold is not None:
        table["threshold"] = spec.threshold
    return table


def _squeezed(quotas: Mapping[str, Any], share: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in quotas.items():
        if key in _QUOTA_LIMITS and isinstance(value, int) and not isinstance(value, bool):
            out[key] = max(1, math.floor(value * share))
        elif key == "models" and isinstance(value, Mapping):
            out[key] = {name: _squeezed(table, share) for name, table in value.items()}
        else:
            out[key] = value
    return out


def world_document(base: Scenario, world: World, *, name: str | None = None) -> dict[str, Any]:
    """The scenario document of ``world``: the base file without ``[explore]``, the world's changes applied.

    Gates: the scenario's (or the defaults when it declares none) and one per invariant of the space,
    each metric once.
    """
    doc = copy.deepcopy({k: v for k, v in base.raw.items() if k != "explore"})
    doc["name"] = name or base.name
    doc["seed"] = world.seed
    if world.duration_s is not None:
        doc["duration_s"] = world.duration_s
    load = dict(doc.get("load", {}))
    if world.users is not None:
        load["users"] = world.users
    if world.rate is not None:
        load["rate"] = world.rate
    if world.stream_share is not None:
        load["stream_share"] = world.stream_share
    doc["load"] = load
    faults = [*doc.get("faults", []), *(dict(f) for f in world.faults)]
    if faults:
        doc["faults"] = faults
    if world.squeeze is not None:
        provider = dict(doc.get("provider", {}))
        provider["quotas"] = _squeezed(provider.get("quotas", {}), world.squeeze)
        doc["provider"] = provider
    gates = [_gate_table(g) for g in base.gates]
    seen = {g.metric for g in base.gates}
    space = base.explore
    for invariant in space.invariants if space is not None else INVARIANTS:
        metric = INVARIANTS[invariant]
        if metric not in seen:
            seen.add(metric)
            gates.append({"metric": metric, "op": "==", "threshold": 0} if metric == "truncated_answers" else
                         {"metric": metric})  # fmt: skip
    doc["gates"] = gates
    _anchor_apps(doc, base)
    # the document is rebuilt from the base's own tables: re-order so that top-level keys come first
    return doc


def _anchor_apps(doc: dict[str, Any], base: Scenario) -> None:
    """An app client's module folder, made absolute: a world's file (a counterexample) replays from anywhere."""
    if isinstance(base.client, AppClientSpec) and isinstance(doc.get("client"), dict):
        doc["client"] = {**doc["client"], "app_path": base.client.folder}
    tables = doc.get("compare_with")
    if isinstance(tables, list):
        for i, client in enumerate(base.compare_with):
            if isinstance(client, AppClientSpec) and i < len(tables) and isinstance(tables[i], dict):
                tables[i] = {**tables[i], "app_path": client.folder}


def world_toml(base: Scenario, world: World, *, name: str | None = None, header: str = "") -> str:
    return dumps(world_document(base, world, name=name), header=header)


def world_scenario(base: Scenario, world: World, *, name: str | None = None) -> tuple[str, Scenario]:
    """(TOML text, the scenario read back from it): what runs is exactly what a file would hold."""
    text = world_toml(base, world, name=name)
    try:
        scenario = parse_scenario(tomllib.loads(text), name=name or base.name)
    except ConfigError as exc:  # a space that can draw an invalid world is the space's mistake
        problem = f"a drawn world is not a valid scenario ({exc}); narrow the [explore] ranges"
        raise ConfigError("explore", problem) from None
    return text, scenario


@dataclass(frozen=True)
class WorldRun:
    """A world that ran: its file, its judged gates, and what failed."""

    world: World
    toml: str
    gates: tuple[GateResult, ...]  # every gate as judged (not-applicable ones included, marked)
    metrics: Mapping[str, Any] = field(repr=False)
    digest: str | None  # SHA-256 of the provider's request log and the client's outcomes (None: not hashed)
    wall_s: float

    @property
    def failures(self) -> tuple[GateResult, ...]:
        """Gates that applied to this world and failed."""
        return tuple(g for g in self.gates if not g.passed and not g.note.endswith(_NOT_AVAILABLE))

    @property
    def applicable(self) -> tuple[GateResult, ...]:
        return tuple(g for g in self.gates if not g.note.endswith(_NOT_AVAILABLE))

    @property
    def passed(self) -> bool:
        return not self.failures

    def failed_names(self) -> tuple[str, ...]:
        return tuple(g.name for g in self.failures)

    def describe(self) -> str:
        if self.passed:
            return f"passed: {self.world.describe()}"
        return "; ".join(g.describe() for g in self.failures) + f" — in {self.world.describe()}"


def run_digest(result: RunResult) -> str:
    """What "bit for bit" compares: the provider's request log and the client's outcome log."""
    # a record's repr holds every field (floats exactly), at a tenth of the cost of its JSON line
    h = hashlib.sha256()
    for record in result.provider_records:
        h.update(repr(record).encode())
    for outcome in result.outcomes:
        h.update(repr(outcome).encode())
    return h.hexdigest()


def judge_world(world: World, toml: str, result: RunResult, *, hash_passing: bool = True) -> WorldRun:
    """The judged world; ``hash_passing=False`` leaves a passing world's logs unhashed (``digest`` None).

    Only a counterexample's digest is ever compared (with its replay's), so the search hashes the
    failing worlds alone.
    """
    metrics = {k: v for k, v in result.metrics.items() if k != "wall_s"}
    gates = tuple(result.gates)
    failed = any(not g.passed and not g.note.endswith(_NOT_AVAILABLE) for g in gates)
    digest = run_digest(result) if failed or hash_passing else None
    return WorldRun(world, toml, gates, metrics, digest, float(result.metrics["wall_s"]))


Runner = Callable[[Scenario], RunResult]


def _virtual(scenario: Scenario) -> RunResult:
    from harness.runner.run import run_scenario

    return run_scenario(scenario)


def run_world(base: Scenario, world: World, *, runner: Runner | None = None, name: str | None = None) -> WorldRun:
    """Run ``world`` (virtual time unless ``runner`` says otherwise) and judge it."""
    text, scenario = world_scenario(base, world, name=name)
    return judge_world(world, text, (runner or _virtual)(scenario), hash_passing=False)


def applicable_gates(run: WorldRun) -> list[dict[str, Any]]:
    """The gate tables of ``run``'s document that applied to it (what a counterexample keeps)."""
    names = {g.name for g in run.applicable}
    doc = tomllib.loads(run.toml)
    return [g for g in doc.get("gates", []) if g["metric"] in names]


def counterexample_toml(run: WorldRun, header: str, dropped: Sequence[str] = ()) -> str:
    """The failing world's file, with only the gates that applied to it (so a replay fails as exploring did)."""
    doc = tomllib.loads(run.toml)
    doc["name"] = f"{doc['name']}_counterexample"  # its report folder is not the explored scenario's
    doc["gates"] = applicable_gates(run)
    note = header
    if dropped:
        note += "\nGates left out (their metric does not exist in this world): " + ", ".join(dropped)
    return dumps(doc, header=note)
