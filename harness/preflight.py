"""Checks made before a run starts, so a mistake costs a second, not the run: one ConfigError each.

* :func:`check_out_dir` — the report folder can be created and written (not discovered after the run);
* :func:`check_provider` — something at ``--provider-url`` answers like a fake provider, and whether it
  was started with the scenario being run (a warning when not).

:mod:`harness.cli` prints a :class:`~harness.errors.ConfigError` as one line naming the option, exit 2.
"""

from __future__ import annotations

import json
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from harness.control_api import CONTROL_TOKEN_ENV, control_headers
from harness.errors import ConfigError

__all__ = ["check_out_dir", "check_provider"]


def check_out_dir(out: Path, option: str = "--out") -> None:
    """Create the report folder now (not after a long run) and make sure a file can be written in it."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".harness-write-check-"):
            pass
    except OSError as exc:
        raise ConfigError(option, f"cannot write the report to {str(out)!r}: {exc.strerror or exc}") from None


def check_provider(url: str, expected: Any = None, timeout_s: float = 5.0) -> list[str]:
    """Ask the fake provider at ``url`` for its health; a ConfigError when nothing answers like one.

    ``expected`` is the :class:`~fake_provider.config.ProviderConfig` the scenario declares; when the
    server's ``config`` fingerprint differs (started with another scenario, another seed or none),
    the answer lists a warning: the run would judge a provider other than the one it describes.
    """
    headers = control_headers()  # HARNESS_CONTROL_TOKEN, when set (a provider off loopback asks for it)
    request = urllib.request.Request(f"{url}/_fake/health", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            body = response.read(1 << 20)
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            what = "refused the control token" if headers.get("authorization") else "requires a control token"
            raise ConfigError("--provider-url", f"the provider at {url} {what}; set {CONTROL_TOKEN_ENV}") from None
        raise ConfigError("--provider-url", f"{url} answered {exc.code} to /_fake/health: no fake provider") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        reason = getattr(reason, "strerror", None) or reason
        raise ConfigError(
            "--provider-url", f"no fake provider answers at {url} ({reason}); start one with harness serve"
        ) from None
    try:
        health = json.loads(body)
        if not isinstance(health, dict) or health.get("status") != "ok":
            raise ValueError
    except ValueError:
        raise ConfigError("--provider-url", f"{url}/_fake/health did not answer like a fake provider") from None
    warnings: list[str] = []
    if expected is not None:
        theirs = health.get("config")
        ours = expected.fingerprint()
        if theirs != ours:
            seed_note = ""
            if health.get("seed") != expected.seed:
                seed_note = f" (its seed is {health.get('seed')}, the scenario's {expected.seed})"
            warnings.append(
                f"the provider at {url} was not started with this scenario's [provider] table{seed_note}; "
                "start it with harness serve --scenario SCENARIO.toml, or its answers and quotas differ"
            )
    return warnings
