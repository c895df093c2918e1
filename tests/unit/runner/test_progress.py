"""Progress lines: readable, and rate-limited when not on a terminal."""

from __future__ import annotations

import io

from rich.console import Console

from harness.runner.driver import Progress
from harness.runner.progress import LiveProgress, render_line


def test_render_line_shows_time_counts_and_state() -> None:
    line = render_line(Progress(t_s=12.0, issued=1200, completed=1000, ok=973, in_flight=200), 60, "open", "virtual")
    assert line == (
        "t=12.0/60s virtual | issued 1,200 | done 1,000 | ok 97.3% | errors 27 | in flight 200 | client open"
    )
    assert "CRASHED 2" in render_line(Progress(crashed=2), 10, "closed", "real-time")


def test_plain_output_is_rate_limited_and_ends_with_the_final_state() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)
    with LiveProgress("demo", 10.0, "virtual", lambda: "closed", console=console, plain_every_s=3600) as live:
        for i in range(1000):
            live.update(Progress(t_s=i / 100, issued=i, completed=i, ok=i))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2  # the first update, then the final state on exit
    assert lines[-1].startswith("demo: t=10.0/10s virtual | issued 999")
