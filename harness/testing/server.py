"""The fake provider on a background thread, for tests of your own app (sync or async).

The server runs on its own event loop in a daemon thread, listening on a free loopback port, so a
synchronous app (``openai.OpenAI``) can call it from the test's thread and an asynchronous one can
call it from any loop — the test's loop never has to serve it. Every helper goes through the control
API (``/_fake/*``, ``docs/fake-provider.md``), exactly as a test in another process would.

Example::

    with FakeProvider.start() as fake:
        client = openai.OpenAI(base_url=fake.openai_base_url, api_key=fake.api_key)
        fake.set_faults([{"kind": "http", "status": 429, "retry_after_s": 0.2, "always": True}])
        ...
        statuses = [r.status for r in fake.requests()]

Fault test headers (``x-fake-fault`` / ``x-fake-status``) are always honoured by this server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError

if TYPE_CHECKING:
    from fake_provider.config import ProviderConfig
    from fake_provider.schedule import FaultSchedule
    from harness.records import ProviderRecord

__all__ = ["DUMMY_API_KEY", "FakeProvider", "provider_config"]

#: the key the fixtures hand out: any non-empty key is accepted unless the config lists allowed keys
DUMMY_API_KEY = "sk-fake-provider-test"
_START_TIMEOUT_S = 30.0  # the thread binds a port and answers: generous for a loaded CI machine
_STOP_TIMEOUT_S = 10.0  # in-flight answers get 1 s (the app's shutdown timeout), then are cancelled
_CONTROL_TIMEOUT_S = 30.0


def provider_config(setup: ProviderConfig | str | Path | Mapping[str, Any] | None) -> ProviderConfig:
    """A :class:`ProviderConfig` with fault headers allowed, from any of the accepted setups.

    A path or a mapping is read like a scenario: its ``[provider]`` table and its ``[[faults]]``.
    """
    import tomllib

    from fake_provider.config import ProviderConfig

    if setup is None:
        config = ProviderConfig()
    elif isinstance(setup, ProviderConfig):
        config = setup
    elif isinstance(setup, str | Path):
        path = Path(setup)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(str(path), f"cannot read the scenario: {exc.strerror or exc}") from None
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(str(path), f"not a valid TOML file: {exc}") from None
        config = ProviderConfig.from_scenario(data)
    elif isinstance(setup, Mapping):
        config = ProviderConfig.from_scenario(setup)
    else:
        raise TypeError(f"expected a ProviderConfig, a scenario path or a mapping, got {type(setup).__name__}")
    return replace(config, allow_fault_headers=True)


class FakeProvider:
    """A fake provider serving on 127.0.0.1 from a background thread; helpers use its control API."""

    def __init__(self, config: ProviderConfig | str | Path | Mapping[str, Any] | None = None) -> None:
        self.config = provider_config(config)  # fault headers always allowed
        allowed = self.config.allowed_keys
        # a dummy the server accepts: the first allowed key when the config restricts keys
        self.api_key = min(allowed) if allowed else DUMMY_API_KEY
        self.host = "127.0.0.1"
        self.port = 0  # the bound port, once started
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        # no proxy for loopback, whatever HTTP_PROXY says
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    # -- lifecycle ---------------------------------------------------------------------------------
    @classmethod
    def start(cls, config: ProviderConfig | str | Path | Mapping[str, Any] | None = None) -> FakeProvider:
        """A started server (``with FakeProvider.start() as fake:`` stops it at the end)."""
        server = cls(config)
        server.open()
        return server

    def open(self) -> None:
        """Start serving; returns once the socket listens (errors binding it are raised here)."""
        if self._thread is not None:
            raise RuntimeError("the fake provider is already running")
        ready: Future[int] = Future()
        thread = threading.Thread(target=self._serve_thread, args=(ready,), name="fake-provider", daemon=True)
        self._thread = thread
        thread.start()
        try:
            self.port = ready.result(timeout=_START_TIMEOUT_S)
        except BaseException:
            self._thread = None
            raise

    def _serve_thread(self, ready: Future[int]) -> None:
        try:
            asyncio.run(self._serve(ready))
        except BaseException as exc:  # reported to open(); a thread has nobody else to tell
            if not ready.done():
                ready.set_exception(exc)

    async def _serve(self, ready: Future[int]) -> None:
        from fake_provider.app import start
        from fake_provider.core import ProviderCore

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        runner, port = await start(ProviderCore(self.config), self.host, 0)
        try:
            ready.set_result(port)
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def close(self) -> None:
        """Stop serving and wait for the thread (in-flight answers get a second, then are cancelled)."""
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None:
            return
        self._thread = None
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(stop.set)
        thread.join(_STOP_TIMEOUT_S)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> FakeProvider:
        if self._thread is None:
            self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = f"url={self.url!r}" if self.running else "stopped"
        return f"<FakeProvider {state}>"

    # -- where to point clients --------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """``openai.OpenAI(base_url=...)`` and LiteLLM's ``api_base``: the URL with ``/v1``."""
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """``anthropic.Anthropic(base_url=...)``: the SDK adds ``/v1/messages`` itself."""
        return self.url

    @property
    def gemini_base_url(self) -> str:
        """``genai.Client(http_options=HttpOptions(base_url=...))``: the SDK adds ``/v1beta/models/…``."""
        return self.url

    # -- the control API -----------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: object = None) -> tuple[bytes, Mapping[str, str]]:
        if not self.running:
            raise RuntimeError("the fake provider is not running (it is stopped at the end of its fixture)")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"content-type": "application/json"}
        )
        try:
            with self._opener.open(request, timeout=_CONTROL_TIMEOUT_S) as response:
                return response.read(), dict(response.headers)
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", "replace")
            try:
                message = str(json.loads(text)["error"])
            except (ValueError, KeyError, TypeError):
                message = text[:200]
            raise ConfigError("", f"{method} {path}: {exc.code}: {message}") from None

    def set_faults(self, faults: Sequence[Mapping[str, Any]] | FaultSchedule) -> None:
        """Replace the fault schedule: a list of ``[[faults]]`` tables (``docs/faults.md``); ``[]`` clears it.

        Checked here first, so a bad table raises :class:`ConfigError` naming the field
        (``faults[0].status: …``) and leaves the server's schedule as it was. Fault windows count from
        the server's start or its last :meth:`reset`.
        """
        from fake_provider.schedule import FaultSchedule

        if isinstance(faults, FaultSchedule):
            body: dict[str, Any] = faults.to_dict()
        else:
            if isinstance(faults, Mapping):
                raise ConfigError("faults", "expected a list of fault tables, got one table: wrap it in [...]")
            tables = list(faults)
            FaultSchedule.parse(tables, "faults")  # raises ConfigError naming the field
            body = {"faults": tables}
        self._call("POST", "/_fake/faults", body)

    def clear_faults(self) -> None:
        """No more scheduled faults (the test headers still work)."""
        self.set_faults([])

    def faults(self) -> list[dict[str, Any]]:
        """The current fault schedule, as tables (keys appear as their log hashes)."""
        data, _ = self._call("GET", "/_fake/faults")
        faults: list[dict[str, Any]] = json.loads(data)["faults"]
        return faults

    def requests(self, since: int = 0) -> list[ProviderRecord]:
        """The request log: one :class:`~harness.records.ProviderRecord` per attempt, in the order they ended.

        ``since`` skips the first records (a record's ``seq`` is its position, from 1).
        """
        from harness.records import ProviderRecord, load_jsonl

        data, _ = self._call("GET", f"/_fake/requests?since={int(since)}")
        return list(load_jsonl(ProviderRecord, data.decode()))

    def ledger(self, entries: bool = False) -> dict[str, Any]:
        """The billing ledger: ``total``, ``by_model``, ``by_key`` (costs as decimal strings)."""
        data, _ = self._call("GET", "/_fake/ledger?entries=1" if entries else "/_fake/ledger")
        ledger: dict[str, Any] = json.loads(data)
        return ledger

    def health(self) -> dict[str, Any]:
        data, _ = self._call("GET", "/_fake/health")
        health: dict[str, Any] = json.loads(data)
        return health

    def reset(self) -> None:
        """A new run: forget the log, the ledger and the quota state; fault windows restart at 0."""
        self._call("POST", "/_fake/reset", {})
