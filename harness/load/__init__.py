"""``harness load``: a scenario's load run by Locust, judged like ``harness run`` (gevent-free side).

* :mod:`harness.load.plan` — the scenario's ``[load]`` as Locust users, spawn rate and per-process shares;
* :mod:`harness.load.spec` — the run as handed to Locust's processes (scenario text, overrides, run id);
* :mod:`harness.load.records` — what each process records and ships (issued ids, outcomes, events);
* :mod:`harness.load.collect` — the records merged on the provider's clock, lost processes named;
* :mod:`harness.load.orchestrate` — the provider, Locust's processes, the judge and the report.

The Locust side (users, load shape, the asyncio bridge) is :mod:`harness.locust`, imported only in
Locust's own processes. See ``docs/load.md``.
"""
