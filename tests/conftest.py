"""Shared fixtures: Hypothesis profiles and Redis."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if IN_CI else "dev"))



def _worker_redis_url(url: str, worker: str | None) -> str | None:
    """The database this test process may flush: under pytest-xdist, worker N uses the base db minus N.

    Each process flushes its database at the start and end of its session, so two workers sharing one
    would wipe each other's keys mid-test. Database 0 (most people's default) is never used: None then.
    """
    if not worker or not worker.startswith("gw") or not worker[2:].isdigit():
        return url
    base, _, db = url.rpartition("/")
    if not db.isdigit():
        base, db = url.rstrip("/"), "0"
    index = int(db) - int(worker[2:])
    return f"{base}/{index}" if index >= 1 else None


BASE_REDIS_URL = os.environ.get("HARNESS_REDIS_URL", "redis://127.0.0.1:6379/15")
REDIS_URL = _worker_redis_url(BASE_REDIS_URL, os.environ.get("PYTEST_XDIST_WORKER"))


def _redis_available(url: str) -> str | None:
    try:
        import redis
    except ImportError as exc:  # pragma: no cover - redis is a dependency
        return f"redis package missing: {exc}"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
        client.close()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a Redis database reserved for tests (db 15; 15 - N on xdist worker N), flushed before and after.

    Skips without Redis on a developer machine; fails under CI, where a skipped guarantee is not a kept one.
    """
    if REDIS_URL is None:
        problem = f"no database left for xdist worker {os.environ.get('PYTEST_XDIST_WORKER')} below {BASE_REDIS_URL}"
    else:
        problem = _redis_available(REDIS_URL)
    if problem is not None or REDIS_URL is None:
        message = f"Redis is not reachable at {REDIS_URL or BASE_REDIS_URL} ({problem})"
        if IN_CI:
            pytest.fail(message + "; CI must run the Redis tests", pytrace=False)
        pytest.skip(message)
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()
