"""Run the fake provider in-process for a test: ``async with running() as server: server.url``.

The server listens on 127.0.0.1 with a free port, in the running event loop, and stops when the
block ends. ``server.core`` is the :class:`~fake_provider.core.ProviderCore` (its ``log`` and
``ledger`` are the two sources of truth a test checks).

Example::

    async with running(ProviderConfig(allow_fault_headers=True)) as server:
        client = openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="sk-test")
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fake_provider.app import start
from fake_provider.config import ProviderConfig
from fake_provider.core import ProviderCore

__all__ = ["RunningServer", "running"]


@dataclass(frozen=True, slots=True)
class RunningServer:
    """A fake provider listening on loopback."""

    core: ProviderCore
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"


@asynccontextmanager
async def running(config: ProviderConfig | None = None, **core_options: Any) -> AsyncIterator[RunningServer]:
    """Start a server in the running loop (``core_options`` go to :class:`ProviderCore`)."""
    core = ProviderCore(config or ProviderConfig(), **core_options)
    runner, port = await start(core, "127.0.0.1", 0)
    try:
        yield RunningServer(core, port)
    finally:
        await runner.cleanup()
