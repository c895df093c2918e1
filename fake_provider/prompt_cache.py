"""The prompt cache: which prompt prefixes a key has sent lately, so repeated prefixes are read from cache.

Two kinds, as on the real services (rules in ``docs/fake-provider.md``):

* **Explicit breakpoints** (Anthropic ``cache_control``): each breakpoint names the prompt up to its
  block. The longest breakpoint whose prefix is cached and unexpired is *read* (its TTL refreshed);
  the tokens from there to the last breakpoint are *written* (``cache_creation_input_tokens``), each
  stretch with the TTL of the breakpoint that ends it (``5m`` or ``1h``). Prefixes shorter than
  :data:`MIN_TOKENS` are not cached.
* **Automatic** (OpenAI ``cached_tokens``, Gemini implicit ``cachedContentTokenCount``): a prompt of
  :data:`MIN_TOKENS` or more is cut into prefixes at 1024 tokens and every 128 after; the longest one
  seen lately is read, and every one is remembered for :data:`AUTO_TTL_S` (refreshed on a hit). Writes
  are free and not reported, as on those APIs.

Entries are per key (``client``) and model, in the provider core's clock; the cache is bounded (the
oldest entries go first) and emptied by ``reset``.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from harness.tokenizer import MESSAGE_OVERHEAD, TOKEN_PATTERN, count_tokens_memo
from harness.wire.extras import CacheMark

__all__ = ["AUTO_TTL_S", "MIN_TOKENS", "CacheUse", "PromptCache"]

MIN_TOKENS = 1024  # shortest cacheable prefix
AUTO_STEP = 128  # automatic caching grows the cached prefix in steps of this many tokens
AUTO_TTL_S = 300.0
_MAX_ENTRIES = 200_000


class CacheUse:
    """What one request read from and wrote to the cache (prompt tokens)."""

    __slots__ = ("read", "written", "written_1h")

    def __init__(self, read: int = 0, written: int = 0, written_1h: int = 0) -> None:
        self.read, self.written, self.written_1h = read, written, written_1h


class PromptCache:
    """Prefix digests by (key, model) with their expiry times."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple[str, str, bytes], float] = OrderedDict()

    def _alive(self, key: tuple[str, str, bytes], now: float) -> bool:
        expiry = self._entries.get(key)
        return expiry is not None and expiry > now

    def _store(self, key: tuple[str, str, bytes], expiry: float) -> None:
        entries = self._entries
        entries[key] = max(expiry, entries.get(key, 0.0))
        entries.move_to_end(key)
        while len(entries) > _MAX_ENTRIES:
            entries.popitem(last=False)

    def explicit(self, client: str, model: str, marks: Sequence[CacheMark], now: float) -> CacheUse:
        """Anthropic: read the longest live breakpoint, write from there to the last one."""
        usable = [m for m in marks if m.tokens >= MIN_TOKENS]
        if not usable:
            return CacheUse()
        read = 0
        for mark in reversed(usable):
            key = (client, model, mark.digest)
            if self._alive(key, now):
                read = mark.tokens
                self._store(key, now + mark.ttl_s)
                break
        use = CacheUse(read)
        edge = read
        for mark in usable:
            if mark.tokens <= read:
                continue
            stretch = mark.tokens - edge
            use.written += stretch
            if mark.ttl_s > 300:
                use.written_1h += stretch
            edge = mark.tokens
            self._store((client, model, mark.digest), now + mark.ttl_s)
        return use

    def automatic(
        self, client: str, model: str, messages: Sequence[tuple[str, str]], head: str, prompt: int, now: float
    ) -> CacheUse:
        """OpenAI / Gemini: the longest remembered prefix (≥ 1024 tokens, in steps of 128) is read."""
        if prompt < MIN_TOKENS:
            return CacheUse()
        read = 0
        for tokens, digest in _prefixes(messages, head):
            key = (client, model, digest)
            if self._alive(key, now):
                read = tokens
            self._store(key, now + AUTO_TTL_S)
        return CacheUse(read)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def _prefixes(messages: Sequence[tuple[str, str]], head: str) -> list[tuple[int, bytes]]:
    """(tokens, digest) of the prompt's prefixes at 1024, 1152, … tokens: :func:`_prefixes_by_tokens`'s, the same
    digests, without a string object per token.

    The prompt's tokens, each followed by ``\x1f``, are built as one string: a text whose tokens are its words
    and whose only whitespace is single spaces between them is that text with its spaces replaced (a few C
    passes; a generated long prompt is such a text), anything else joins its tokens. No token holds ``\x1f``
    (whitespace to the tokenizer), so the ends of the tokens are the ``\x1f`` bytes of its UTF-8 form, found
    in one numpy pass, and each stretch between two boundaries is hashed as a slice. Splitting a prompt of a
    few thousand words into a list of words was most of the cost of a long prompt's request.
    """
    runs: list[str] = []  # runs of tokens, each token followed by \x1f
    total = _add_run(runs, head)
    for role, text in messages:
        runs.append(f"\x1e{role}\x1f" * MESSAGE_OVERHEAD)
        total += MESSAGE_OVERHEAD + _add_run(runs, role) + _add_run(runs, text)
    if total < MIN_TOKENS:
        return []
    data = "".join(runs).encode("utf-8", "surrogatepass")
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 0x1F)  # ends[i]: the \x1f after token i
    if len(ends) != total:  # a role holding \x1f: not one separator per token
        return _prefixes_by_tokens(messages, head)
    view = memoryview(data)
    hasher = hashlib.blake2b(digest_size=16)
    out: list[tuple[int, bytes]] = []
    done = 0
    for boundary in range(MIN_TOKENS, total + 1, AUTO_STEP):
        end = int(ends[boundary - 1]) + 1
        hasher.update(view[done:end])
        out.append((boundary, hasher.digest()))
        done = end
    return out


