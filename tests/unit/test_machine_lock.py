"""The lock that lets one slow test have the machine alone while the other xdist worker waits (tests/machine_lock.py).

``flock`` locks belong to an open file, so two ``MachineLock`` instances in one process contend as two
worker processes would.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

import pytest

from tests.machine_lock import LOCK_DIR_ENV, MachineLock


def _gate_open(directory: Path) -> bool:
    fd = os.open(directory / "gate", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def test_alone_waits_for_a_running_test_and_closes_the_gate_meanwhile(tmp_path: Path) -> None:
    catalogue, other_worker = MachineLock(tmp_path), MachineLock(tmp_path)
    with catalogue.shared(), other_worker.shared():
        assert not catalogue.try_alone()  # the other worker's test still runs
        assert not _gate_open(tmp_path)  # but no further test starts there
        assert not catalogue.try_alone()
    with catalogue.shared():
        assert catalogue.try_alone()  # the other test ended
        catalogue.release_alone()
        assert _gate_open(tmp_path)
        with other_worker.shared():  # both run side by side again
            pass


def test_the_next_test_elsewhere_waits_until_the_machine_is_given_back(tmp_path: Path) -> None:
    catalogue, other_worker = MachineLock(tmp_path), MachineLock(tmp_path)
    started = threading.Event()

    def next_test() -> None:
        with other_worker.shared():
            started.set()

    with catalogue.shared():
        with other_worker.shared():
            assert not catalogue.try_alone()
        waiting = threading.Thread(target=next_test)  # the next test there, before the catalogue's next try
        waiting.start()
        assert not started.wait(0.3)  # held at the gate (without it, it would take the free machine at once)
        assert catalogue.try_alone()
        catalogue.release_alone()
        assert started.wait(10)
        waiting.join()


def test_release_without_alone_changes_nothing_and_the_hold_ends_with_the_test(tmp_path: Path) -> None:
    catalogue, other_worker = MachineLock(tmp_path), MachineLock(tmp_path)
    catalogue.release_alone()  # a catalogue whose outage_recovery never started
    with catalogue.shared():
        pass
    assert other_worker.try_alone()  # nothing left held
    other_worker.release_alone()


def test_for_session_is_one_lock_per_directory_and_none_outside_a_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(LOCK_DIR_ENV, raising=False)
    assert MachineLock.for_session() is None
    monkeypatch.setenv(LOCK_DIR_ENV, str(tmp_path))
    assert MachineLock.for_session() is MachineLock.for_session() is not None
