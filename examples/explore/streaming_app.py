"""A chat app that streams its answers with the openai SDK, and a planted bug ``harness explore`` finds.

The bug: when the stream breaks off midway (a proxy cut the connection), the app keeps the text it has
and returns it as the answer, as if the model had finished. The user sees half an answer presented as a
whole one, and the app, which never got the final usage chunk, thinks the answer cost nothing.
``examples/explore/streaming_app.toml`` explores this app under stream faults; the invariants
``no_truncated_success`` and ``cost_equals_bill`` catch it, and the counterexample shrinks to one cut.

The app is built once per world by :func:`make_app`, which receives the world's
:class:`harness.app.AppEnv`: the provider's URL, a key, and an HTTP client that reaches the provider in
virtual time as well as over sockets. In production the same function would get the real URL and key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import openai

from harness.app import AppEnv
from harness.client.types import ChatRequest


@dataclass
class Answer:
    """What the app shows its user, and the usage it keeps for its own cost accounting."""

    text: str
    usage: Any  # the SDK's CompletionUsage from the final chunk, or None


def make_app(env: AppEnv) -> Callable[[ChatRequest], Awaitable[Answer]]:
    client = openai.AsyncOpenAI(
        base_url=f"{env.base_url}/v1", api_key=env.api_key, max_retries=2, http_client=env.http_client()
    )

    async def answer(request: ChatRequest) -> Answer:
        messages: Any = [{"role": m.role, "content": m.content} for m in request.messages]
        stream = await client.chat.completions.create(
            model=request.model,
            messages=messages,
            max_tokens=request.max_tokens,
            stream=True,
            stream_options={"include_usage": True},
        )
        parts: list[str] = []
        usage = None
        try:
            async for chunk in stream:
                parts.extend(choice.delta.content or "" for choice in chunk.choices)
                usage = chunk.usage or usage
        except Exception:  # the planted bug: a broken stream is shown as if it were the whole answer
            pass
        return Answer("".join(parts), usage)

    return answer
