"""The harness tokenizer: one documented, deterministic rule used by both sides.

Real tokenizers differ per provider; what a resilience harness needs is one rule that the fake
provider's usage fields, its stream usage, its quotas and its billing ledger all share, and that the
reference client can use to estimate a request before sending it (exact against the fake provider,
an estimate against a real one).

The rule: a token is a run of one to four ASCII letters or digits (longer runs are split every four
characters), or any single other character that is not whitespace (punctuation, each non-ASCII
code point). Whitespace is free. So ``"Hello, world!"`` is ``Hell`` ``o`` ``,`` ``worl`` ``d`` ``!``:
six tokens; English prose averages about four characters per token, like the real ones.

A chat prompt costs, per message, ``MESSAGE_OVERHEAD`` tokens plus its role and content, plus
``REPLY_PRIMING`` once (the shape of OpenAI's published counting recipe).

>>> count_tokens("Hello, world!")
6
>>> count_messages([("user", "Hello, world!")])
13
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["MESSAGE_OVERHEAD", "REPLY_PRIMING", "TOKEN_PATTERN", "count_messages", "count_tokens", "count_tokens_memo"]

MESSAGE_OVERHEAD = 3  # tokens per message for the chat template's delimiters
REPLY_PRIMING = 3  # tokens that prime the assistant's reply, once per prompt

_TOKEN = re.compile(r"[A-Za-z0-9]{1,4}|[^\sA-Za-z0-9]")
TOKEN_PATTERN = _TOKEN  # one match per token (the prompt cache hashes prompts token by token)


def count_tokens(text: str) -> int:
    """Tokens in ``text`` under the harness rule (every prompt is counted: ASCII text without the regex)."""
    if not text:
        return 0
    if text.isascii():
        return _count_ascii(text)
    return len(_TOKEN.findall(text))


def _count_ascii(text: str) -> int:
    """:func:`count_tokens` of ASCII text in a few C passes, without a string object per token (the regex
    builds one per match: five times slower on a prompt). Each character becomes its class (``a``: a letter or
    digit, ``.``: a one-character token, a space: whitespace); every ``aaaa`` becomes ``a`` and a space, so a
    run of letters and digits is cut into runs of at most four like the rule cuts it; the tokens are then the
    ``.`` and the runs' first characters. ``tests/unit/test_tokenizer.py`` holds it to the regex."""
    classes = text.encode("ascii").translate(_ASCII_CLASSES).replace(b"aaaa", b"a ")
    runs = classes.count(b" a") + classes.count(b".a") + (classes[0] == 97)  # 97: b"a"
    return classes.count(b".") + runs


def _ascii_classes() -> bytes:
    """The translation table of :func:`_count_ascii`, read off ``_TOKEN`` itself: a character no token
    matches is whitespace, one the pattern takes two of in a match is a letter or digit."""
    table = bytearray(b"." * 256)
    for code in range(128):
        char = chr(code)
        match = _TOKEN.match(char * 2)
        if match is None:
            table[code] = ord(" ")
        elif match.end() == 2:
            table[code] = ord("a")
    return bytes(table)


_ASCII_CLASSES = _ascii_classes()


#: token counts of texts seen lately: a system prompt or a canned question repeats on every request,
#: and in a virtual-time run the client's estimate and the provider's count read the same prompt
_COUNTS: dict[str, int] = {}
_COUNTED_CHARS = [0]  # characters held by _COUNTS: it is emptied past _MAX_COUNTED_CHARS
_MAX_COUNTED_CHARS = 4_000_000


def count_tokens_memo(text: str) -> int:
    """:func:`count_tokens`, remembered for texts seen lately (at most ~4 M characters are held)."""
    n = _COUNTS.get(text)
    if n is None:
        n = count_tokens(text)
        if _COUNTED_CHARS[0] + len(text) > _MAX_COUNTED_CHARS:
            _COUNTS.clear()
            _COUNTED_CHARS[0] = 0
        _COUNTS[text] = n
        _COUNTED_CHARS[0] += len(text)
    return n


def count_messages(messages: Iterable[tuple[str, str]]) -> int:
    """Prompt tokens of a chat: ``(role, text)`` pairs; the text of all parts of a message joined."""
    total = REPLY_PRIMING
    for role, text in messages:
        total += MESSAGE_OVERHEAD + count_tokens(role) + count_tokens(text)
    return total
