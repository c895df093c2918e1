"""Streams: completeness per provider, typed errors, and deadlines on every read (virtual time)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest

from harness import vtime
from harness.client import ADAPTERS
from harness.client.streaming import AttemptClock, Deadline, StreamAssembler, consume_stream
from harness.errors import (
    DeadlineExceeded,
    FirstTokenTimeout,
    Overloaded,
    StreamBroken,
    StreamStalled,
)
from harness.pricing import Usage
from harness.wire import anthropic, gemini, openai, openai_answers


def openai_stream(words: Sequence[str], *, usage: bool = True, done: bool = True, finish: bool = True) -> list[bytes]:
    enc = openai_answers.ChatStreamEncoder("chatcmpl-1", "gpt-4o-mini", 1, include_usage=True)
    chunks = [enc.role(), *(enc.text(w) for w in words)]
    if finish:
        chunks.append(enc.finish("stop"))
    if usage:
        chunks.append(enc.usage(7, len(words)))
    if done:
        chunks.append(openai.DONE)
    return chunks


def anthropic_stream(words: Sequence[str], *, stop: bool = True) -> list[bytes]:
    enc = anthropic.MessageStreamEncoder("msg_1", "claude-haiku-4-5")
    chunks = [enc.start(7), *(enc.text(w) for w in words)]
    if stop:
        chunks.append(enc.stop("end_turn", None, 7, len(words)))
    return chunks


def gemini_stream(words: Sequence[str], *, last: bool = True) -> list[bytes]:
    enc = gemini.GenerateStreamEncoder("resp-1", "gemini-2.5-flash", 7)
    n = len(words)
    return [enc.text(w, i + 1, "STOP" if last and i == n - 1 else None) for i, w in enumerate(words)]


def assemble(provider: str, chunks: list[bytes]) -> StreamAssembler:
    asm = StreamAssembler(ADAPTERS[provider], "m")
    for chunk in chunks:
        asm.feed(chunk)
    asm.end()
    return asm


@pytest.mark.parametrize(
    ("provider", "chunks"),
    [
        ("openai", openai_stream([" a", " b", " c"])),
        ("openai", openai_stream([" a", " b", " c"], done=False)),  # finish + usage: complete without [DONE]
        ("anthropic", anthropic_stream([" a", " b", " c"])),
        ("gemini", gemini_stream([" a", " b", " c"])),
    ],
)
def test_complete_streams_give_text_finish_and_usage(provider: str, chunks: list[bytes]) -> None:
    asm = assemble(provider, chunks)
    assert asm.text == " a b c"
    assert asm.usage == Usage(7, 3)
    assert asm.finish in ("stop", "end_turn", "STOP")
    assert asm.request_id is not None


@pytest.mark.parametrize(
    ("provider", "chunks", "missing"),
    [
        ("openai", openai_stream([" a", " b"], usage=False, done=False), "usage"),  # cut before the usage chunk
        ("openai", openai_stream([" a", " b"], finish=False, usage=False, done=False), "finish reason"),
        ("anthropic", anthropic_stream([" a", " b"], stop=False), "finish reason"),
        ("gemini", gemini_stream([" a", " b"], last=False), "finish reason"),
        ("gemini", [], "finish reason"),
    ],
)
def test_a_stream_that_stops_early_is_broken_never_a_short_answer(
    provider: str, chunks: list[bytes], missing: str
) -> None:
    with pytest.raises(StreamBroken, match=missing) as caught:
        assemble(provider, chunks)
    assert caught.value.code == "incomplete_stream"


def test_malformed_and_error_events_are_typed_errors() -> None:
    asm = StreamAssembler(ADAPTERS["openai"], "m")
    asm.feed(openai_stream([" a"])[1])
    with pytest.raises(StreamBroken, match="malformed"):
        asm.feed(b'data: {"choices": [\n\n')
    anth = StreamAssembler(ADAPTERS["anthropic"], "m")
    anth.feed(anthropic_stream([" a"], stop=False)[0])
    with pytest.raises(Overloaded):
        anth.feed(anthropic.error_event("overloaded_error", "Overloaded"))
    oa = StreamAssembler(ADAPTERS["openai"], "m")
    with pytest.raises(StreamBroken):  # OpenAI's mid-stream {"error": …}
        oa.feed(b"data: " + openai.error_body("boom", "server_error") + b"\n\n")


def test_events_after_the_end_marker_are_ignored() -> None:
    asm = assemble("openai", [*openai_stream([" a"]), b'data: {"not": "read"}\n\n'])
    assert asm.text == " a"


def test_billing_of_a_broken_stream_counts_what_arrived() -> None:
    asm = StreamAssembler(ADAPTERS["openai"], "m")
    for chunk in openai_stream([" one", " two", " six"], usage=False, done=False, finish=False):
        asm.feed(chunk)
    assert asm.billed_usage(prompt_tokens=12) == Usage(12, 3)
    gem = StreamAssembler(ADAPTERS["gemini"], "m")
    for chunk in gemini_stream([" a", " b"], last=False):
        gem.feed(chunk)
    assert gem.billed_usage(prompt_tokens=99) == Usage(7, 2)  # the stream's own usage wins


class TimedResponse:
    """An HttpResponse whose chunks arrive after the given delays (on the loop clock)."""

    status = 200

    def __init__(self, timeline: list[tuple[float, bytes]]) -> None:
        self.timeline = timeline
        self.headers: dict[str, str] = {}

    async def read(self) -> bytes:
        return b"".join([c async for c in self.iter_chunks()])

    async def _gen(self) -> AsyncIterator[bytes]:
        for delay, data in self.timeline:
            await asyncio.sleep(delay)
            yield data

    def iter_chunks(self) -> AsyncIterator[bytes]:
        return self._gen()

    async def aclose(self) -> None:
        pass


def read(timeline: list[tuple[float, bytes]], **deadlines: float | None) -> tuple[str, float | None, float]:
    async def main() -> tuple[str, float | None, float]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        clock = AttemptClock(
            loop.time,
            first_token_at=None if deadlines.get("first") is None else start + deadlines["first"],  # type: ignore[operator]
            stall_s=deadlines.get("stall"),
            attempt_at=None if deadlines.get("attempt") is None else start + deadlines["attempt"],  # type: ignore[operator]
            total_at=None if deadlines.get("total") is None else start + deadlines["total"],  # type: ignore[operator]
        )
        asm = StreamAssembler(ADAPTERS["openai"], "m")
        timer = Deadline()
        got: list[str] = []
        try:
            first = await consume_stream(TimedResponse(timeline), asm, clock, timer, got.append)
        finally:
            timer.disarm()
        return "".join(got), None if first is None else first - start, loop.time() - start

    return vtime.run(main())


CHUNKS = openai_stream([" a", " b", " c"])


def test_a_healthy_stream_passes_every_deadline() -> None:
    timeline = [(0.5, CHUNKS[0]), (0.1, CHUNKS[1]), (0.4, CHUNKS[2]), (0.4, CHUNKS[3]), *((0.0, c) for c in CHUNKS[4:])]
    text, first, elapsed = read(timeline, first=1.0, stall=0.5, total=5.0)
    assert text == " a b c"
    assert first == pytest.approx(0.6)  # the role chunk is not a token
    assert elapsed == pytest.approx(1.4)


def test_first_token_deadline_counts_from_the_start_and_ignores_pings() -> None:
    timeline = [(0.5, CHUNKS[0]), (0.4, b": ping\n\n"), (0.4, CHUNKS[1])]
    with pytest.raises(FirstTokenTimeout):
        read(timeline, first=1.0, stall=0.45)


def test_a_stall_after_the_first_token_is_a_typed_error_at_the_deadline() -> None:
    timeline = [(0.0, CHUNKS[0]), (0.0, CHUNKS[1]), (3.0, CHUNKS[2])]

    async def main() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        clock = AttemptClock(loop.time, first_token_at=start + 1, stall_s=0.25, attempt_at=None, total_at=None)
        timer = Deadline()
        with pytest.raises(StreamStalled):
            await consume_stream(TimedResponse(timeline), StreamAssembler(ADAPTERS["openai"], "m"), clock, timer, None)
        timer.disarm()
        return loop.time() - start

    assert vtime.run(main()) == pytest.approx(0.25)  # no hang: it gave up exactly at the stall deadline


def test_the_hard_deadline_wins_when_it_comes_first() -> None:
    timeline = [(0.0, CHUNKS[0]), (0.0, CHUNKS[1]), (0.3, CHUNKS[2]), (0.3, CHUNKS[3]), (0.3, CHUNKS[4])]
    with pytest.raises(DeadlineExceeded) as caught:
        read(timeline, first=1.0, stall=0.5, total=0.7)
    assert caught.value.code == "total"
    with pytest.raises(DeadlineExceeded) as attempt:
        read(timeline, first=1.0, stall=0.5, attempt=0.7, total=10)
    assert attempt.value.code == "attempt"


def test_a_deadline_does_not_swallow_an_outside_cancellation() -> None:
    async def main() -> None:
        async def reader() -> None:
            timer = Deadline()
            timer.arm(asyncio.get_running_loop().time() + 10, "attempt")
            try:
                await asyncio.sleep(100)
            except asyncio.CancelledError:
                assert not timer.expired()
                raise
            finally:
                timer.disarm()

        task = asyncio.create_task(reader())
        await asyncio.sleep(1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    vtime.run(main())


def test_attempt_clock_limits() -> None:
    now = [100.0]
    clock = AttemptClock(lambda: now[0], first_token_at=101.0, stall_s=0.5, attempt_at=110.0, total_at=105.0)
    assert clock.limit(False) == (101.0, "first_token")
    assert clock.limit(True) == (100.5, "stall")
    now[0] = 104.8
    assert clock.limit(True) == (105.0, "total")
    assert clock.hard_kind == "total"
    no_stall = AttemptClock(lambda: 0.0, first_token_at=None, stall_s=None, attempt_at=3.0, total_at=None)
    assert no_stall.limit(True) == (3.0, "attempt")
    assert isinstance(no_stall.error("first_token", "openai", "m"), FirstTokenTimeout)
