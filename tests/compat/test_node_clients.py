"""Node clients against the fake provider, unchanged: the official ``openai`` SDK's ``responses.create`` and
the Vercel AI SDK's default ``openai(model)`` (the Responses API) and ``anthropic("claude-sonnet-4-20250514")``
without a max-tokens setting (it sends the model's known output limit, which must fit). Then the Vercel AI
SDK's tool loop (``generateText`` / ``streamText`` with a zod tool and ``stopWhen: isStepCount(3)``) and
structured output (``generateObject``, ``streamObject`` and ``generateText`` with ``Output.object``, a
zod schema) on each API: the Responses API, chat completions (``openai.chat(model)``), Anthropic and
Gemini (``@ai-sdk/google``).

The packages are installed from npm by this module into ``tests/compat/node/node_modules`` (versions in
``tests/compat/node/package.json``; installed once, again only when package.json changes). Without Node
20+ and npm, or when the npm registry cannot be reached, the tests are skipped with the reason, except
in CI (``CI`` set), where that is a failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from fake_provider.testing import RunningServer

pytestmark = [pytest.mark.compat, pytest.mark.slow]

NODE_DIR = Path(__file__).with_name("node")
STAMP = NODE_DIR / "node_modules" / ".installed-from"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"the Node compat tests must run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def node_clients() -> Path:
    """Node 20+ with the packages of package.json installed (once; again when package.json changes)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _unavailable("node and npm are not installed (Node 20 or later)")
    assert node is not None
    assert npm is not None
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < 20:
        _unavailable(f"Node {version} is too old: the Vercel AI SDK needs Node 20 or later")
    wanted = (NODE_DIR / "package.json").read_text(encoding="utf-8")
    if not STAMP.is_file() or STAMP.read_text(encoding="utf-8") != wanted:
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            _unavailable(f"npm install failed (is the npm registry reachable?): {done.stderr.strip()[-400:]}")
        STAMP.write_text(wanted, encoding="utf-8")
    return NODE_DIR


async def run_node(folder: Path, case: str, server: RunningServer) -> dict[str, Any]:
    """Run one case of clients.mjs against ``server`` (the server keeps serving while Node runs)."""
    process = await asyncio.create_subprocess_exec(
        "node",
        "clients.mjs",
        case,
        server.url,
        cwd=folder,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()[-2000:]
    answer: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    assert answer["ok"], answer
    return answer["result"]  # type: ignore[no-any-return]


async def test_openai_sdk_responses_create_plain_and_streamed(node_clients: Path, server: RunningServer) -> None:
    result = await run_node(node_clients, "openai-responses", server)
    plain, stream = result["plain"], result["stream"]
    assert plain["status"] == "incomplete"  # max_output_tokens = 20 cut it
    assert plain["usage"]["output_tokens"] == 20
    assert stream["text"] == plain["text"]
    assert stream["types"][:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert stream["types"][-1] == "response.incomplete"
    assert stream["types"].count("response.output_text.delta") == 20
    assert stream["usage"] == plain["usage"]
    records = server.core.log.since(0)
    assert [(r.api, r.stream, r.status, r.max_tokens) for r in records] == [
        ("openai.responses", False, 200, 20),
        ("openai.responses", True, 200, 20),
    ]


async def test_vercel_ai_sdk_default_openai_model_uses_the_responses_api(
    node_clients: Path, server: RunningServer
) -> None:
    result = await run_node(node_clients, "vercel-openai", server)
    plain, stream = result["plain"], result["stream"]
    assert plain["finishReason"] == "stop"
    assert plain["text"] == stream["text"]
    first, second = server.core.log.since(0)
    assert (first.api, first.stream, second.api, second.stream) == ("openai.responses", False, "openai.responses", True)
    assert plain["usage"]["inputTokens"] == first.prompt_tokens
    assert plain["usage"]["outputTokens"] == first.output_tokens == stream["usage"]["outputTokens"]
    assert server.core.ledger_dict()["total"]["requests"] == 2


async def test_vercel_ai_sdk_anthropic_with_a_dated_id_and_no_max_tokens(
    node_clients: Path, server: RunningServer
) -> None:
    result = await run_node(node_clients, "vercel-anthropic", server)
    (record,) = server.core.log.since(0)
    assert (record.api, record.model, record.status) == ("anthropic.messages", "claude-sonnet-4-20250514", 200)
    assert record.max_tokens == server.core.models["claude-sonnet-4-20250514"].max_output_tokens  # the SDK's default
    assert result["plain"]["usage"]["outputTokens"] == record.output_tokens


#: the Vercel AI SDK's model per API (clients.mjs ``models``) → the route the fake provider logs
APIS = {"openai": "openai.responses", "openai-chat": "openai.chat", "anthropic": "anthropic.messages",
        "google": "gemini.generate"}  # fmt: skip
WEATHER_INPUT = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 3}},
    "required": ["city", "days"],
}
VERDICT = {
    "type": "object",
    "properties": {
        "verdict": {"enum": ["yes", "no"]},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "reasons": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["verdict", "score", "reasons"],
}


@pytest.mark.parametrize("api", list(APIS))
async def test_vercel_ai_sdk_tool_loop(node_clients: Path, server: RunningServer, api: str) -> None:
    """Step 1 calls the tool with arguments that fit its zod schema; the SDK runs it and sends the result;
    step 2 answers in text. Streamed (streamText) the same, with the same call and the same answer."""
    result = await run_node(node_clients, f"tools-{api}", server)
    plain, stream = result["plain"], result["stream"]
    for run in (plain, stream):
        first, second = run["steps"]
        assert first["finishReason"] == "tool-calls"
        (call,) = first["toolCalls"]
        assert call["name"] == "weather"
        jsonschema.validate(call["input"], WEATHER_INPUT)
        assert (second["finishReason"], second["toolCalls"]) == ("stop", [])
        assert run["finishReason"] == "stop"
    assert stream["steps"] == plain["steps"]
    assert stream["text"] == plain["text"]
    assert plain["text"]
    assert result["executed"] == [plain["steps"][0]["toolCalls"][0]["input"]] * 2  # the SDK ran the tool each time
    records = server.core.log.since(0)
    assert [(r.api, r.stream, r.status) for r in records] == [(APIS[api], s, 200) for s in (False, False, True, True)]
    assert records[1].prompt_tokens > records[0].prompt_tokens  # the call and its result went back
    assert plain["usage"]["outputTokens"] == records[0].output_tokens + records[1].output_tokens


@pytest.mark.parametrize("api", list(APIS))
async def test_vercel_ai_sdk_generate_object_with_a_zod_schema(
    node_clients: Path, server: RunningServer, api: str
) -> None:
    """generateObject, streamObject and generateText with Output.object parse an object matching the zod
    schema from each API's structured output (Anthropic: the SDK's forced JSON tool)."""
    result = await run_node(node_clients, f"object-{api}", server)
    plain, stream, output = result["plain"], result["stream"], result["output"]
    jsonschema.validate(plain["object"], VERDICT)
    assert stream["object"] == output["object"] == plain["object"]  # the same request: the same answer
    assert stream["partials"] >= 2  # the object arrived in pieces
    assert plain["finishReason"] == output["finishReason"] == "stop"
    records = server.core.log.since(0)
    assert [(r.api, r.stream, r.status) for r in records] == [(APIS[api], s, 200) for s in (False, True, False)]
    assert plain["usage"]["outputTokens"] == records[0].output_tokens == stream["usage"]["outputTokens"]
