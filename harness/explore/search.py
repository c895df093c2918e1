"""The search: Hypothesis draws worlds of a scenario's ``[explore]`` space, runs them, shrinks a failure.

One property test is built per exploration, ``@given(world=worlds(space))``, and run programmatically
with ``settings(max_examples=N, deadline=None)`` under ``@seed(N)``: the same seed gives the
same worlds in the same order. When a world fails, Hypothesis shrinks it (fewer, shorter, milder
faults; fewer users; a shorter run; seed 0) and the smallest world that still fails the same way is
the counterexample. (Hypothesis's example database is not used: under a fixed seed it neither saves
nor replays, so failures are not remembered between explorations; a counterexample file is.)

Bounded: at most ``examples`` worlds are generated and, once ``max_time_s`` has passed, no world that
has not already run is run again: generation stops and shrinking settles on the smallest failure found.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import hypothesis
import hypothesis.errors
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase

from harness.errors import ConfigError
from harness.explore.strategies import World, worlds
from harness.explore.world import Runner, WorldRun, run_world
from harness.scenario.explore import MAX_EXAMPLES, MAX_TIME_S
from harness.scenario.model import Scenario

__all__ = ["Coverage", "Exploration", "ExploreProgress", "ExploreSettings", "WorldFailed", "explore"]


class WorldFailed(AssertionError):
    """A world broke a property; carries the judged run."""

    def __init__(self, run: WorldRun) -> None:
        super().__init__(run.describe())
        self.run = run


@dataclass(frozen=True)
class ExploreSettings:
    """How long and how to search; ``None`` takes the space's own value."""

    examples: int | None = None
    max_time_s: float | None = None
    seed: int | None = None  # None: the scenario's seed
    database: Path | None = None  # Hypothesis's example database folder; None: no database

    def check(self) -> None:
        if self.examples is not None and not 1 <= self.examples <= MAX_EXAMPLES:
            raise ConfigError("--examples", f"expected an integer in [1, {MAX_EXAMPLES}], got {self.examples}")
        if self.max_time_s is not None and not 0 < self.max_time_s <= MAX_TIME_S:
            raise ConfigError("--max-time", f"expected seconds in (0, {MAX_TIME_S:g}], got {self.max_time_s:g}")
        if self.seed is not None and not 0 <= self.seed < 2**63:
            raise ConfigError("--seed", f"expected an integer from 0 to 2**63-1, got {self.seed}")


@dataclass
class Coverage:
    """Which parts of the space were tried: worlds per kind, per overlapping pair, per fault count."""

    kinds: Counter[str] = field(default_factory=Counter)
    overlaps: Counter[tuple[str, str]] = field(default_factory=Counter)
    fault_counts: Counter[int] = field(default_factory=Counter)
    users: tuple[float, float] | None = None  # (least, most) users or rate tried
    durations: tuple[float, float] | None = None

    def add(self, world: World, run_s: float) -> None:
        for kind in set(world.all_kinds()):
            self.kinds[kind] += 1
        for pair in world.overlaps(run_s):
            self.overlaps[pair] += 1
        self.fault_counts[world.fault_count] += 1
        load = world.users if world.users is not None else world.rate
        if load is not None:
            self.users = (min(self.users[0], load), max(self.users[1], load)) if self.users else (load, load)
        self.durations = (min(self.durations[0], run_s), max(self.durations[1], run_s)) if self.durations else (
            run_s, run_s)  # fmt: skip

    def to_dict(self) -> dict[str, object]:
        return {
            "kinds": dict(sorted(self.kinds.items())),
            "overlaps": {f"{a}+{b}": n for (a, b), n in sorted(self.overlaps.items())},
            "fault_counts": {str(k): n for k, n in sorted(self.fault_counts.items())},
            "load_range": list(self.users) if self.users else None,
            "duration_range_s": list(self.durations) if self.durations else None,
        }


@dataclass
class ExploreProgress:
    """Live counters, handed to the progress callback after every world."""

    examples: int
    max_time_s: float
    started: float = field(default_factory=time.monotonic)
    worlds: int = 0  # distinct worlds run
    calls: int = 0  # worlds Hypothesis asked for (repeats answered from the cache)
    failures: int = 0  # worlds that failed (the first and every smaller one found while shrinking)
    shrink_steps: int = 0  # worlds tried after the first failure
    phase: str = "generating"  # generating, shrinking, out of time
    last: str = ""  # the last world, one line
    smallest: WorldRun | None = None  # the smallest failing world so far

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started


