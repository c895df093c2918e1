"""The in-memory performer: carries a plan out under the running event loop's clock, no sockets.

A client-side in-memory transport (and the virtual-time runner) uses it like a socket::

    response = perform(core.handle(request))
    await response.headers_sent()          # waits headers_delay_s; ConnectionResetError on reset/silence
    response.status, response.headers
    async for data in response:            # each chunk after its delay; ConnectionResetError on a cut
        ...
    await response.aclose()                # always: a consumer that stops early is a client that left

It produces the same status, headers and body bytes as the aiohttp app for the same plan, and calls
``exchange.settle`` exactly once: when the body is exhausted, the connection "breaks", the consumer
closes early, or the waiting task is cancelled (then the delivery says ``client_gone``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

from fake_provider.core import Exchange
from fake_provider.plan import Chunk, Delivery, StreamEnd, TransportFault

__all__ = ["MemoryResponse", "perform"]


class MemoryResponse:
    """One plan being performed in memory; an async iterator over body bytes."""

    __slots__ = ("_delivery", "_done", "_exchange", "_index", "_loop", "_start", "_state", "headers", "status")

    def __init__(self, exchange: Exchange) -> None:
        plan = exchange.plan
        self._exchange = exchange
        self._loop = asyncio.get_running_loop()
        self._start = self._loop.time()  # arrival on the loop's clock (virtual under harness.vtime)
        self.status = plan.status  # the status the plan will send (0 for transport faults)
        self.headers: Mapping[str, str] = _lower_headers(plan.headers)
        self._delivery = Delivery()
        self._state = "new"  # new → headers → body → done
        self._index = 0  # next stream chunk
        self._done = False

    @property
    def exchange(self) -> Exchange:
        return self._exchange

    def _elapsed(self) -> float:
        return self._loop.time() - self._start

    def _finish(self, client_gone: bool = False) -> None:
        if self._done:
            return
        self._done = True
        self._state = "done"
        delivery = self._delivery
        delivery.duration_s = self._elapsed()
        delivery.client_gone = client_gone
        self._exchange.settle(delivery)

    async def _sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            self._finish(client_gone=True)
            raise

    async def headers_sent(self) -> None:
        """Resolve when the status line and headers are "on the wire"; raise for transport faults."""
        if self._state != "new":
            if self._done and self._delivery.status == 0:
                raise ConnectionResetError("connection reset by the fake provider")
            return
        plan = self._exchange.plan
        if plan.transport is TransportFault.RESET:
            self._finish()
            raise ConnectionResetError("connection reset by the fake provider before any byte")
        if plan.transport is TransportFault.SILENCE:
            await self._sleep(plan.silence_s)
            self._finish()
            raise ConnectionResetError(f"the fake provider said nothing for {plan.silence_s:g} s, then dropped")
        await self._sleep(plan.headers_delay_s)
        if self._done:  # closed while waiting
            raise ConnectionResetError("response closed")
        self._delivery.status = plan.status
        self._state = "headers"
        if not plan.streamed:
            # a plain body goes out with the headers, as the socket performer writes it
            self._delivery.ttfb_s = self._elapsed()
            self._delivery.tokens_sent = plan.body_tokens

    def __aiter__(self) -> MemoryResponse:
        return self

    async def __anext__(self) -> bytes:
        if self._state == "new":
            await self.headers_sent()
        plan = self._exchange.plan
        if self._done:
            raise StopAsyncIteration
        chunks = plan.chunks
        if chunks is None:
            self._state = "body"
            self._finish()
            if plan.body:
                return plan.body
            raise StopAsyncIteration
        while self._index < len(chunks):
            chunk = chunks[self._index]
            await self._sleep(chunk.delay_s)
            if self._done:
                raise StopAsyncIteration
            self._index += 1
            delivery = self._delivery
            delivery.chunks_sent += 1
            delivery.tokens_sent += chunk.tokens
            if chunk.data:
                if delivery.ttfb_s is None:
                    delivery.ttfb_s = self._elapsed()
                return self._with_immediate(chunk.data, chunks)
        if plan.end is StreamEnd.CUT:
            self._finish()
            raise ConnectionResetError("the fake provider cut the stream")
        self._finish()
        raise StopAsyncIteration

    def _with_immediate(self, data: bytes, chunks: tuple[Chunk, ...]) -> bytes:
        """``data`` plus every following chunk due at the same instant (no delay), as one read.

        Writes that leave back to back arrive together on a socket too; handing them over in one read
        saves the consumer a wake-up per chunk (streams of a thousand tokens, in virtual time).
        """
        index = end = self._index
        count = len(chunks)
        while end < count and chunks[end].delay_s <= 0:
            end += 1
        if end == index:
            return data
        run = chunks[index:end]
        delivery = self._delivery
        delivery.chunks_sent += end - index
        delivery.tokens_sent += sum([chunk.tokens for chunk in run])
        self._index = end
        return b"".join([data, *[chunk.data for chunk in run]])

    async def read(self) -> bytes:
        """The whole body (waiting for the headers first if needed)."""
        if self._state == "headers" and self._exchange.plan.chunks is None:  # (a finished response is "done")
            # a plain body whose headers are out: what __anext__ hands over in its one step, without an
            # async iteration of two steps (most answers are plain; the client reads them all this way)
            self._state = "body"
            self._finish()
            return self._exchange.plan.body
        return b"".join([data async for data in self])

    async def aclose(self) -> None:
        """Stop reading: an unfinished plan is recorded as a client that left."""
        if not self._done:
            chunks = self._exchange.plan.chunks
            # a plain body went out with its headers; a stream is complete once every chunk was read
            complete = self._delivery.status != 0 if chunks is None else self._index >= len(chunks)
            self._finish(client_gone=not complete)

    def __del__(self) -> None:
        # safety net for a consumer that dropped the response without aclose(): still exactly one record
        if not self._done:
            with contextlib.suppress(Exception):
                self._finish(client_gone=True)

    def __repr__(self) -> str:
        return f"<MemoryResponse status={self.status} state={self._state} chunks_sent={self._delivery.chunks_sent}>"


#: header names seen to be lower-case already (the provider writes a few dozen names; bounded all the same)
_LOWER_NAMES: set[str] = set()
_MAX_LOWER_NAMES = 4096


def _lower_headers(headers: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """``{name.lower(): value for name, value in headers}``: a plan's headers as a response exposes them.

    The provider's names are lower-case already: when every name is one seen to be, the pairs are taken as
    they are (``dict`` of the pairs and a set lookup per name, in C: a quarter of lower-casing each name in a
    comprehension, which every answer paid). A name not seen before takes the comprehension and is
    remembered if it is lower-case.
    """
    found = dict(headers)
    if _LOWER_NAMES.issuperset(found):
        return found
    lowered = {name.lower(): value for name, value in headers}
    if len(_LOWER_NAMES) < _MAX_LOWER_NAMES:
        _LOWER_NAMES.update(name for name in found if name == name.lower())
    return lowered


def perform(exchange: Exchange) -> MemoryResponse:
    """Start performing ``exchange.plan`` now, on the running loop."""
    return MemoryResponse(exchange)
