"""Fixtures of the integration tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.integration.redis_server import PrivateRedis


@pytest.fixture
def private_redis(redis_url: str) -> Iterator[PrivateRedis]:
    """A fresh private redis-server (``redis_url`` first: skip without Redis, fail in CI)."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()
