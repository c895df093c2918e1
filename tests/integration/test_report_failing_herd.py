"""The report where it matters most: outage_recovery with exponential backoff and no jitter fails the herd gate.

Every one of the 1000 clients retries at the same instants; after the outage the whole herd lands in
one 100 ms window at the very end of the run. The arrivals chart must draw that bar inside its axes
(checked from the chart's own data, not from pixels), annotate it with its peak and time, and the page
must show it in a real browser (a headless-Chromium screenshot is saved under reports/).
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread
from matplotlib.patches import StepPatch

from harness.report import RunResult, write_report
from harness.report.charts import draw_figures
from harness.report.series import arrival_series
from harness.runner.run import run_scenario
from harness.scenario.model import parse_scenario
from tests.integration.test_report_browser import VIEWPORT, DevTools, chromium  # noqa: F401 (a fixture)

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "reports"


@pytest.fixture(scope="module")
def failing_run() -> RunResult:
    import tomllib

    text = (ROOT / "scenarios" / "outage_recovery.toml").read_text(encoding="utf-8")
    assert 'strategy = "full_jitter"' in text
    data = tomllib.loads(text.replace('strategy = "full_jitter"', 'strategy = "exponential"'))
    result = run_scenario(parse_scenario(data, name="outage_recovery"))
    assert not result.passed
    return result


def test_the_herd_bar_lies_within_the_axes_and_is_annotated(failing_run: RunResult) -> None:
    figures = {name: fig for name, _, fig, _ in draw_figures(failing_run)}
    ax = figures["arrivals"].axes[0]
    (stairs,) = [p for p in ax.patches if isinstance(p, StepPatch)]
    values, edges = (np.asarray(a) for a in stairs.get_data()[:2])
    peak = float(failing_run.metrics["herd_peak_100ms"])  # type: ignore[arg-type]
    gate = float(failing_run.metrics["herd_gate_100ms"])  # type: ignore[arg-type]
    assert peak > gate  # the run fails on the herd
    t1 = failing_run.facts.outages[0][1] - failing_run.facts.t0
    after = np.flatnonzero((edges[:-1] >= t1) & (values > gate))
    assert after.size, "no bar over the gate after the recovery"
    herd = int(after[np.argmax(values[after])])
    left, right, height = float(edges[herd]), float(edges[herd + 1]), float(values[herd])
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    assert x0 <= left < right <= x1, (left, right, ax.get_xlim())
    assert y0 <= height <= y1, (height, ax.get_ylim())
    assert height == pytest.approx(peak, rel=0.05)  # the bar is the herd the judge counted
    # the annotation names the peak and the time, and points inside the frame
    s = arrival_series(failing_run, _grid_of(edges))
    assert s.herd_peak_at is not None
    assert left <= s.herd_peak_at < right
    texts = [t for t in ax.texts if t.get_text().startswith("herd peak")]
    assert len(texts) == 1
    assert f"herd peak {peak:g} at {s.herd_peak_at:.1f} s (over the gate of {gate:g})" == texts[0].get_text()
    legend = " ".join(t.get_text() for t in ax.get_legend().get_texts())
    assert f"herd gate {gate:g}" in legend
    assert f"herd peak {peak:g}" in legend


def _grid_of(edges: np.ndarray) -> object:
    from harness.report.timeline import Grid

    return Grid(float(edges[1] - edges[0]), len(edges) - 1, float(edges[0]))


def test_the_failing_report_in_headless_chromium(
    chromium: str,  # noqa: F811 (the fixture)
    failing_run: RunResult,
    tmp_path: Path,
) -> None:
    out = tmp_path / "report"
    write_report(failing_run, out)
    url = (out / "report.html").as_uri()
    browser = DevTools(chromium, tmp_path / "profile", tmp_path / "chromium.log")
    try:
        target = browser.send("Target.createTarget", url="about:blank")["targetId"]
        session = browser.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        browser.send("Page.enable", session)
        browser.send("Runtime.enable", session)
        browser.send(
            "Emulation.setDeviceMetricsOverride", session,
            width=VIEWPORT[0], height=VIEWPORT[1], deviceScaleFactor=1, mobile=False,
        )  # fmt: skip
        browser.send("Page.navigate", session, url=url)
        browser.wait_event("Page.loadEventFired", session)
        probe = (
            "(async () => { await Promise.all([...document.images].map(i => i.decode().catch(() => null)));"
            " const v = document.querySelector('.verdict, #verdict, h1'); const a = document.querySelector("
            "'img[alt=\"Arrivals at the provider\"]'); const r = a.getBoundingClientRect();"
            " return {verdict: v ? v.innerText : null, top: r.top + window.scrollY, height: r.height,"
            " decoded: a.complete && a.naturalWidth > 0}; })()"
        )
        page = browser.send("Runtime.evaluate", session, expression=probe, awaitPromise=True, returnByValue=True)
        seen = page["result"]["value"]
        first = browser.send("Page.captureScreenshot", session, format="png")
        clip = {"x": 0, "y": max(0.0, seen["top"] - 60), "width": VIEWPORT[0], "height": seen["height"] + 120,
                "scale": 1}  # fmt: skip
        arrivals = browser.send("Page.captureScreenshot", session, format="png", clip=clip, captureBeyondViewport=True)
    finally:
        browser.close()
    assert seen["decoded"]
    assert seen["verdict"] is not None
    assert "FAILED" in seen["verdict"]
    SCREENSHOTS.mkdir(exist_ok=True)
    for name, shot in (("report-failing-herd.png", first), ("report-failing-herd-arrivals.png", arrivals)):
        png = base64.b64decode(shot["data"])
        assert imread(io.BytesIO(png), format="png").shape[1] == VIEWPORT[0]
        (SCREENSHOTS / name).write_bytes(png)
