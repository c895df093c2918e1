"""The reference client as the runner's client under test: driven by the load driver, judged by the judge."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from fake_provider import ProviderCore
from harness import vtime
from harness.client import HttpRequest, ResilientClient, RetryBudgetConfig
from harness.client.testing import InjectHeaders, attempt_of
from harness.clock import loop_clock
from harness.distributions import Distribution
from harness.judge import RunFacts, compute_metrics
from harness.runner.driver import drive
from harness.runner.memory_transport import MemoryTransport
from harness.runner.workload import Workload
from harness.scenario.load import LoadSpec
from tests.unit.client.test_client_support import config, provider


def test_a_closed_loop_run_loses_nothing_and_the_costs_reconcile() -> None:
    load = LoadSpec(
        mode="closed", users=20, think_s=Distribution.fixed(0.5), prompt_tokens=Distribution.fixed(40),
        max_tokens=Distribution.fixed(16), stream_share=0.5, users_pool=5,
        models=(("gpt-4o-mini", 1.0), ("claude-haiku-4-5", 1.0)),
    )  # fmt: skip

    async def main() -> tuple[dict[str, object], ResilientClient, int]:
        core = ProviderCore(provider(), clock=loop_clock())

        def every_fifth_first_attempt(request: HttpRequest) -> dict[str, str] | None:
            index = int(request.headers["x-harness-request-id"].rsplit("-", 1)[1])
            return {"x-fake-status": "503"} if index % 5 == 0 and attempt_of(request) == 0 else None

        transport = InjectHeaders(MemoryTransport(core), every_fifth_first_attempt)
        # a retry budget above the 20 % of first attempts that fail, so that every request can be retried
        cfg = config("gpt-4o-mini", "claude-haiku-4-5", retry_budget=RetryBudgetConfig(ratio=0.3, reserve=10))
        client = ResilientClient(cfg, transport=transport)
        clock = loop_clock()
        started = time.monotonic()
        stats = await drive(
            load, Workload(load, seed=3, default_model="gpt-4o-mini"), client,
            duration_s=30, drain_s=10, clock=clock, sleep=asyncio.sleep, seed=3,
        )  # fmt: skip
        facts = RunFacts(
            "driver", 3, "virtual", stats.t0, stats.t_end, time.monotonic() - started, tuple(stats.issued_ids)
        )
        metrics = compute_metrics(facts, core.log.since(0), client.outcomes())
        await client.aclose()
        return metrics, client, len(stats.crashes)

    metrics, client, crashes = vtime.run(main())
    assert crashes == 0
    assert metrics["lost_requests"] == 0
    assert metrics["success_rate"] == 1.0
    assert metrics["retry_after_violations"] == 0
    assert Decimal(str(metrics["cost_abs_error_usd"])) == 0
    assert metrics["requests_logical"] == len(client.outcomes()) > 500
    assert metrics["retry_amplification"] > 1.0  # the injected 503s were retried
    assert client.state() == "gpt-4o-mini=closed, claude-haiku-4-5=closed"
