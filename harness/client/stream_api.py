"""The caller's side of a streamed answer: an async iterator of text deltas that ends with the usage.

The call path runs in its own task and hands deltas over through a queue, so the deadlines it
applies to the provider (first token, stall) never count the caller's own pace, and no deadline is
ever held across a ``yield``. Before the first delta reaches the caller, the client may retry or fall
over silently; after it, a broken stream is raised from the iterator (or, with
``streaming.restart_on_break``, continued on another model).

Example::

    async with client.stream(request) as stream:
        async for delta in stream:
            if delta.final:
                print("\\n", delta.response.usage, delta.response.cost_usd)
            else:
                print(delta.text, end="")

Leaving the block early (or :meth:`ChatStream.aclose`) cancels the call; its outcome is recorded
as ``Cancelled``.

The stream does not know the client: it is handed the client's call path as one function
(:data:`CallPath`: the request's text deltas go to the sink it is given; it returns the answer, or
raises what ended the request, once the outcome is recorded).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from harness.client.types import ChatDelta, ChatRequest, ChatResponse

__all__ = ["ChatStream"]

#: the client's call path for one request: text deltas go to the sink; the answer, or the error that
#: ended the request, comes back after the outcome is recorded (``ResilientClient._call``)
CallPath = Callable[[ChatRequest, Callable[[str], None]], Awaitable[ChatResponse]]


class ChatStream:
    """Deltas of one streamed logical request (see the module docstring)."""

    def __init__(self, call: CallPath, request: ChatRequest) -> None:
        self.request = request
        self.response: ChatResponse | None = None  # the final answer, once the stream ended
        self._call = call
        self._queue: asyncio.Queue[str | ChatResponse | BaseException] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._finished = False

    def __aiter__(self) -> ChatStream:
        return self

    async def __anext__(self) -> ChatDelta:
        if self._finished:
            raise StopAsyncIteration
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        item = await self._queue.get()
        if isinstance(item, str):
            return ChatDelta(item)
        self._finished = True
        if isinstance(item, BaseException):
            raise item
        self.response = item
        return ChatDelta("", item)

    async def _run(self) -> None:
        try:
            response = await self._call(self.request, self._queue.put_nowait)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self._queue.put_nowait(exc)
            return
        self._queue.put_nowait(response)

    async def text(self) -> str:
        """Consume the rest of the stream; the whole answer's text."""
        parts = [delta.text async for delta in self]
        return "".join(parts)

    async def aclose(self) -> None:
        """Stop: cancel the call if it is still running (its outcome is recorded as Cancelled)."""
        self._finished = True
        task = self._task
        if task is None:
            # never started: the logical request was never issued, so there is nothing to record
            return
        if not task.done():
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def __aenter__(self) -> ChatStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        state = "done" if self._finished else "running" if self._task is not None else "new"
        return f"<ChatStream {self.request.model} {state}>"
