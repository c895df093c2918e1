"""Tests of the pytest plugin: ``-p pytester`` for this folder, and small scenario files to run.

``pytest_plugins = ["pytester"]`` is refused in a conftest below the rootdir, so the plugin is
loaded when this conftest is: ``pytest_configure`` is replayed for conftests registered late.
"""

from __future__ import annotations

import textwrap

import pytest

# Inner sessions run in this process, and pytester drops the modules they imported when they end;
# numpy (and with it matplotlib) cannot be imported twice in one process. Importing what a scenario
# run needs here keeps those modules loaded across inner sessions (and makes them faster).
import harness.report.html
import harness.runner.run
import harness.scenario.model
import harness.testing.server  # noqa: F401


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")


#: the inner sessions run as strictly as this repository's own: unknown markers and warnings fail.
#: One warning is an artefact of running pytest inside pytest: the plugin's package is already
#: imported, so the inner session cannot assertion-rewrite it (a fresh process never sees this).
INNER_INI = """\
[pytest]
addopts = --strict-markers -p no:cacheprovider
filterwarnings =
    error
    ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning
asyncio_default_fixture_loop_scope = function
"""


def scenario_toml(name: str, *, tags: tuple[str, ...] = (), seed: int = 3, extra: str = "") -> str:
    """A scenario of two simulated seconds and two users (a tenth of a second to run).

    ``think_s`` matters: with no think time and a provider that answers instantly, a closed loop
    never lets virtual time advance.
    """
    tag_list = ", ".join(f'"{t}"' for t in tags)
    head = f"""\
    version = 1
    name = "{name}"
    seed = {seed}
    duration_s = 2
    drain_s = 5
    tags = [{tag_list}]

    [load]
    users = 2
    think_s = 0.5
    """
    return textwrap.dedent(head) + textwrap.dedent(extra)


#: an outage for the whole run: every request fails, so this gate fails with the value 0.0
FAILING_GATE = """
[[faults]]
kind = "outage"
always = true

[[gates]]
metric = "success_rate"
op = ">="
threshold = 0.99
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester project with this repository's strict pytest settings."""
    pytester.makefile(".ini", pytest=INNER_INI)
    return pytester
