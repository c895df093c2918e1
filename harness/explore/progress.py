"""Live progress of an exploration (rich): worlds tried, failures, shrink steps, the world being run.

On a terminal the line is redrawn a few times a second; in a CI log one plain line is printed every
few seconds (and at the end), so a long exploration shows it is alive without flooding the log.
"""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.text import Text

from harness.explore.search import ExploreProgress

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


class ExploreDisplay:
    """A context manager whose :meth:`update` is the ``on_progress`` of :func:`harness.explore.explore`."""

    def __init__(self, title: str, console: Console, refresh_s: float = 0.25, plain_every_s: float = 10.0) -> None:
        self.console = console
        self.title = title
        self.every_s = refresh_s if console.is_terminal else plain_every_s
        self._live: Live | None = None
        self._last: ExploreProgress | None = None
        self._drawn = float("-inf")

    def __enter__(self) -> ExploreDisplay:
        if self.console.is_terminal:
            self._live = Live(Text(f"{self.title}: starting"), console=self.console, transient=False)
            self._live.__enter__()
        return self

    def update(self, progress: ExploreProgress) -> None:
        self._last = progress
        now = time.monotonic()
        if now - self._drawn >= self.every_s:
            self._drawn = now
            self._draw(progress)

    def _draw(self, progress: ExploreProgress) -> None:
        line = f"{self.title}: {progress_line(progress)}"
        if self._live is not None:
            self._live.update(Text(line))
        else:
            self.console.print(line, highlight=False, soft_wrap=True)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._last is not None:
            self._draw(self._last)
        if self._live is not None:
            self._live.__exit__(exc_type, exc, tb)
