"""How late the event loop runs its timers during a real-time run: the loop's lag.

Over real sockets everything of a run shares one event loop in one process (the client's instances,
and the fake provider unless ``--provider-url`` points elsewhere), and the process shares the machine.
A timer due at ``t`` runs at ``t + lag``, where the lag is the other callbacks that ran first, a
garbage collection, or the time the operating system gave the CPU to another process. A pause the
client did not choose (between a failed attempt and the fallback, say) can be that long whatever the
client does, so the judge allows it on the gates that time such pauses (``docs/scenarios.md``).

The probe sleeps ``interval_s`` over and over and keeps the worst overshoot. A stretch of ``D`` seconds
in which the loop ran nothing delays a probe timer due in it by at least ``D - interval_s``.
In virtual time timers run exactly on time, so no probe is run there.
"""

from __future__ import annotations

import asyncio

from harness.clock import Clock, Sleep

__all__ = ["LAG_PROBE_S", "LoopLagProbe"]

#: how often the probe samples the loop (100 timers a second: nothing next to a run's own work)
LAG_PROBE_S = 0.01


class LoopLagProbe:
    """``await probe.run()`` in a task for the length of a run, cancel it, then read :attr:`max_s`."""

    def __init__(self, clock: Clock, sleep: Sleep, interval_s: float = LAG_PROBE_S) -> None:
        self._clock = clock
        self._sleep = sleep
        self.interval_s = interval_s
        self.max_s = 0.0  # the worst lag seen so far, in seconds

    async def run(self) -> None:
        clock, sleep, interval = self._clock, self._sleep, self.interval_s
        while True:
            due = clock() + interval
            await sleep(interval)
            self.max_s = max(self.max_s, clock() - due)

    def start(self) -> asyncio.Task[None]:
        """The probe as a task of the running loop."""
        return asyncio.get_running_loop().create_task(self.run())
