"""Locust glue: the reference client (and any asyncio code) inside Locust users.

Importing this package imports Locust, which monkey-patches the standard library with gevent: import
it only in a Locust process (a locustfile), never in a process that runs asyncio code of its own.

* :class:`LLMUser` — a Locust user whose tasks get a ready :class:`~harness.client.ResilientClient`
  (``self.client``), send requests reported to Locust's stats (``self.chat``) and run their own
  coroutines (``self.run``);
* :func:`bridge` / :class:`AsyncBridge` — the process's asyncio loop on its own OS thread, for any
  coroutine from any greenlet;
* :func:`report` — report a logical LLM request to Locust's statistics the way ``harness load`` does.

``harness load`` (``harness/commands/load.py``) runs a scenario through Locust with the same pieces; see
``docs/load.md``. An example locustfile: ``examples/locustfile.py``.
"""

from typing import Any

import gevent
from locust import events

from harness.locust.bridge import AsyncBridge, bridge
from harness.locust.stats import TTFT, LLMRequestFailed, report
from harness.locust.user import LLMUser


def _refresh_loop_clock(**_: Any) -> None:
    """gevent's timers count from the loop's cached time, which stands still while a locustfile imports
    (seconds, with the client's libraries): ``--run-time`` scheduled from it would end the run early
    by that much. Locust's ``init`` comes after the import and before the run is scheduled."""
    gevent.get_hub().loop.update_now()


_events: Any = events  # Locust's hooks are untyped
_events.init.add_listener(_refresh_loop_clock)

__all__ = ["TTFT", "AsyncBridge", "LLMRequestFailed", "LLMUser", "bridge", "report"]
