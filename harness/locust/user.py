"""``LLMUser``: a Locust user whose tasks get a ready reference client, for your own locustfiles.

Subclass it, say how to configure the client (a ``[client]`` table as a dict, or a
:class:`~harness.client.ClientConfig`), and write tasks as usual. ``self.client`` is a
:class:`~harness.client.ResilientClient` pointed at the Locust ``--host``; ``self.chat(request)`` sends
one request, waits for it without blocking the other users, and reports it to Locust's statistics
(type the API, name the model, response time end to end, length the output tokens, failures by error
class, time to first token as a ``TTFT`` entry); ``self.run_coroutine(coroutine)`` runs any coroutine
of yours on the process's asyncio loop and returns its result (``self.run`` is Locust's own)::

    from locust import between, task
    from harness.client import ChatRequest, Message
    from harness.locust import LLMUser

    class Chat(LLMUser):
        wait_time = between(0.5, 2.0)
        client_config = {
            "models": [{"name": "gpt-4o-mini", "provider": "openai", "api_key_env": ["OPENAI_API_KEY"]}],
            "limits": {"rpm": 600},
        }

        @task
        def ask(self) -> None:
            self.chat(ChatRequest("gpt-4o-mini", (Message("user", "Hello"),), max_tokens=32))

``shared_client = True`` (the default) gives every user of the class in one Locust process the same
client, as one app instance serves many users; ``False`` gives each user its own (its own limiter,
breaker and jitter). With ``[client.redis]`` in the configuration, every process and worker shares the
limiter, breaker and budgets through Redis, so the whole fleet obeys one quota.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Coroutine, Mapping
from typing import Any, ClassVar, TypeVar

from locust import User, events

from harness.client import ClientConfig, ResilientClient
from harness.client.types import ChatRequest, ChatResponse
from harness.errors import HarnessError
from harness.locust.bridge import bridge
from harness.locust.stats import report_response

__all__ = ["LLMUser"]

T = TypeVar("T")


class LLMUser(User):
    """A Locust user with a ready :class:`~harness.client.ResilientClient` (see the module docstring)."""

    abstract = True
    client_config: ClassVar[ClientConfig | Mapping[str, Any] | None] = None  # the [client] table or a ClientConfig
    shared_client: ClassVar[bool] = True  # one client per class and process (True) or one per user (False)
    _shared: ClassVar[dict[type, ResilientClient]] = {}

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.client: ResilientClient = self._client()

    @classmethod
    def config(cls, host: str | None) -> ClientConfig:
        """The client's configuration: ``client_config`` with models without a base_url pointed at ``host``."""
        raw = cls.client_config
        if raw is None:
            raise TypeError(f"{cls.__name__}.client_config: set it to a [client] table (a dict) or a ClientConfig")
        config = (
            raw if isinstance(raw, ClientConfig) else ClientConfig.parse(dict(raw), f"{cls.__name__}.client_config")
        )
        return config.with_base_url(host) if host else config

    def _client(self) -> ResilientClient:
        cls = type(self)
        if cls.shared_client and cls in LLMUser._shared:
            return LLMUser._shared[cls]
        config = cls.config(self.host)
        client = bridge().call(lambda: ResilientClient(config, clock=time.monotonic, sleep=asyncio.sleep))
        if cls.shared_client:
            LLMUser._shared[cls] = client
        return client

    def run_coroutine(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the process's asyncio loop and return its result (this user waits; others run)."""
        return bridge().run(coroutine)

    def chat(self, request: ChatRequest) -> ChatResponse | None:
        """Send ``request`` through the client and report it to Locust; the answer, or None when it failed."""
        started = time.monotonic()
        try:
            response = self.run_coroutine(self.client.chat(request))
        except HarnessError as exc:
            report_response(
                self.environment.events,
                api=self._api(request.model),
                model=request.model,
                latency_s=time.monotonic() - started,
                response=None,
                error=exc,
            )
            return None
        report_response(
            self.environment.events,
            api=response.provider,
            model=request.model,
            latency_s=time.monotonic() - started,
            response=response,
            error=None,
        )
        return response

    def _api(self, model: str) -> str:
        spec = self.client.config.model(model)
        return spec.provider if spec is not None else "llm"

    def on_stop(self) -> None:
        if not type(self).shared_client:
            self.run_coroutine(self.client.aclose())


def _close_shared_clients(**_: Any) -> None:
    """Close the shared clients when Locust quits (their connections, their Redis pools)."""
    clients, LLMUser._shared = list(LLMUser._shared.values()), {}
    for client in clients:
        with contextlib.suppress(Exception):  # quitting anyway: a failed close must not hide Locust's summary
            bridge().run(client.aclose())


_events: Any = events  # Locust's hooks are untyped
_events.quitting.add_listener(_close_shared_clients)
