"""Run by test_bridge.py in its own process: the bridge under Locust's monkey-patching.

Prints one JSON object with what it saw. Arguments: the fake provider's port, a Redis URL.
"""

# ruff: noqa: I001 - Locust must be imported first: it monkey-patches the standard library, as in any Locust process
from __future__ import annotations

import locust  # noqa: F401

import asyncio
import json
import sys
import threading
import time

import aiohttp
import gevent
import redis.asyncio as aioredis

from harness.client import ChatRequest, ClientConfig, Message, ResilientClient
from harness.locust import bridge


def main() -> None:
    port, redis_url = int(sys.argv[1]), sys.argv[2]
    seen: dict[str, object] = {"patched": gevent.monkey.is_module_patched("socket")}
    b = bridge()

    loop_thread = b.call(threading.get_native_id)
    seen["loop_on_its_own_os_thread"] = loop_thread != threading.get_native_id()
    seen["executor_on_os_threads"] = b.run(asyncio.to_thread(threading.get_native_id)) not in (
        loop_thread,
        threading.get_native_id(),
    )

    async def fetch(host: str) -> int:  # a host name: resolved through the loop's default executor
        async with aiohttp.ClientSession() as session, session.get(f"http://{host}:{port}/_fake/health") as response:
            return response.status

    seen["aiohttp_by_name"] = b.run(fetch("localhost"))
    seen["aiohttp_by_ip"] = b.run(fetch("127.0.0.1"))

    async def redis_ping() -> bool:
        client = aioredis.Redis.from_url(redis_url.replace("127.0.0.1", "localhost"))
        try:
            return bool(await client.ping())
        finally:
            await client.aclose()

    seen["redis_by_name"] = b.run(redis_ping())

    # while one greenlet waits on a coroutine, the hub runs the others
    ticks = [0]

    def ticker() -> None:
        while True:
            ticks[0] += 1
            gevent.sleep(0.01)

    t = gevent.spawn(ticker)
    b.run(asyncio.sleep(0.5))
    t.kill()
    seen["ticks_while_waiting"] = ticks[0]

    # a killed waiter cancels its coroutine
    state = {"cancelled": False}

    async def long() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            state["cancelled"] = True
            raise

    waiter = gevent.spawn(b.run, long())
    gevent.sleep(0.2)
    waiter.kill(block=True)
    deadline = time.monotonic() + 5
    while not state["cancelled"] and time.monotonic() < deadline:
        gevent.sleep(0.01)
    seen["kill_cancels"] = state["cancelled"]

    # the reference client through the bridge, many greenlets at once
    config = ClientConfig.parse({"models": [{"name": "gpt-4o-mini", "provider": "openai", "api_key": "sk-probe"}]})
    config = config.with_base_url(f"http://127.0.0.1:{port}")
    client = b.call(lambda: ResilientClient(config, clock=time.monotonic, sleep=asyncio.sleep))
    request = ChatRequest("gpt-4o-mini", (Message("user", "hello there"),), max_tokens=8)
    jobs = [gevent.spawn(b.run, client.chat(request)) for _ in range(64)]
    gevent.joinall(jobs, timeout=60)
    seen["client_answers"] = sum(1 for j in jobs if j.successful() and j.value.usage.output_tokens > 0)
    b.run(client.aclose())
    b.close()
    print(json.dumps(seen), flush=True)


if __name__ == "__main__":
    main()
