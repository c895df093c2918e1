"""report.html in a real browser: headless Chromium (Debian's package) opens the file, every chart decodes,
the verdict and gate table are on the first screen, nothing is fetched, and a screenshot is saved.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: JSON messages
ending in NUL on file descriptors 3 and 4), so no Python browser-automation package and no network
port are needed. The test skips where Chromium is missing on a developer machine and fails under CI.
"""

from __future__ import annotations

import base64
import fcntl
import io
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from matplotlib.image import imread

from harness.report import write_report
from harness.report import writer as writer_module
from harness.report.charts import CHARTS
from harness.report.html import html_writer
from tests.conftest import IN_CI
from tests.unit.report.synthetic import outage_run

SCREENSHOT = Path(__file__).resolve().parents[2] / "reports" / "report-screenshot.png"
VIEWPORT = (1280, 900)
TIMEOUT_S = 30.0  # per protocol step; the whole test normally takes a few seconds

_FLAGS = (
    "--headless",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
    "--hide-scrollbars",
    f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}",
    "--remote-debugging-pipe",
)

# runs in the page: wait until every image has decoded (or failed to), then report what the page shows
_CHECK_PAGE = """
(async () => {
  const images = [...document.images];
  const decoded = await Promise.all(images.map(i => i.decode().then(() => true, () => false)));
  const gates = document.querySelector('#gates');
  const verdict = document.querySelector('#verdict');
  return {
    images: images.map((i, n) => ({alt: i.alt, decoded: decoded[n], complete: i.complete,
                                   width: i.naturalWidth, height: i.naturalHeight})),
    gateHeader: gates ? [...gates.querySelectorAll('thead th')].map(th => th.textContent.trim()) : null,
    gateRows: gates ? [...gates.querySelectorAll('tbody tr')].map(
      tr => [...tr.querySelectorAll('td')].map(td => td.textContent.trim())) : null,
    verdict: verdict ? verdict.textContent : null,
    gatesTop: gates ? gates.getBoundingClientRect().top : null,
    verdictBottom: verdict ? verdict.getBoundingClientRect().bottom : null,
    viewport: [innerWidth, innerHeight],
    scripts: document.scripts.length,
  };
})()
"""


def chromium_binary() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _above_9(fd: int) -> int:
    """The same pipe end on a descriptor number of 10 or more (the original is closed)."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


class DevTools:
    """A minimal DevTools-protocol client over Chromium's debugging pipe (fd 3: commands in, fd 4: replies out)."""

    def __init__(self, binary: str, profile: Path, log: Path) -> None:
        cmd_read, self._cmd_write = os.pipe()
        self._reply_read, reply_write = os.pipe()
        cmd_read, reply_write = _above_9(cmd_read), _above_9(reply_write)  # so "3<&N" can never clobber one
        # hand our pipe ends over as fds 3 and 4 (bash: dash cannot redirect from descriptors above 9)
        script = f'exec "$0" "$@" 3<&{cmd_read} 4>&{reply_write} {cmd_read}<&- {reply_write}>&-'
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [shutil.which("bash") or "/bin/bash", "-c", script, binary, *_FLAGS, f"--user-data-dir={profile}"],
            pass_fds=(cmd_read, reply_write),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        os.close(cmd_read)
        os.close(reply_write)
        self._next_id = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self._inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buffer = b""
        with os.fdopen(self._reply_read, "rb", buffering=0) as pipe:
            while chunk := pipe.read(1 << 16):
                buffer += chunk
                *messages, buffer = buffer.split(b"\0")
                for message in messages:
                    self._inbox.put(json.loads(message))
        self._inbox.put(None)  # the browser closed its end

    def _pump(self, deadline: float) -> None:
        message = self._inbox.get(timeout=max(0.01, deadline - time.monotonic()))
        if message is None:
            raise AssertionError(f"Chromium exited early (code {self.proc.poll()}); see {self._log.name}")
        if "id" in message:
            self._replies[message["id"]] = message
        else:
            self.events.append(message)

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        ident = self._next_id
        message: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self._cmd_write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT_S
        while ident not in self._replies:
            self._pump(deadline)
        reply = self._replies.pop(ident)
        assert "error" not in reply, f"{method}: {reply['error']}"
        return reply.get("result", {})  # type: ignore[no-any-return]

    def wait_event(self, method: str, session: str) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT_S
        seen = 0
        while True:
            for event in self.events[seen:]:
                if event.get("method") == method and event.get("sessionId") == session:
                    return event
            seen = len(self.events)
            self._pump(deadline)

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.send("Browser.close")
                self.proc.wait(timeout=10)
        except (AssertionError, OSError, queue.Empty, subprocess.TimeoutExpired):
            pass
        finally:
            if self.proc.poll() is None:
                self.proc.kill()  # only the browser this test started
                self.proc.wait(timeout=10)
            os.close(self._cmd_write)
            self._log.close()


