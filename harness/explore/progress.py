"""Live progress of an exploration (rich): worlds tried, failures, shrink steps, the world being run.

On a terminal the line is redrawn a few times a second; in a CI log one plain line is printed every
few seconds (and at the end), so a long exploration shows it is alive without flooding the log.
"""

from __future__ import annotations

from rich.console import Console

from harness.explore.search import ExploreProgress
from harness.runner.progress import LiveLine

__all__ = ["ExploreDisplay", "progress_line"]


def progress_line(p: ExploreProgress) -> str:
    """``worlds 12/200 | failures 1 | shrink steps 4 | 31 s of 600 s | shrinking | last: seed 0, …``."""
    parts = [
        f"worlds {p.worlds}/{p.examples}",
        f"failures {p.failures}",
        f"shrink steps {p.shrink_steps}",
        f"{p.elapsed_s:,.0f} s of {p.max_time_s:g} s",
        p.phase,
    ]
    if p.smallest is not None:
        parts.append(f"smallest failure: {p.smallest.world.fault_count} fault(s)")
    return " | ".join(parts) + (f"\n  last: {p.last}" if p.last else "")


class ExploreDisplay(LiveLine[ExploreProgress]):
    """A context manager whose :meth:`update` is the ``on_progress`` of :func:`harness.explore.explore`."""

    def __init__(self, title: str, console: Console, refresh_s: float = 0.25, plain_every_s: float = 10.0) -> None:
        super().__init__(title, console, refresh_s, plain_every_s)

    def line(self, progress: ExploreProgress) -> str:
        return progress_line(progress)
