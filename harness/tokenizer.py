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
    builds one per match: five times slower on a prompt). The tokens are the one-character tokens (every
    character that is neither a letter, a digit nor whitespace: what deleting those leaves) and the runs of
    letters and digits, cut every four characters. For the runs, each character becomes ``a`` (a letter or
    digit) or a space (anything else); a run is an ``a`` after a space or at the start. Only a run of five or
    more needs cutting (``aaaa`` becomes ``a`` and a space, so a run of up to four stays one run and a longer
    one is cut like the rule cuts it): the replace is skipped when there is none, as in generated prose (it
    cost more than the rest together). ``tests/unit/test_tokenizer.py`` holds it to the regex."""
    data = text.encode("ascii")
    runs = data.translate(_ASCII_RUNS)
    if b"aaaaa" in runs:
        runs = runs.replace(b"aaaa", b"a ")
    singles = len(data.translate(None, _ASCII_NOT_SINGLE))
    return singles + runs.count(b" a") + (runs[0] == 97)  # 97: b"a"


def _ascii_classes() -> tuple[bytes, bytes]:
    """The tables of :func:`_count_ascii`, read off ``_TOKEN`` itself: a character no token matches is
    whitespace, one the pattern takes two of in a match is a letter or digit, any other is a token alone.
    Returns the translation to runs (letters and digits to ``a``, every other byte to a space) and the bytes
    to delete to keep the one-character tokens (letters, digits and whitespace)."""
    runs = bytearray(b" " * 256)
    not_single = bytearray()
    for code in range(128):
        char = chr(code)
        match = _TOKEN.match(char * 2)
        if match is None:
            not_single.append(code)
        elif match.end() == 2:
            runs[code] = ord("a")
            not_single.append(code)
    return bytes(runs), bytes(not_single)


_ASCII_RUNS, _ASCII_NOT_SINGLE = _ascii_classes()


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