def _add_run(runs: list[str], text: str) -> int:
    """Append the tokens of ``text`` to ``runs`` (each followed by ``\x1f``); returns how many there are."""
    count = count_tokens_memo(text)
    if not count:
        return 0
    if _words_are_tokens(text, count):
        runs.append(text.replace(" ", "\x1f") + "\x1f")
    else:
        runs.append("\x1f".join(_tokens(text)) + "\x1f")
    return count


#: the ASCII whitespace but the space (str.split and the tokenizer's \s split on each of them)
_OTHER_SPACE = bytes(c for c in range(128) if chr(c).isspace() and c != 32)


def _words_are_tokens(text: str, count: int) -> bool:
    """Whether the ``count`` tokens of ``text`` are ``text.split(" ")``: an ASCII text (the check is O(1)) whose
    only whitespace is single spaces between words, with as many words as tokens (see :func:`_tokens`). Bytes
    methods, a C pass each (``str.isprintable`` or a ``str`` search took longer than the split they spare)."""
    if not text.isascii():
        return False
    data = text.encode("ascii")
    return (
        data.count(b" ") + 1 == count
        and data[0] != 32
        and data[-1] != 32
        and len(data.translate(None, _OTHER_SPACE)) == len(data)
        and b"  " not in data
    )


def _prefixes_by_tokens(messages: Sequence[tuple[str, str]], head: str) -> list[tuple[int, bytes]]:
    """(tokens, digest) of the prompt's prefixes at 1024, 1152, … tokens (the prompt as the tokenizer counts it:
    ``head`` (tool definitions), then per message its template tokens, role and text); the path of record.

    A prefix's digest is that of its tokens, each followed by ``\x1f``; each stretch between two
    boundaries is hashed as one string (the same bytes as token by token, in one call).
    """
    tokens = _tokens(head)
    for role, text in messages:
        tokens += [f"\x1e{role}"] * MESSAGE_OVERHEAD
        tokens += _tokens(role)
        tokens += _tokens(text)
    hasher = hashlib.blake2b(digest_size=16)
    out: list[tuple[int, bytes]] = []
    done = 0
    for boundary in range(MIN_TOKENS, len(tokens) + 1, AUTO_STEP):
        hasher.update(("\x1f".join(tokens[done:boundary]) + "\x1f").encode("utf-8", "surrogatepass"))
        out.append((boundary, hasher.digest()))
        done = boundary
    return out


def _tokens(text: str) -> list[str]:
    """The tokens of ``text``, as ``TOKEN_PATTERN.findall`` gives them.

    A text's whitespace-separated words are its tokens exactly when there are as many words as tokens
    (every word is at least one token, and a word of one token is that token): then ``str.split`` gives
    them at a fraction of the regex's cost (``str.split`` and the regex's ``\\s`` agree on whitespace).
    The count is the tokenizer's memo of the prompt's count, so asking costs nothing.
    """
    words = text.split()
    return words if len(words) == count_tokens_memo(text) else TOKEN_PATTERN.findall(text)
