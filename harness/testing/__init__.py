"""Testing with the harness under pytest: the fake provider on a thread, scenario runs and items.

The pytest plugin (:mod:`harness.pytest_plugin`, loaded automatically once the package is installed)
wires these into fixtures and collection; they are usable without pytest fixtures too::

    with FakeProvider.start() as fake:            # a fake provider on a free loopback port
        client = openai.OpenAI(base_url=fake.openai_base_url, api_key=fake.api_key)

``docs/pytest.md`` is the guide.
"""

from harness.testing.runs import RunSettings, ScenarioRun, failure_message, run_and_report
from harness.testing.server import DUMMY_API_KEY, FakeProvider, provider_config

__all__ = [
    "DUMMY_API_KEY",
    "FakeProvider",
    "RunSettings",
    "ScenarioRun",
    "failure_message",
    "provider_config",
    "run_and_report",
]
