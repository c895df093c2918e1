"""report.html: verdict and gate table first, escaped text, embedded charts equal to the PNG files, no network."""

from __future__ import annotations

import base64
import io
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from matplotlib.image import imread

from harness.judge.gates import GateResult
from harness.records import OutcomeRecord
from harness.report import write_report
from harness.report import writer as writer_module
from harness.report.charts import CHARTS, Chart
from harness.report.html import RAW_FILES, html_writer, render_html
from harness.report.markdown import KEY_METRICS
from tests.unit.report.synthetic import outage_run


class Page(HTMLParser):
    """Every start tag with its attributes, the text inside each element id, and the table rows."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.rows: list[list[str]] = []  # rows of table#gates
        self._in_gates = False
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a))
        if tag == "table" and a.get("id") == "gates":
            self._in_gates = True
        elif self._in_gates and tag == "tr":
            self.rows.append([])
        elif self._in_gates and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_gates = False
        elif tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def all(self, tag: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag]

    @property
    def plain(self) -> str:
        return " ".join(" ".join(self.text).split())


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A full report folder, written the way `harness run` will once the lead registers the writer."""
    out = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(writer_module, "_extra_writers", [])  # keep the registration local to this module
        writer_module.register_writer(html_writer)
        files = write_report(outage_run(), out)
    assert files["report (HTML)"] == out / "report.html"
    return out


@pytest.fixture(scope="module")
def page(folder: Path) -> Page:
    return Page((folder / "report.html").read_text(encoding="utf-8"))


def test_gate_table_comes_first_with_value_threshold_and_verdict(page: Page) -> None:
    result = outage_run()
    header, *rows = page.rows
    assert header == ["result", "gate", "value", "threshold", "note"]
    assert len(rows) == len(result.gates)
    by_name = {row[1]: row for row in rows}
    assert by_name["herd_peak_100ms"][:4] == [
        "FAIL", "herd_peak_100ms", str(result.metrics["herd_peak_100ms"]), f"<= {result.metrics['herd_gate_100ms']}"
    ]  # fmt: skip
    assert by_name["lost_requests"][:4] == ["PASS", "lost_requests", "0", "== 0"]
    assert by_name["cost_abs_error_usd"][2:4] == ["$0", "<= $0"]  # Decimal "0E-8" reads as money
    ids = [a.get("id") for _, a in page.tags if a.get("id")]
    assert ids.index("verdict") < ids.index("gates") < ids.index("about-title") < ids.index("metrics-title")
    assert ids.index("metrics-title") < ids.index("charts-title") < ids.index("files-title")
    assert page.all("header")[0]["class"] == "verdict fail"
    assert "1 of 7 gates failed: herd_peak_100ms · client reference · virtual · seed 7" in page.plain


def test_scenario_facts_and_key_metrics_are_shown(page: Page) -> None:
    result = outage_run()
    text = page.plain
    assert result.description in text
    for label, value in (("client", "reference"), ("mode", "virtual"), ("seed", "7")):
        assert f"{label} {value}" in text
    for key, label in KEY_METRICS:
        if key in result.metrics:
            assert label in text
    assert f"cost, provider ledger (USD) ${result.metrics['cost_provider_usd']}" in text
    assert "provider statuses 200: 2721 · 429: 75 · 503: 263" in text
    assert f"All {len(result.metrics)} metrics" in text


def test_every_chart_is_embedded_and_equals_its_png_file(page: Page, folder: Path) -> None:
    images = page.all("img")
    assert len(images) == len(CHARTS)
    for (name, title, _), img in zip(CHARTS, images, strict=True):
        assert img["src"].startswith("data:image/png;base64,")
        png = base64.b64decode(img["src"].split(",", 1)[1], validate=True)
        assert png == (folder / f"chart-{name}.png").read_bytes()
        assert imread(io.BytesIO(png), format="png").shape[:2] == (int(img["height"]), int(img["width"]))
        assert img["alt"] == title
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", (folder / "report.html").read_text())
    assert len(captions) == len(CHARTS)
    sentences = [c.split(" <a ")[0] for c in captions]  # the caption, then its PNG link
    assert all(s.endswith(".") and s.count(". ") <= 1 for s in sentences)  # one sentence each (an "e.g." aside)


