"""A server in its own process, for benchmarks: started, waited for, and always stopped.

The server must print ``listening on http://127.0.0.1:PORT`` as its first line of output, as
``harness serve`` and ``python -m fake_provider`` do.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["listening_process", "listening_server"]

LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


@contextmanager
def listening_server(
    command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> Iterator[tuple[int, int]]:
    """Run ``command`` until the block ends and yield ``(port, pid)`` (the pid: to read its CPU time).

    Its stderr goes to a file (a full pipe would stall it) and is shown if it fails to start.
    """
    with tempfile.TemporaryFile("w+") as errors:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True, env=env, cwd=cwd)
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            match = LISTENING.search(line)
            if match is None:
                errors.seek(0)
                raise RuntimeError(f"{command[0]} did not start: {line!r} {errors.read()[-2000:]}")
            yield int(match.group(1)), proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def listening_process(command: list[str]) -> Iterator[int]:
    """Run ``command`` until the block ends and yield the port it listens on."""
    with listening_server(command) as (port, _pid):
        yield port
