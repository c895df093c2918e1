"""The locustfile ``harness load`` runs: ``python -m locust -f <this file> …`` (see harness.load.orchestrate).

It defines nothing of its own: the user class, the load shape and the event hooks come from
:mod:`harness.locust.scenario`; the run itself from the spec file named by ``HARNESS_LOAD_SPEC`` (the
local or master process) or from the master (a worker).
"""

from locust import events

from harness.locust.scenario import ScenarioShape, ScenarioUser, install

__all__ = ["ScenarioShape", "ScenarioUser"]

install(events)