def test_the_page_loads_nothing_from_anywhere(page: Page, folder: Path) -> None:
    text = (folder / "report.html").read_text()
    csp = [a for a in page.all("meta") if a.get("http-equiv") == "Content-Security-Policy"]
    assert csp
    assert csp[0]["content"].startswith("default-src 'none'; img-src data:")
    assert not page.all("script")
    assert not page.all("link")
    assert not page.all("iframe")
    for attrs in (a for _, a in page.tags):
        for key in ("src", "href"):
            value = attrs.get(key)
            if value is not None:
                assert value.startswith("data:image/png;base64,") or re.fullmatch(r"[\w.-]+", value), value
    assert "url(" not in text
    assert "@import" not in text
    assert "http://" not in text
    assert "https://" not in text


def test_links_point_at_files_that_exist(page: Page, folder: Path) -> None:
    hrefs = [a["href"] for a in page.all("a")]
    for label, name in RAW_FILES:
        assert name in hrefs, label
    for name, _, _ in CHARTS:
        assert f"chart-{name}.png" in hrefs
    for href in hrefs:
        assert (folder / href).is_file(), href
    assert "[report (HTML)](report.html)" in (folder / "summary.md").read_text()


def test_html_writer_returns_its_files(tmp_path: Path) -> None:
    files = html_writer(outage_run(clients=5, duration_s=5.0, outage=(1.0, 2.0)), tmp_path / "new")
    assert files["report (HTML)"] == "report.html"
    charts = sorted(v for k, v in files.items() if k.startswith("chart: "))
    assert charts == sorted(f"chart-{n}.png" for n, _, _ in CHARTS)
    for path in files.values():
        assert (tmp_path / "new" / path).stat().st_size > 0


def fake_chart() -> Chart:
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )  # a 1x1 PNG: render_html only embeds what it is given
    return Chart("x", 'a "title" <b>', 'caption with <i>markup</i> & "quotes".', png, 1, 1)


def test_every_string_from_a_run_is_escaped() -> None:
    evil = '<script>alert("x")</script>'
    base = outage_run(clients=5, duration_s=5.0, outage=(1.0, 2.0))
    result = replace(
        base,
        facts=replace(base.facts, scenario=f"scen{evil}"),
        description=f"line one {evil}\n\nsecond <b>paragraph</b> & more",
        client=f"client{evil}",
        gates=[GateResult(f"gate{evil}", "<=", f"v{evil}", f"t{evil}", False, note=f"note{evil}")],
        metrics={**base.metrics, f"metric{evil}": f"value{evil}"},
    )
    html = render_html(result, [fake_chart()])
    assert "<script" not in html
    assert "<b>" not in html
    assert "<i>" not in html
    assert html.count("&lt;script&gt;") >= 7  # title, banner, description, client, gate name/value/threshold/note …
    p = Page(html)
    assert not p.all("script")
    assert "second <b>paragraph</b> & more" in p.plain  # shown as text, not markup
    assert p.all("img")[0]["alt"] == 'a "title" <b>'


def test_no_gates_and_an_empty_run_still_make_a_page() -> None:
    base = outage_run(clients=3, duration_s=3.0, outage=(1.0, 2.0))
    empty = replace(base, gates=[], provider_records=[], outcomes=[], events=[], metrics={}, description="")
    html = render_html(empty, [])
    p = Page(html)
    assert p.all("header")[0]["class"] == "verdict pass"
    assert "no gates were declared" in p.plain
    assert "declares no gates" in p.plain
    assert not p.rows


def test_secrets_in_records_never_reach_the_page(tmp_path: Path) -> None:
    """The page shows no record fields, headers or error messages: only aggregates and the judge's verdict."""
    base = outage_run(clients=5, duration_s=5.0, outage=(1.0, 2.0))
    secret = "sk-live-DO-NOT-LEAK-1234"
    outcomes = [replace(o, error=f"401 for key {secret}") for o in base.outcomes]
    outcomes.append(OutcomeRecord("leak", False, "AuthError", 1000.0, 1001.0, "m", user=secret, error=secret))
    records = [replace(r, client=secret, request_id=secret) for r in base.provider_records]
    html_writer(replace(base, outcomes=outcomes, provider_records=records), tmp_path)
    assert secret not in (tmp_path / "report.html").read_text()


def test_money_values_read_as_dollars() -> None:
    base = outage_run(clients=3, duration_s=3.0, outage=(1.0, 2.0))
    metrics = {**base.metrics, "cost_client_usd": "0.12500000", "overspend_usd": "1E+2", "cost_provider_usd": "lots"}
    text = Page(render_html(replace(base, metrics=metrics), [])).plain
    assert "cost, client ledger (USD) $0.125" in text
    assert "overspend beyond hard budgets (USD) $100" in text
    assert "cost, provider ledger (USD) lots" in text  # unreadable: shown as it came, escaped
