"""The machine shared by the test processes of one session: a run that must have it alone waits for the others.

CI's slow stage runs on two pytest-xdist workers. Every slow test holds the machine *shared* for its
whole run (``tests/conftest.py`` wraps each slow item's protocol in ``shared()``); a test with a part
that measures the machine's scheduling as much as the code (the real-time ``outage_recovery`` run: a
thousand client instances and the provider on one event loop) takes the machine *alone* for that part.
Taking it alone closes the gate first, so no further test starts on another worker, then waits for the
test running there to end; the tests waiting at the gate start when it is given back.

``flock`` on two files in a directory the session's processes share (``MachineLock.for_session``):
``gate`` (held exclusively by the one taking the machine alone, briefly shared by each test that
starts) and ``machine`` (shared by running tests, exclusive while one has it alone).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: the environment variable naming the session's lock directory, set by the process that starts the session
LOCK_DIR_ENV = "HARNESS_TESTS_MACHINE_LOCK_DIR"


class MachineLock:
    """Shared by running tests, alone for one test's machine-bound part; one instance per process."""

    def __init__(self, directory: Path) -> None:
        self._machine = os.open(directory / "machine", os.O_RDWR | os.O_CREAT, 0o600)
        self._gate = os.open(directory / "gate", os.O_RDWR | os.O_CREAT, 0o600)
        self._shared_depth = 0
        self._gate_closed = False
        self._alone = False

    @classmethod
    def for_session(cls) -> MachineLock | None:
        """This process's lock for its session, or None outside a session that set ``LOCK_DIR_ENV``."""
        directory = os.environ.get(LOCK_DIR_ENV)
        if not directory or not Path(directory).is_dir():
            return None
        if directory not in _BY_DIRECTORY:
            _BY_DIRECTORY[directory] = cls(Path(directory))
        return _BY_DIRECTORY[directory]

    @contextmanager
    def shared(self) -> Iterator[None]:
        """Hold the machine shared: wait while another process has it alone (or is waiting to)."""
        if self._shared_depth == 0 and not self._gate_closed:
            fcntl.flock(self._gate, fcntl.LOCK_SH)  # blocks while someone takes or holds the machine alone
            try:
                fcntl.flock(self._machine, fcntl.LOCK_SH)
            finally:
                fcntl.flock(self._gate, fcntl.LOCK_UN)
        self._shared_depth += 1
        try:
            yield
        finally:
            self._shared_depth -= 1
            if self._shared_depth == 0 and not self._gate_closed:
                fcntl.flock(self._machine, fcntl.LOCK_UN)

    def try_alone(self) -> bool:
        """Take the machine alone without waiting for the others' running tests: True once it is ours.

        The first call closes the gate (no test starts in another process from then on) and gives up
        this process's own shared hold; call again until it returns True. ``release_alone()`` ends
        both the wait and the hold (call it in a ``finally``: a closed gate stops every other worker).
        """
        if self._alone:
            return True
        if not self._gate_closed:
            fcntl.flock(self._machine, fcntl.LOCK_UN)  # our own shared hold would keep us out
            fcntl.flock(self._gate, fcntl.LOCK_EX)  # a starting test holds it only for an instant
            self._gate_closed = True
        try:
            fcntl.flock(self._machine, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        self._alone = True
        return True

    def release_alone(self) -> None:
        """Give the machine back (shared again while this process's test runs) and open the gate."""
        if not self._gate_closed:
            return
        fcntl.flock(self._machine, fcntl.LOCK_SH if self._shared_depth else fcntl.LOCK_UN)
        fcntl.flock(self._gate, fcntl.LOCK_UN)
        self._gate_closed = self._alone = False


_BY_DIRECTORY: dict[str, MachineLock] = {}
