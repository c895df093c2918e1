"""Transports of the reference client: aiohttp over sockets (default), and the fake provider in memory."""

from harness.client.transports.aiohttp import AiohttpTransport, map_aiohttp_error
from harness.client.transports.memory import MemoryTransport

__all__ = ["AiohttpTransport", "MemoryTransport", "map_aiohttp_error"]
