"""Keep API keys out of everything a smoke run prints or writes — the key, and any piece of it.

Providers echo parts of a wrong key in their error messages (OpenAI: ``Incorrect API key provided:
sk-proj-****…abcd``), exceptions may carry a header, a person may paste output into a ticket. Every
string a smoke run prints or writes goes through :meth:`Redactor.scrub`, which replaces

* every run of :data:`MIN_PIECE` or more characters that occurs in one of the keys (so a prefix, a
  suffix or a middle piece of a key never survives), and
* anything that looks like a masked key (``sk-…****…``), whose visible ends are pieces of a key too.

Example::

    r = Redactor(["sk-test-0123456789abcdef"])
    r.scrub("Incorrect API key provided: sk-test-****cdef")   # 'Incorrect API key provided: [redacted]'
    r.scrub("key sk-test-0123 rejected")                       # 'key [redacted] rejected'
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["MIN_PIECE", "REDACTED", "Redactor"]

#: the shortest piece of a key that is redacted (shorter runs are common words: "sk-", "key")
MIN_PIECE = 6
REDACTED = "[redacted]"
_MASKED = re.compile(r"[A-Za-z0-9_\-]*\*{3,}[A-Za-z0-9_\-*]*")  # sk-proj-****abcd, AIza…****…


class Redactor:
    """Removes keys and pieces of keys from text (see the module docstring)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = [s for s in secrets if s]
        pieces = set()
        for secret in self._secrets:
            if len(secret) < MIN_PIECE:
                pieces.add(secret)
                continue
            pieces.update(secret[i : i + MIN_PIECE] for i in range(len(secret) - MIN_PIECE + 1))
        alternatives = sorted((re.escape(p) for p in pieces), key=len, reverse=True)
        # a lookahead finds every (overlapping) occurrence; overlapping ones then merge into one span
        self._pieces = re.compile("(?=(" + "|".join(alternatives) + "))") if alternatives else None

    def scrub(self, text: str) -> str:
        text = _MASKED.sub(REDACTED, text)
        if self._pieces is not None:
            spans: list[list[int]] = []
            for m in self._pieces.finditer(text):
                start, end = m.start(1), m.end(1)
                if spans and start <= spans[-1][1]:
                    spans[-1][1] = max(spans[-1][1], end)
                else:
                    spans.append([start, end])
            for start, end in reversed(spans):
                text = text[:start] + REDACTED + text[end:]
        return text

    def __repr__(self) -> str:  # never the secrets
        return f"Redactor({len(self._secrets)} secret(s))"
