"""How a scenario names the user's own app as the client under test: ``[client] kind = "app"``.

The app is a function of the user's, named ``"module:function"``, that calls the provider the way the
app does in production (an official SDK, LiteLLM, the reference client, its own HTTP calls) at the base
URL the harness hands it. It goes through the same seam as the SDK clients (an
:class:`~harness.scenario.sdk_spec.SDKClientSpec`: a third-party client under test, judged from the
provider's log and the outcome of each request), so ``harness run`` and ``harness explore`` judge it
in virtual time and over sockets with the same gates and invariants.

The function is resolved when the scenario is read, so a wrong name is a one-line error naming
``client.app`` (exit 2), not a failure in the middle of a run. The module is imported with the
scenario's folder (or ``app_path``, relative to it) first on the import path.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.scenario.sdk_spec import HARNESS_API_KEY, SDK_BACKOFF_CAP_S, SDKClientSpec
from harness.validate import Table

__all__ = ["APP_APIS", "AppClientSpec", "resolve_app"]

#: the APIs an app may speak: the load sends it that API's models
APP_APIS = ("openai", "anthropic", "gemini")


def resolve_app(target: str, folder: Path, key: str = "client.app") -> Callable[..., Any]:
    """The function ``"module:function"`` names, imported with ``folder`` first on the path; ConfigError if not."""
    module_name, sep, attr = target.partition(":")
    names = (*module_name.split("."), *attr.split("."))
    if not sep or not all(name.isidentifier() for name in names):
        raise ConfigError(key, f'expected "module:function" (e.g. "my_app:make_app"), got {target!r}')
    added = str(folder) not in sys.path
    if added:
        sys.path.insert(0, str(folder))
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            looked = f"looked in {folder} and on the Python path"
            raise ConfigError(key, f"no module named {exc.name!r} ({looked})") from None
        raise ConfigError(key, f"importing {module_name!r} failed: {type(exc).__name__}: {exc}") from None
    except Exception as exc:  # the user's module raised while importing: say so in one line
        raise ConfigError(key, f"importing {module_name!r} failed: {type(exc).__name__}: {exc}") from None
    finally:
        if added:
            sys.path.remove(str(folder))
    found: Any = module
    for part in attr.split("."):
        found = getattr(found, part, None)
        if found is None:
            raise ConfigError(key, f"module {module_name!r} has no {attr!r}")
    if not callable(found):
        raise ConfigError(key, f"{target!r} is not a function (got {type(found).__name__})")
    return found  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class AppClientSpec(SDKClientSpec):
    """The ``[client]`` section of an app under test.

    Example::

        [client]
        kind = "app"
        app = "support_bot:make_app"   # module:function, imported from the scenario's folder
        api = "openai"                 # the API the app speaks (default "openai")
        max_attempts = 3               # what the app promises per request (the retry_amplification gate)
        backoff_cap_s = 8              # its backoff cap (the herd gate's window)
    """

    target: str = ""  # "module:function"
    folder: str = "."  # where the module was found (absolute): a world's file replays from anywhere
    api: str = "openai"
    attempts: int | None = None
    cap_s: float = SDK_BACKOFF_CAP_S
    function: Callable[..., Any] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def parse_app(cls, t: Table, base: Path) -> AppClientSpec:
        kind = t.choice("kind", ("app",))
        target = t.str("app")
        folder = (base / t.str("app_path", ".")).resolve()
        spec = cls(
            kind=kind,
            target=target,
            folder=str(folder),
            api=t.choice("api", APP_APIS, "openai"),
            attempts=t.int("max_attempts", None, min=1, max=100),
            cap_s=t.float("backoff_cap_s", SDK_BACKOFF_CAP_S, min=0, exclusive_min=True),
            api_key=t.str("api_key", HARNESS_API_KEY),
            function=resolve_app(target, folder, f"{t.path}.app" if t.path else "app"),
        )
        t.done()
        return spec

    @property
    def backoff_cap_s(self) -> float:
        return self.cap_s

    @property
    def max_attempts(self) -> int | None:
        return self.attempts
