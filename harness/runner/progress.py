"""Live progress for a run (rich): simulated time, requests, errors, the client's state.

The driver calls :meth:`LiveProgress.update` once per simulated second; under virtual time that can be
thousands of times per real second, so the display refreshes on the wall clock (a few times a
second), not on every update. When stderr is not a terminal (CI logs) it prints one plain line every
few wall seconds instead of redrawing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Generic, Self, TypeVar

from rich.console import Console
from rich.live import Live
from rich.text import Text

from harness.runner.driver import Progress

__all__ = ["LiveLine", "LiveProgress", "render_line"]

P = TypeVar("P")


def render_line(p: Progress, duration_s: float, state: str, mode: str) -> str:
    """One status line: ``t=12.0/60s virtual | issued 1200 | done 1100 | ok 97.3% | …``.

    After ``duration_s`` the load has stopped and the run drains: ``draining t=63.5s (load ended at 60s)``.
    """
    ok_share = f"{100.0 * p.ok / p.completed:.1f}%" if p.completed else "n/a"
    errors = p.completed - p.ok
    if p.t_s <= duration_s:
        clock = f"t={p.t_s:,.1f}/{duration_s:g}s {mode}"
    else:  # the load has stopped; the run waits for the requests still in flight
        clock = f"draining t={p.t_s:,.1f}s (load ended at {duration_s:g}s) {mode}"
    parts = [
        clock,
        f"issued {p.issued:,}",
        f"done {p.completed:,}",
        f"ok {ok_share}",
        f"errors {errors:,}",
        f"in flight {p.in_flight:,}",
        f"client {state}",
    ]
    if p.crashed:
        parts.append(f"CRASHED {p.crashed}")
    return " | ".join(parts)


class LiveLine(Generic[P]):
    """One progress line kept live on a terminal (redrawn at most every ``refresh_s``), or printed as a
    plain line every ``plain_every_s`` wall seconds elsewhere, and once more at the end.

    A context manager whose :meth:`update` is the ``on_progress`` callback; subclasses say what the
    line reads (:meth:`line`).
    """

    def __init__(self, title: str, console: Console, refresh_s: float, plain_every_s: float) -> None:
        self.console = console
        self.title = title
        self.refresh_s = refresh_s
        self.plain_every_s = plain_every_s if not console.is_terminal else refresh_s
        self._live: Live | None = None
        self._last_draw = float("-inf")
        self._last: P | None = None

    def line(self, progress: P) -> str:
        raise NotImplementedError

    def __enter__(self) -> Self:
        if self.console.is_terminal:
            self._live = Live(Text(f"{self.title}: starting"), console=self.console, transient=False)
            self._live.__enter__()
        return self

    def update(self, progress: P) -> None:
        self._last = progress
        now = time.monotonic()
        if now - self._last_draw < self.plain_every_s:
            return
        self._last_draw = now
        self._draw(progress)

    def _draw(self, progress: P) -> None:
        line = f"{self.title}: {self.line(progress)}"
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


class LiveProgress(LiveLine[Progress]):
    """A run's live line; :meth:`update` can be passed to the driver as ``on_progress``."""

    def __init__(
        self,
        title: str,
        duration_s: float,
        mode: str,
        state: Callable[[], str],
        console: Console | None = None,
        refresh_s: float = 0.25,
        plain_every_s: float = 5.0,
    ) -> None:
        super().__init__(title, console or Console(stderr=True), refresh_s, plain_every_s)  # title: the scenario
        self.duration_s = duration_s
        self.mode = mode  # "virtual" or "real-time"
        self.state = state  # the client's live state (breaker …)

    def line(self, progress: Progress) -> str:
        return render_line(progress, self.duration_s, self.state(), self.mode)
