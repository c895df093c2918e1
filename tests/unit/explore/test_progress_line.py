"""The exploration's live line: the shared display, rate-limited off a terminal, final state at the end."""

from __future__ import annotations

import io

from rich.console import Console

from harness.explore.progress import ExploreDisplay
from harness.explore.search import ExploreProgress


def test_plain_output_is_rate_limited_and_ends_with_the_final_counts() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)
    progress = ExploreProgress(examples=50, max_time_s=60)
    with ExploreDisplay("exploring demo", console, plain_every_s=3600) as display:
        for i in range(1, 41):
            progress.worlds = i
            display.update(progress)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2  # the first update, then the final state on exit
    assert lines[0].startswith("exploring demo: worlds 1/50 | failures 0")
    assert lines[1].startswith("exploring demo: worlds 40/50 | failures 0")
