"""``harness load --web``: Locust's web UI, on 127.0.0.1 only, shows the LLM requests live in a real browser.

Headless Chromium (Debian's package, driven over the DevTools pipe like the report's browser test)
opens the UI while the run goes on, waits for the model's row in the statistics table, and saves a
screenshot under reports/. The run then ends by itself and is judged as usual.
"""

from __future__ import annotations

import base64
import io
import json
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
from matplotlib.image import imread

from tests.integration.locust.conftest import REPO, harness_command
from tests.integration.test_report_browser import VIEWPORT, DevTools, chromium  # noqa: F401 - the fixture

SCREENSHOT = REPO / "reports" / "locust-web-ui.png"

# runs in the page: wait (up to 30 s) until the statistics table shows the model's row, then report it
_WAIT_FOR_STATS = """
(async () => {
  for (let i = 0; i < 300; i++) {
    if (document.body && document.body.innerText.includes('gpt-4o-mini')) break;
    await new Promise(r => setTimeout(r, 100));
  }
  const text = document.body ? document.body.innerText : '';
  return {title: document.title, hasModel: text.includes('gpt-4o-mini'), hasTTFT: text.includes('TTFT'),
          rows: [...document.querySelectorAll('tr')].map(tr => tr.innerText.replace(/\\s+/g, ' ').trim())};
})()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_web_ui_shows_the_run_in_headless_chromium(chromium: str, tmp_path: Path) -> None:  # noqa: F811
    port = _free_port()
    out = tmp_path / "web"
    proc = subprocess.Popen(
        harness_command("load", "scenarios/smoke.toml", "--web", "--web-port", str(port), "--run-time", "15",
                        "--web-linger", "2", "--out", str(out)),
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    browser = None
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert proc.poll() is None, "harness load exited before its web UI came up"
                assert time.monotonic() < deadline, "the web UI did not come up"
                time.sleep(0.3)
        listening = [
            c.laddr for c in psutil.net_connections(kind="inet") if c.status == "LISTEN" and c.laddr.port == port
        ]
        assert listening
        assert {addr.ip for addr in listening} == {"127.0.0.1"}  # loopback only
        with urllib.request.urlopen(f"{url}stats/requests", timeout=5) as response:
            assert "stats" in json.loads(response.read())

        browser = DevTools(chromium, tmp_path / "profile", tmp_path / "chromium.log")
        target = browser.send("Target.createTarget", url="about:blank")["targetId"]
        session = browser.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime"):
            browser.send(f"{domain}.enable", session)
        browser.send(
            "Emulation.setDeviceMetricsOverride", session,
            width=VIEWPORT[0], height=VIEWPORT[1], deviceScaleFactor=1, mobile=False,
        )  # fmt: skip
        browser.send("Page.navigate", session, url=url)
        browser.wait_event("Page.loadEventFired", session)
        page = browser.send(
            "Runtime.evaluate", session, expression=_WAIT_FOR_STATS, awaitPromise=True, returnByValue=True
        )
        assert "exceptionDetails" not in page, page
        seen = page["result"]["value"]
        shot = browser.send("Page.captureScreenshot", session, format="png")
    finally:
        if browser is not None:
            browser.close()
    try:
        output, _ = proc.communicate(timeout=200)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Locust" in seen["title"]
    assert seen["hasModel"], seen["rows"]
    png = base64.b64decode(shot["data"])
    assert imread(io.BytesIO(png), format="png").shape[:2] == (VIEWPORT[1], VIEWPORT[0])
    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.write_bytes(png)
    # and the run was judged like any other
    assert proc.returncode == 0, output[-3000:]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["passed"] is True
    assert summary["metrics"]["requests_logical"] > 0
    assert (out / "locust_report.html").is_file()
