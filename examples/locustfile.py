"""A locustfile of your own, driving the reference client through Locust with harness.locust.

Point it at any server that speaks the OpenAI API — here, the fake provider:

    harness serve --port 8080 &
    OPENAI_API_KEY=sk-example locust -f examples/locustfile.py --headless -u 20 -r 20 -t 30s \\
        --host http://127.0.0.1:8080

Two kinds of task:

* ``ask``: one request through ``self.chat``, which waits for the answer without blocking the other
  users and reports it to Locust's stats (type ``openai``, name the model, response time end to end,
  length the output tokens, failures by error class);
* ``conversation``: a coroutine of our own run with ``self.run_coroutine`` — two turns, the second
  streamed token by token — reported under a name of our choosing with ``report``.

Every user of the class in one Locust process shares one client (one app instance), so they share
its limiter (600 requests a minute here), breaker and retry budget. Add a ``redis`` table to
``client_config`` to share them across Locust workers too.
"""

from __future__ import annotations

import time

from locust import between, task

from harness.client import ChatRequest, Message, ResilientClient
from harness.locust import LLMUser, report

MODEL = "gpt-4o-mini"


async def conversation(client: ResilientClient, opening: str) -> int:
    """Two turns: a plain answer, then a streamed follow-up; returns the tokens received."""
    first = await client.chat(ChatRequest(MODEL, (Message("user", opening),), max_tokens=32))
    follow_up = (Message("user", opening), Message("assistant", first.text), Message("user", "And then?"))
    tokens = first.usage.output_tokens
    async with client.stream(ChatRequest(MODEL, follow_up, max_tokens=32)) as stream:
        async for _ in stream:
            pass  # an app would show each delta as it arrives
    assert stream.response is not None
    return tokens + stream.response.usage.output_tokens


class ChatUser(LLMUser):
    wait_time = between(0.1, 0.5)
    client_config = {  # noqa: RUF012 - read once by LLMUser, like a [client] table in a scenario
        "models": [{"name": MODEL, "provider": "openai", "api_key_env": ["OPENAI_API_KEY"]}],
        "limits": {"rpm": 600},
        "retry": {"max_attempts": 3},
    }

    @task(3)
    def ask(self) -> None:
        self.chat(ChatRequest(MODEL, (Message("user", "Name a colour."),), max_tokens=16))

    @task(1)
    def two_turns(self) -> None:
        started = time.monotonic()
        error = None
        tokens = 0
        try:
            tokens = self.run_coroutine(conversation(self.client, "Tell me a short story."))
        except Exception as exc:  # a HarnessError from either turn: reported as its class
            error = type(exc).__name__
        report(
            self.environment.events,
            api="openai",
            model="conversation",
            latency_s=time.monotonic() - started,
            output_tokens=tokens,
            error=error,
        )
