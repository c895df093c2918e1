"""The plugin's command-line options and ini keys, and the settings read from them.

=========================  ===============================================================
``--harness-real-time``    run scenario items over sockets in real time (default: virtual)
``--harness-seed N``       override every scenario's seed
``--harness-reports DIR``  report folders go to ``DIR/<scenario-name>/`` (default ``reports``)
``--harness-examples N``   ``[explore]`` scenarios: worlds each property item tries (default: its ``examples``)
``--harness-allow-large``  collect scenarios whose estimated work is above the ceilings
``harness_scenarios``      ini: when ``*.toml`` scenario files are collected — ``explicit``
                           (default: only below paths given on the command line), ``always``
                           (also from ``testpaths`` or the current directory), ``never``
=========================  ===============================================================
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.testing.runs import RunSettings

__all__ = [
    "COLLECT_POLICIES",
    "add_options",
    "allow_large",
    "collect_policy",
    "configure",
    "run_settings",
    "should_collect",
]

COLLECT_POLICIES = ("explicit", "always", "never")
_MAX_SEED = 2**63 - 1
_SETTINGS = pytest.StashKey[RunSettings]()
_POLICY = pytest.StashKey[str]()


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "LLM harness scenarios (harness.pytest_plugin)")
    group.addoption(
        "--harness-real-time",
        action="store_true",
        default=False,
        help="run scenario items over sockets in real time (default: virtual time, deterministic)",
    )
    group.addoption("--harness-seed", metavar="N", default=None, help="override the seed of every scenario")
    group.addoption(
        "--harness-reports",
        metavar="DIR",
        default="reports",
        help="report folders go to DIR/<scenario-name>/ (default: reports, relative to the current directory)",
    )
    group.addoption(
        "--harness-examples",
        metavar="N",
        default=None,
        help="[explore] scenarios run as property items: worlds to try each (default: the space's examples)",
    )
    group.addoption(
        "--harness-allow-large",
        action="store_true",
        default=False,
        help="accept scenarios whose estimated work is above the ceilings (docs/scenarios.md, Bounds)",
    )
    parser.addini(
        "harness_scenarios",
        "when *.toml scenario files are collected: explicit (only below paths given on the command line; "
        "the default), always, or never",
        default="explicit",
    )


def _seed(raw: object) -> int | None:
    if raw is None:
        return None
    text = str(raw).strip()
    if not (text.isascii() and text.isdigit()) or int(text) > _MAX_SEED:
        raise pytest.UsageError(f"--harness-seed: expected an integer from 0 to 2**63-1, got {text[:40]!r}")
    return int(text)


def _examples(raw: object) -> int | None:
    if raw is None:
        return None
    from harness.scenario.explore import MAX_EXAMPLES

    text = str(raw).strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_EXAMPLES:
        raise pytest.UsageError(f"--harness-examples: expected an integer from 1 to {MAX_EXAMPLES}, got {text[:40]!r}")
    return int(text)


def configure(config: pytest.Config) -> None:
    """Validate the options once, at configure time, so a bad one is a usage error before collection."""
    base = config.invocation_params.dir
    reports = Path(config.getoption("harness_reports") or "reports")
    config.stash[_SETTINGS] = RunSettings(
        real_time=bool(config.getoption("harness_real_time")),
        seed=_seed(config.getoption("harness_seed")),
        examples=_examples(config.getoption("harness_examples")),
        reports=reports if reports.is_absolute() else base / reports,
        base=base,
    )
    policy = str(config.getini("harness_scenarios") or "explicit").strip().lower()
    if policy not in COLLECT_POLICIES:
        raise pytest.UsageError(f"harness_scenarios: expected one of {', '.join(COLLECT_POLICIES)}, got {policy!r}")
    config.stash[_POLICY] = policy


def run_settings(config: pytest.Config) -> RunSettings:
    return config.stash[_SETTINGS]


def allow_large(config: pytest.Config) -> bool:
    """``--harness-allow-large``: scenario files above the work ceilings are collected anyway."""
    return bool(config.getoption("harness_allow_large"))


def collect_policy(config: pytest.Config) -> str:
    return config.stash[_POLICY]


def should_collect(config: pytest.Config) -> bool:
    """Whether scenario files are collected in this session.

    ``explicit``: only when the paths came from the command line (``pytest scenarios/``), not from
    ``testpaths`` or the current directory — so a bare ``pytest`` never starts the catalogue.
    pytest-xdist workers receive the controller's arguments, so they decide the same way.
    """
    policy = collect_policy(config)
    if policy == "never":
        return False
    return policy == "always" or config.args_source is pytest.Config.ArgsSource.ARGS
