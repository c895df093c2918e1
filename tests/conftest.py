"""Shared fixtures: Hypothesis profiles and Redis."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from xdist.scheduler import LoadScopeScheduling

from tests.machine_lock import LOCK_DIR_ENV, MachineLock

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if IN_CI else "dev"))

#: the slow stage's scope of every test without a worker of its own: one worker runs them one at a time
SLOW_GROUP = "slow"
#: test files that have an xdist worker of their own in the slow stage (``--dist loadgroup``)
OWN_WORKER = {"tests/integration/test_real_time_catalogue.py": "real_time_catalogue"}


def slow_stage_scope(nodeid: str) -> str:
    """The unit of work a test belongs to under ``--dist loadgroup``: tests of one scope run on one worker.

    An ``@group`` suffix (pytest-xdist's own ``xdist_group`` marker) names its group. pytest-xdist 3.8
    adds that suffix by assigning ``item._nodeid``, which pytest 9 no longer reads, so the marker
    groups nothing here; hence this scope by file: the real-time catalogue (its runs mostly wait on
    their scenarios' clocks; the one that needs the machine takes it alone, tests/machine_lock.py)
    has a worker, and every other test runs one at a time on the other.
    """
    if "@" in nodeid:
        return nodeid.rsplit("@", 1)[1]
    return OWN_WORKER.get(nodeid.split("::", 1)[0], SLOW_GROUP)


class SlowStageScheduling(LoadScopeScheduling):
    """pytest-xdist's loadgroup scheduling (scopes run whole on one worker, largest first), scoped by file."""

    def _split_scope(self, nodeid: str) -> str:
        return slow_stage_scope(nodeid)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadScopeScheduling | None:
    """``--dist loadgroup`` (CI's slow stage) schedules by ``slow_stage_scope``; any other mode as usual."""
    if config.getvalue("dist") != "loadgroup":
        return None
    return SlowStageScheduling(config, log)


def pytest_configure(config: pytest.Config) -> None:
    """The session's process (not an xdist worker, which inherits it) makes the machine lock's directory."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        directory = tempfile.mkdtemp(prefix="harness-tests-machine-")
        os.environ[LOCK_DIR_ENV] = config.stash.setdefault(_LOCK_DIR, directory)


def pytest_unconfigure(config: pytest.Config) -> None:
    directory = config.stash.get(_LOCK_DIR, None)
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)
        if os.environ.get(LOCK_DIR_ENV) == directory:
            del os.environ[LOCK_DIR_ENV]


_LOCK_DIR = pytest.StashKey[str]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    """A slow test holds the machine shared from setup to teardown (tests/machine_lock.py).

    Outside pytest-timeout's wrapper: a test waiting for another worker's ``alone`` part has not
    started, so its time limit does not run.
    """
    lock = MachineLock.for_session() if item.get_closest_marker("slow") else None
    if lock is None:
        return (yield)
    with lock.shared():
        return (yield)


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
