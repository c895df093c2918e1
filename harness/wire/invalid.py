"""The one error a request parser raises: :class:`RequestInvalid` (re-exported by :mod:`harness.wire.neutral`).

On its own so that every parser — the neutral model and the extras (tools, output formats) alike —
can raise it without importing the other.
"""

from __future__ import annotations

__all__ = ["RequestInvalid"]


class RequestInvalid(ValueError):
    """A request body failed validation; ``param`` names the offending field (dotted / indexed path)."""

    def __init__(self, param: str | None, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.param = param
        self.message = message
        self.code = code
