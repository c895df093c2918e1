"""The prompt cache: Anthropic breakpoints (TTL 5 m / 1 h, the 1,024-token floor, at most four) and
OpenAI / Gemini automatic caching (1,024 tokens, steps of 128), in the provider core's clock."""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

import pytest

from fake_provider.config import ProviderConfig
from fake_provider.core import ProviderCore, ProviderRequest
from fake_provider.plan import Delivery
from fake_provider.prompt_cache import _prefixes
from harness.clock import ManualClock
from harness.tokenizer import MESSAGE_OVERHEAD, TOKEN_PATTERN

LONG = " ".join(["word"] * 1500)
KEYS = {"authorization": "Bearer k", "x-api-key": "k", "x-goog-api-key": "k"}


def post(core: ProviderCore, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    ex = core.handle(ProviderRequest("POST", path, headers=KEYS, body=json.dumps(body).encode()))
    ex.finish(Delivery(status=ex.plan.status, tokens_sent=ex.plan.body_tokens))
    return ex.plan.status, json.loads(ex.plan.body)


def anthropic(core: ProviderCore, ttl: str | None, question: str = "hi") -> dict[str, Any]:
    control = {"type": "ephemeral", **({"ttl": ttl} if ttl else {})}
    body = {"model": "claude-sonnet-4-0", "max_tokens": 5, "messages": [{"role": "user", "content": question}],
            "system": [{"type": "text", "text": LONG, "cache_control": control}]}  # fmt: skip
    status, answer = post(core, "/v1/messages", body)
    assert status == 200
    return dict(answer["usage"])


@pytest.mark.parametrize(("ttl", "alive_s"), [(None, 300), ("5m", 300), ("1h", 3600)])
def test_breakpoints_write_then_read_within_the_ttl(ttl: str | None, alive_s: float) -> None:
    clock = ManualClock()
    core = ProviderCore(ProviderConfig(), clock=clock)
    first = anthropic(core, ttl)
    written = first["cache_creation_input_tokens"]
    assert written > 1500
    assert first["cache_read_input_tokens"] == 0
    assert first["cache_creation"]["ephemeral_1h_input_tokens"] == (written if ttl == "1h" else 0)
    clock.advance(alive_s - 1)
    second = anthropic(core, ttl, "another question")  # a read refreshes the TTL
    assert (second["cache_read_input_tokens"], second["cache_creation_input_tokens"]) == (written, 0)
    clock.advance(alive_s - 1)
    assert anthropic(core, ttl)["cache_read_input_tokens"] == written
    clock.advance(alive_s + 1)
    assert anthropic(core, ttl)["cache_creation_input_tokens"] == written  # expired: written again
    core.reset()
    assert anthropic(core, ttl)["cache_read_input_tokens"] == 0


def test_short_prefixes_are_not_cached_and_five_breakpoints_are_refused() -> None:
    core = ProviderCore(ProviderConfig(), clock=ManualClock())
    control = {"type": "ephemeral"}
    short = {"model": "claude-sonnet-4-0", "max_tokens": 5, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "short", "cache_control": control}]}]}  # fmt: skip
    for _ in range(2):
        assert post(core, "/v1/messages", short)[1]["usage"]["cache_read_input_tokens"] == 0
    blocks = [{"type": "text", "text": f"b{i}", "cache_control": control} for i in range(5)]
    status, error = post(core, "/v1/messages", {**short, "messages": [{"role": "user", "content": blocks}]})
    assert status == 400
    assert error["error"]["message"] == "A maximum of 4 blocks with cache_control may be provided. Found 5."


@pytest.mark.parametrize("api", ["openai", "gemini"])
def test_automatic_caching_reads_the_longest_repeated_prefix(api: str) -> None:
    core = ProviderCore(ProviderConfig(), clock=ManualClock())

    def ask(question: str) -> int:
        if api == "openai":
            messages = [{"role": "system", "content": LONG}, {"role": "user", "content": question}]
            body = {"model": "gpt-4o-mini", "max_tokens": 3, "messages": messages}
            usage = post(core, "/v1/chat/completions", body)[1]["usage"]
            return int(usage["prompt_tokens_details"]["cached_tokens"])
        body = {"systemInstruction": {"parts": [{"text": LONG}]}, "contents": [{"parts": [{"text": question}]}],
                "generationConfig": {"maxOutputTokens": 3}}  # fmt: skip
        usage = post(core, "/v1beta/models/gemini-2.5-flash:generateContent", body)[1]["usageMetadata"]
        return int(usage.get("cachedContentTokenCount", 0))

    assert ask("first") == 0
    cached = ask("second")
    assert cached >= 1024
    assert (cached - 1024) % 128 == 0
    assert ask("a short one") == cached


def test_prefix_digests_are_those_of_the_tokens_one_by_one() -> None:
    """The stretches hashed in one call give the digests of hashing each token and its separator in turn."""
    rng = random.Random(4)
    alphabet = "abcd efgh 12,.! é日\ud83d\ude00\ud800 xyzw  \n"
    for _ in range(20):
        messages = [("user", "".join(rng.choice(alphabet) for _ in range(rng.randint(2000, 4000))))]
        head = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300)))
        tokens = TOKEN_PATTERN.findall(head)
        for role, text in messages:
            tokens += [f"\x1e{role}"] * MESSAGE_OVERHEAD + TOKEN_PATTERN.findall(role) + TOKEN_PATTERN.findall(text)
        hasher = hashlib.blake2b(digest_size=16)
        expected = []
        for count, token in enumerate(tokens, 1):
            hasher.update(token.encode("utf-8", "surrogatepass") + b"\x1f")
            if count >= 1024 and (count - 1024) % 128 == 0:
                expected.append((count, hasher.digest()))
        assert expected
        assert _prefixes(messages, head) == expected


def test_tokens_by_words_are_the_regex_tokens() -> None:
    """The prefixes' split fast path gives the regex's tokens on any text (words of one token or not)."""
    from fake_provider.prompt_cache import _tokens

    rng = random.Random(7)
    pieces = ["the", "word", "words", "a1b2", "abcde", "é", "日本", ",", "!?", "..", "x,", "\ud800", "\t", "\x1c"]
    spaces = [" ", "  ", "\n", "\x1f", "\u3000", "\xa0"]
    for _ in range(300):
        text = rng.choice(spaces).join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        assert _tokens(text) == TOKEN_PATTERN.findall(text), repr(text)
        assert _tokens(text) == TOKEN_PATTERN.findall(text)  # again, the count now from the memo
