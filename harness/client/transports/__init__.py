"""Transports of the reference client: aiohttp over sockets.

The in-memory transport that hands requests to the fake provider's core lives with the runner
(:mod:`harness.runner.memory_transport`), so the production client never imports the fake provider.
"""

from harness.client.transports.aiohttp import AiohttpTransport, map_aiohttp_error

__all__ = ["AiohttpTransport", "map_aiohttp_error"]
