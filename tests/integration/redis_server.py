"""A redis-server of a test's own on a free loopback port, which the test may kill, restart, pause or fill."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time

import redis


class PrivateRedis:
    """``redis-server --save "" --appendonly no`` (nothing survives a restart) on 127.0.0.1:<free port>."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port: int = s.getsockname()[1]
        self.proc: subprocess.Popen[bytes] | None = None
        self.paused = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        cmd += ["--enable-debug-command", "local", "--maxmemory-policy", "noeviction"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.1):
                    return
            except OSError:
                time.sleep(0.025)
        raise RuntimeError("private redis-server did not start")

    def stop(self) -> None:
        """Kill it (SIGKILL: no goodbye to the clients); its data is gone."""
        if self.proc is not None:
            if self.paused:
                self.resume()
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def pause(self) -> None:
        """SIGSTOP: connections stay open, nothing answers (a stuck or swapping server)."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)
        self.paused = False

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)

    def fill(self) -> None:
        """maxmemory just above what is used, with noeviction: every write is refused with OOM."""
        with self.client() as r:
            used = int(r.info("memory")["used_memory"])
            r.config_set("maxmemory", str(used + 64 * 1024))
            with contextlib.suppress(redis.exceptions.OutOfMemoryError):
                r.set("ballast", b"x" * 128 * 1024)  # pushes it over the limit

    def unfill(self) -> None:
        with self.client() as r:
            r.config_set("maxmemory", "0")
            r.delete("ballast")
