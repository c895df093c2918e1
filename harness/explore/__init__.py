"""Property-based chaos: search a scenario's space of worlds, shrink a failure to a replayable scenario.

* :mod:`harness.explore.strategies` — Hypothesis strategies (``worlds``, ``fault_schedules``,
  ``fault_tables``, ``load_shapes``, ``seeds``) that shrink toward fewer, shorter, milder faults;
* :mod:`harness.explore.world` — a world as an ordinary scenario file, run in virtual time and judged
  against the scenario's gates and the invariants every world must keep;
* :mod:`harness.explore.search` — ``explore(scenario)``: Hypothesis searches the ``[explore]`` space,
  shrinks the first failure, and hands back the minimal world;
* ``harness explore SCENARIO.toml`` (:mod:`harness.commands.explore`) and the pytest items.

``docs/explore.md`` is the guide.
"""

from harness.explore.search import Coverage, Exploration, ExploreProgress, ExploreSettings, WorldFailed, explore
from harness.explore.strategies import World, fault_schedules, fault_tables, load_shapes, seeds, worlds
from harness.explore.world import WorldRun, run_world, world_document, world_scenario, world_toml
from harness.scenario.explore import EXPLORE_KINDS, INVARIANTS, ExploreSpace, Range

__all__ = [
    "EXPLORE_KINDS",
    "INVARIANTS",
    "Coverage",
    "Exploration",
    "ExploreProgress",
    "ExploreSettings",
    "ExploreSpace",
    "Range",
    "World",
    "WorldFailed",
    "WorldRun",
    "explore",
    "fault_schedules",
    "fault_tables",
    "load_shapes",
    "run_world",
    "seeds",
    "world_document",
    "world_scenario",
    "world_toml",
    "worlds",
]