@pytest.fixture
def chromium() -> str:
    binary = chromium_binary()
    if binary is None:
        message = "Chromium is not installed (apt-get install -y chromium)"
        if IN_CI:
            pytest.fail(message + "; CI must run the browser test", pytrace=False)
        pytest.skip(message)
    return binary


def test_report_opens_in_headless_chromium(chromium: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = outage_run()
    monkeypatch.setattr(writer_module, "_extra_writers", [])
    writer_module.register_writer(html_writer)
    out = tmp_path / "report"
    write_report(result, out)
    url = (out / "report.html").as_uri()

    browser = DevTools(chromium, tmp_path / "profile", tmp_path / "chromium.log")
    try:
        target = browser.send("Target.createTarget", url="about:blank")["targetId"]
        session = browser.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            browser.send(f"{domain}.enable", session)
        browser.send(
            "Emulation.setDeviceMetricsOverride", session,
            width=VIEWPORT[0], height=VIEWPORT[1], deviceScaleFactor=1, mobile=False,
        )  # fmt: skip
        browser.send("Page.navigate", session, url=url)
        browser.wait_event("Page.loadEventFired", session)
        page = browser.send("Runtime.evaluate", session, expression=_CHECK_PAGE, awaitPromise=True, returnByValue=True)
        assert "exceptionDetails" not in page, page
        seen = page["result"]["value"]
        shot = browser.send("Page.captureScreenshot", session, format="png")
    finally:
        browser.close()

    # every chart decoded, at the size the page declares
    assert len(seen["images"]) == len(CHARTS)
    for image, (_, title, _) in zip(seen["images"], CHARTS, strict=True):
        assert image["alt"] == title
        assert image["decoded"]
        assert image["complete"]
        assert image["width"] > 0
        assert image["height"] > 0
    # the verdict and the gate table are on the first screen
    assert seen["viewport"] == list(VIEWPORT)
    assert seen["verdict"] is not None
    assert "FAILED" in seen["verdict"]
    assert seen["verdictBottom"] <= seen["gatesTop"] < VIEWPORT[1]
    assert seen["gateHeader"] == ["result", "gate", "value", "threshold", "note"]
    assert [row[:2] for row in seen["gateRows"]] == [["PASS" if g.passed else "FAIL", g.name] for g in result.gates]
    assert seen["scripts"] == 0
    # nothing was fetched but the file itself and its data: URIs; no CSP violation or load error was logged
    urls = [e["params"]["request"]["url"] for e in browser.events if e.get("method") == "Network.requestWillBeSent"]
    assert urls
    assert all(u == url or u.startswith("data:") for u in urls), urls
    errors = [e["params"]["entry"] for e in browser.events if e.get("method") == "Log.entryAdded"]
    assert [e for e in errors if e.get("level") == "error"] == []

    png = base64.b64decode(shot["data"])
    assert imread(io.BytesIO(png), format="png").shape[:2] == (VIEWPORT[1], VIEWPORT[0])
    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.write_bytes(png)