@dataclass
class Exploration:
    """What an exploration found."""

    scenario: str
    seed: int
    examples: int
    max_time_s: float
    worlds: int
    calls: int
    failures: int
    shrink_steps: int
    elapsed_s: float
    out_of_time: bool
    coverage: Coverage
    counterexample: WorldRun | None = None  # the minimal failing world
    first_failure: WorldRun | None = None  # the failing world as first found, before shrinking

    @property
    def passed(self) -> bool:
        return self.counterexample is None


def _size(run: WorldRun) -> tuple[float, ...]:
    w = run.world
    return (w.fault_count, w.users or w.rate or 0, w.duration_s or 0)


@contextlib.contextmanager
def _frozen_heap() -> Iterator[None]:
    """Collect and freeze what exists once for the whole search, not once per world.

    A virtual-time run freezes the heap before it starts (:func:`~harness.runner.run.collector_for_simulation`)
    unless its caller already did; a full collection of a process holding Hypothesis and every module
    cost a tenth of a 100-user world. Each world's own garbage is still collected as it runs.
    """
    if gc.get_freeze_count() > 0 or not gc.isenabled():
        yield
        return
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def explore(
    scenario: Scenario,
    options: ExploreSettings | None = None,
    *,
    runner: Runner | None = None,
    on_progress: Callable[[ExploreProgress], None] | None = None,
) -> Exploration:
    """Search the scenario's ``[explore]`` space; shrink and return the smallest failure, if any."""
    space = scenario.explore
    if space is None:
        raise ConfigError(
            "explore", "the scenario has no [explore] table; add one to declare the space (docs/explore.md)"
        )
    options = options or ExploreSettings()
    options.check()
    examples = options.examples if options.examples is not None else space.examples
    max_time = options.max_time_s if options.max_time_s is not None else space.max_time_s
    seed = options.seed if options.seed is not None else scenario.seed
    progress = ExploreProgress(examples, max_time)
    deadline = progress.started + max_time
    coverage = Coverage()
    cache: dict[str, WorldRun] = {}
    first: list[WorldRun] = []

    def body(world: World) -> None:
        progress.calls += 1
        key = world.key()
        run = cache.get(key)
        if run is None:
            if time.monotonic() > deadline:
                progress.phase = "out of time"
                hypothesis.reject()  # bounded: no new world runs after max_time; shrinking settles on what it has
            run = run_world(scenario, world, runner=runner, name=scenario.name)
            cache[key] = run
            progress.worlds += 1
            coverage.add(world, world.duration_s if world.duration_s is not None else scenario.duration_s)
            if first:
                progress.shrink_steps += 1
            if not run.passed:
                progress.failures += 1
                if not first:
                    first.append(run)
                    progress.phase = "shrinking"
                if progress.smallest is None or _size(run) <= _size(progress.smallest):
                    progress.smallest = run
        progress.last = world.describe()
        if on_progress is not None:
            on_progress(progress)
        if not run.passed:
            raise WorldFailed(run)

    strategy = worlds(space, duration_s=scenario.duration_s)
    database: ExampleDatabase | None = None
    if options.database is not None:
        database = DirectoryBasedExampleDatabase(str(options.database))
    test = settings(
        max_examples=examples,
        deadline=None,
        database=database,
        derandomize=False,
        phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        verbosity=Verbosity.quiet,
        print_blob=False,
    )(given(world=strategy)(body))
    # one database key per scenario and space: worlds saved for one space are not replayed in another
    digest = hashlib.sha256(f"{scenario.name}\n{space!r}\n{scenario.raw!r}".encode()).digest()
    test.hypothesis.inner_test._hypothesis_internal_add_digest = digest  # type: ignore[attr-defined]
    test = hypothesis.seed(seed)(test)
    found: WorldRun | None = None
    try:
        with _frozen_heap():
            test()
    except WorldFailed as exc:
        found = exc.run
    except hypothesis.errors.Unsatisfiable:
        pass  # out of time before a single world ran to completion
    return Exploration(
        scenario=scenario.name,
        seed=seed,
        examples=examples,
        max_time_s=max_time,
        worlds=progress.worlds,
        calls=progress.calls,
        failures=progress.failures,
        shrink_steps=progress.shrink_steps,
        elapsed_s=progress.elapsed_s,
        out_of_time=progress.phase == "out of time",
        coverage=coverage,
        counterexample=found,
        first_failure=first[0] if first else None,
    )
