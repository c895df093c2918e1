"""The test suite's Redis database per pytest-xdist worker: workers never flush each other's keys."""

from __future__ import annotations

from tests.conftest import _worker_redis_url


def test_without_xdist_the_configured_database_is_used() -> None:
    assert _worker_redis_url("redis://127.0.0.1:6379/15", None) == "redis://127.0.0.1:6379/15"
    assert _worker_redis_url("redis://127.0.0.1:6379/15", "master") == "redis://127.0.0.1:6379/15"


def test_each_worker_gets_its_own_database_below_the_base() -> None:
    urls = {_worker_redis_url("redis://127.0.0.1:6379/15", f"gw{n}") for n in range(4)}
    assert urls == {f"redis://127.0.0.1:6379/{db}" for db in (15, 14, 13, 12)}


def test_database_zero_is_never_handed_out() -> None:
    assert _worker_redis_url("redis://127.0.0.1:6379/2", "gw1") == "redis://127.0.0.1:6379/1"
    assert _worker_redis_url("redis://127.0.0.1:6379/2", "gw2") is None
    assert _worker_redis_url("redis://localhost", "gw0") is None
