"""One smoke run: the battery against the provider and/or the fake provider, and their comparison.

Three ways to run it (``harness smoke``, ``docs/smoke.md``):

* against the provider (its public API, or ``--base-url``): the battery, its checks and shapes;
* the same, and ``--compare-fake``: the battery again against the fake provider, and every shape
  difference between the two (the provider's shapes are the reference);
* ``--compare-fake --reference [FILE]``: no provider at all (no key needed): the fake provider's
  shapes against a reference file — the one shipped for the provider, or a ``shapes.json`` written
  by an earlier run against the real API.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.client.config import DEFAULT_BASE_URLS
from harness.errors import ConfigError
from harness.smoke.battery import BatteryResult, run_battery
from harness.smoke.compare import compare_shapes
from harness.smoke.fake import FAKE_API_KEY, running_fake
from harness.smoke.plan import SmokeSettings, preflight
from harness.smoke.report import SmokeReport

__all__ = ["SHAPES_FORMAT", "load_reference", "shape_document", "smoke", "target_of"]

SHAPES_FORMAT = 1


def target_of(base_url: str | None, provider: str) -> str:
    """Where a run went, for reports: scheme and host only (a URL may carry credentials or a key)."""
    if base_url is None:
        return DEFAULT_BASE_URLS[provider]
    parts = urlsplit(base_url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def shape_document(settings: SmokeSettings, result: BatteryResult, target: str) -> dict[str, Any]:
    """``shapes.json``: the shapes of one battery's answers, and where and when they were recorded."""
    now = datetime.now(UTC).strftime("%Y-%m-%d")
    return {
        "format": SHAPES_FORMAT,
        "provider": settings.provider,
        "model": settings.model,
        "source": f"recorded by harness smoke against {target} on {now}",
        "exchanges": result.shapes(),
    }


def load_reference(provider: str, path: str | None) -> tuple[dict[str, Any], str]:
    """A reference shape file (``None``: the one shipped for ``provider``) and a name for reports."""
    if path is None:
        ref = resources.files("harness.smoke") / "reference" / f"{provider}.json"
        text, name = ref.read_text(encoding="utf-8"), f"the shipped {provider} reference"
    else:
        try:
            text, name = Path(path).read_text(encoding="utf-8"), path
        except OSError as exc:
            raise ConfigError("--reference", f"cannot read {path!r}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError("--reference", f"{name} is not JSON: {exc}") from None
    if not isinstance(data, Mapping) or not isinstance(data.get("exchanges"), Mapping):
        raise ConfigError("--reference", f'{name} is not a shape file (no "exchanges" object)')
    if data.get("provider") != provider:
        raise ConfigError("--reference", f"{name} holds {data.get('provider')!r} shapes, not {provider!r}")
    return dict(data), name


async def smoke(
    settings: SmokeSettings,
    *,
    key: str | None,
    compare_fake: bool = False,
    fake_url: str | None = None,
    reference: tuple[dict[str, Any], str] | None = None,
    on_check: Callable[[str], None] | None = None,
) -> SmokeReport:
    """Run what the arguments ask for (see the module docstring); ``key`` is None only with a reference."""
    target = target_of(settings.base_url, settings.provider)
    report = SmokeReport(
        settings.provider, settings.model, target, settings.max_cost_usd, preflight(settings).total_usd
    )
    tell = on_check or (lambda name: None)
    if reference is None:
        assert key is not None
        report.live = await run_battery(settings, key, on_check=lambda n: tell(f"provider: {n}"))
        report.shapes = shape_document(settings, report.live, target)
    if not compare_fake:
        return report

    async def fake_battery(url: str) -> BatteryResult:
        fake_settings = replace(settings, base_url=url)
        return await run_battery(fake_settings, FAKE_API_KEY, on_check=lambda n: tell(f"fake: {n}"))

    if fake_url is not None:
        report.fake = await fake_battery(fake_url)
        fake_target = target_of(fake_url, settings.provider)
    else:
        async with running_fake(settings.provider) as url:
            report.fake = await fake_battery(url)
        fake_target = "the in-process fake provider"
    report.fake_shapes = shape_document(settings, report.fake, fake_target)
    if reference is None:
        assert report.shapes is not None
        ref_shapes, report.reference = report.shapes, f"the answers of {target}"
    else:
        ref_shapes, report.reference = reference
        report.target = f"the fake provider against {report.reference}"
    report.differences, report.stale_accepted = compare_shapes(ref_shapes, report.fake_shapes)
    compared = ref_shapes.get("exchanges", {})
    report.not_compared = sorted(k for k in report.fake_shapes["exchanges"] if k not in compared)
    return report
