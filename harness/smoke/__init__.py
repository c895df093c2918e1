"""``harness smoke``: a budget-capped check of a real provider that also holds the fake provider to it.

A short battery through the reference client (a plain answer, a streamed one with usage, a request
that must fail without cost, the rate-limit headers, a small burst within them, each answer's cost),
a hard cost cap (a preflight worst case refused before any request; the client's hard budget during
the run), and the *shapes* of every answer — structure, types, header formats, stream event
sequences; never text, ids or keys — compared with the fake provider's. See ``docs/smoke.md``.

Example::

    settings = SmokeSettings.create("openai", max_cost_usd="0.02")
    report = asyncio.run(smoke(settings, key=os.environ["OPENAI_API_KEY"], compare_fake=True))
    report.passed, [str(d) for d in report.differences]
"""

from harness.smoke.battery import BatteryResult, Check, run_battery
from harness.smoke.compare import Difference, compare_shapes
from harness.smoke.plan import (
    DEFAULT_MAX_COST_USD,
    DEFAULT_MODELS,
    KEY_ENV,
    Estimate,
    SmokeSettings,
    api_key,
    preflight,
)
from harness.smoke.redaction import Redactor
from harness.smoke.report import SmokeReport, print_report, write_report
from harness.smoke.run import load_reference, shape_document, smoke
from harness.smoke.shapes import exchange_shape, json_shape

__all__ = [
    "DEFAULT_MAX_COST_USD",
    "DEFAULT_MODELS",
    "KEY_ENV",
    "BatteryResult",
    "Check",
    "Difference",
    "Estimate",
    "Redactor",
    "SmokeReport",
    "SmokeSettings",
    "api_key",
    "compare_shapes",
    "exchange_shape",
    "json_shape",
    "load_reference",
    "preflight",
    "print_report",
    "run_battery",
    "shape_document",
    "smoke",
    "write_report",
]
