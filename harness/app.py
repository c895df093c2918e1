"""Your own app as the client under test: what ``[client] kind = "app"`` hands it, and the same from Python.

``from harness.app import AppEnv`` for the type of the object your ``make_app(env)`` receives;
:func:`with_app` puts an app function into a scenario without editing its file (for ``explore(...)``,
``run_world(...)`` or ``run_scenario(...)`` called from Python). :mod:`harness.runner.app_client`
explains the contract and ``docs/explore.md`` shows an example.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.runner.app_client import AppEnv
from harness.scenario.model import Scenario, parse_scenario

__all__ = ["AppEnv", "with_app"]


def with_app(
    scenario: Scenario,
    function: Callable[..., Any],
    *,
    api: str = "openai",
    max_attempts: int | None = None,
    backoff_cap_s: float | None = None,
) -> Scenario:
    """``scenario`` with ``function`` (a factory or an async function, module level) as its client.

    The result is the scenario whose ``[client]`` table says ``kind = "app"`` and names the function by
    module and name, read and validated like a file, so every world written from it (a counterexample)
    names the app too and ``harness run`` replays it in another process. A function of a script run as
    ``python script.py`` is named by the script's file, which that process imports: keep the script's
    own work under ``if __name__ == "__main__":``.
    """
    qualname = getattr(function, "__qualname__", "")
    module = getattr(function, "__module__", None)
    if not module or not qualname or "<locals>" in qualname or "<lambda>" in qualname:
        raise ConfigError("app", f"expected a function defined at module level, got {function!r}")
    try:
        file = Path(inspect.getfile(function)).resolve()
    except TypeError:
        raise ConfigError("app", f"{module}.{qualname} has no source file to import it from") from None
    if module == "__main__":  # a script: named by its file, so that another process can import it
        module = file.stem
    # the folder the dotted module name is imported from (a.b.c in /x/a/b/c.py: /x)
    depth = len(module.split(".")) - (0 if file.stem == "__init__" else 1)
    folder = file.parents[depth] if depth < len(file.parents) else file.parent
    table: dict[str, Any] = {"kind": "app", "app": f"{module}:{qualname}", "app_path": str(folder), "api": api}
    if max_attempts is not None:
        table["max_attempts"] = max_attempts
    if backoff_cap_s is not None:
        table["backoff_cap_s"] = backoff_cap_s
    raw = {**scenario.raw, "client": table}
    return parse_scenario(raw, name=scenario.name, path=scenario.path)
