"""The in-memory performer under virtual time: timing, faults, and exactly one finish."""

from __future__ import annotations

import asyncio
import gc
import json

import pytest

from fake_provider.config import ModelConfig, ProviderConfig
from fake_provider.core import ProviderCore, ProviderRequest
from fake_provider.memory import perform
from harness import vtime
from harness.clock import loop_clock
from harness.distributions import Distribution
from harness.pricing import ModelPrice

SLOW = ModelConfig(
    "slow", "openai", ModelPrice.per_million(1, 2), ttft=Distribution.fixed(0.5), inter_chunk=Distribution.fixed(0.1)
)


def core_on_loop() -> ProviderCore:
    return ProviderCore(ProviderConfig(allow_fault_headers=True).with_models(SLOW), clock=loop_clock())


def chat(core: ProviderCore, stream: bool = True, max_tokens: int = 4, **headers: str) -> ProviderRequest:
    body = {
        "model": "slow",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": max_tokens,
        "stream": stream,
    }
    hdrs = {"authorization": "Bearer k", **{k.replace("_", "-"): v for k, v in headers.items()}}
    return ProviderRequest("POST", "/v1/chat/completions", "", hdrs, json.dumps(body).encode())


def test_chunks_arrive_on_the_plan_timeline() -> None:
    async def main() -> tuple[list[float], float]:
        core = core_on_loop()
        loop = asyncio.get_running_loop()
        start = loop.time()
        response = perform(core.handle(chat(core)))
        await response.headers_sent()
        headers_at = loop.time() - start
        times = []
        async for _ in response:
            times.append(round(loop.time() - start, 6))
        record = core.log.since(0)[0]
        assert (record.status, record.output_tokens, record.finish) == (200, 4, "length")
        assert record.ttfb_s == pytest.approx(0.5)
        assert record.duration_s == pytest.approx(0.8)
        assert response.status == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return times, headers_at

    times, headers_at = vtime.run(main())
    assert headers_at == pytest.approx(0.5)
    # role chunk and first token at 0.5 (one read: due at the same instant), then a token every 0.1 s,
    # the last one together with the tail that follows it at once
    assert times == [0.5, 0.6, 0.7, 0.8]


def test_a_plain_answer_waits_for_the_whole_generation() -> None:
    async def main() -> None:
        core = core_on_loop()
        loop = asyncio.get_running_loop()
        response = perform(core.handle(chat(core, stream=False)))
        body = await response.read()
        assert loop.time() == pytest.approx(0.5 + 3 * 0.1)
        assert json.loads(body)["usage"]["completion_tokens"] == 4
        await response.aclose()
        record = core.log.since(0)[0]
        assert (record.output_tokens, record.finish, record.duration_s) == (4, "length", pytest.approx(0.8))

    vtime.run(main())


def test_a_cut_raises_connection_reset_after_the_sent_chunks() -> None:
    async def main() -> None:
        core = core_on_loop()
        response = perform(core.handle(chat(core, max_tokens=6, x_fake_fault="cut; after_tokens=2")))
        received: list[bytes] = []

        async def drain() -> None:
            async for data in response:
                received.append(data)

        with pytest.raises(ConnectionResetError):
            await drain()
        events = b"".join(received).count(b"data: ")
        assert events == 3  # role chunk + two tokens (the role chunk and the first token in one read)
        await response.aclose()
        (record,) = core.log.since(0)
        assert (record.output_tokens, record.finish) == (2, "cut")

    vtime.run(main())


@pytest.mark.parametrize(("fault", "duration"), [("reset", 0.0), ("silence; seconds=30", 30.0)])
def test_reset_and_silence_never_send_headers(fault: str, duration: float) -> None:
    async def main() -> None:
        core = core_on_loop()
        response = perform(core.handle(chat(core, x_fake_fault=fault)))
        assert response.status == 0
        with pytest.raises(ConnectionResetError):
            await response.headers_sent()
        with pytest.raises(ConnectionResetError):
            await response.headers_sent()
        await response.aclose()
        (record,) = core.log.since(0)
        assert (record.status, record.cost_usd) == (0, "0")
        assert record.duration_s == pytest.approx(duration)

    vtime.run(main())


def test_closing_early_records_a_client_that_left_once() -> None:
    async def main() -> None:
        core = core_on_loop()
        response = perform(core.handle(chat(core, max_tokens=10)))
        seen = 0
        async for _ in response:
            seen += 1
            if seen == 3:
                break
        await response.aclose()
        await response.aclose()
        (record,) = core.log.since(0)
        # three reads: role chunk + token 1 (due together), token 2, token 3; then the client left
        assert (record.output_tokens, record.finish) == (3, "client_gone")
        assert core.ledger.total.output_tokens == 3

    vtime.run(main())


def test_cancelling_the_reader_records_a_client_that_left() -> None:
    async def main() -> None:
        core = core_on_loop()
        response = perform(core.handle(chat(core, max_tokens=50)))

        async def consume() -> None:
            async for _ in response:
                pass

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.65)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await response.aclose()
        (record,) = core.log.since(0)
        assert record.finish == "client_gone"
        assert record.output_tokens == 2  # tokens at 0.5 and 0.6

    vtime.run(main())


def test_a_response_dropped_without_aclose_still_finishes_once() -> None:
    async def main() -> None:
        core = core_on_loop()
        response = perform(core.handle(chat(core)))
        await response.headers_sent()
        del response
        gc.collect()
        (record,) = core.log.since(0)
        assert record.finish == "client_gone"

    vtime.run(main())
