"""What passes between the provider core and a performer: the request in, the planned exchange out.

:class:`ProviderRequest` is a request as the wire delivered it; :class:`Exchange` is the core's answer
to it (the :class:`~fake_provider.plan.Plan`, and what the core knew) until the performer reports
what it delivered (:meth:`Exchange.settle`, exactly once). Also here: the two parsing helpers of the
request path, a fast JSON reader and the prompt counter.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from fake_provider.context import CallContext
from fake_provider.plan import Delivery, Plan
from fake_provider.request_log import RequestLog
from harness.records import ProviderRecord
from harness.tokenizer import MESSAGE_OVERHEAD, REPLY_PRIMING, count_tokens, count_tokens_memo

__all__ = ["Exchange", "ProviderRequest", "count_prompt", "load_json"]


@dataclass(slots=True)  # not frozen: one per request/event on the hot path; treat as read-only
class ProviderRequest:
    """A request as the wire delivered it; ``headers`` answers lower-case names."""

    method: str
    path: str
    query: str = ""  # raw query string, without "?"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    body_truncated: bool = False  # the body exceeded the size limit and was not read in full


class _Settles(Protocol):
    log: RequestLog

    def settle(self, ctx: CallContext, plan: Plan, delivery: Delivery) -> int: ...


class Exchange:
    """One planned attempt; report what was delivered exactly once (:meth:`settle` or :meth:`finish`)."""

    __slots__ = ("_core", "_seq", "context", "plan")

    def __init__(self, core: _Settles, context: CallContext, plan: Plan) -> None:
        self._core = core
        self.context = context  # what the core knew; read-only for performers
        self.plan = plan
        self._seq = 0  # the log's seq once settled

    @property
    def arrival(self) -> float:
        return self.context.arrival

    @property
    def settled(self) -> bool:
        return self._seq != 0

    @property
    def record(self) -> ProviderRecord | None:
        """The request-log record, once settled (built on each access)."""
        return self._core.log.record(self._seq) if self._seq else None

    def settle(self, delivery: Delivery) -> None:
        """Report the delivery: log it, release its quotas (the performers' call; builds no record)."""
        if self._seq:
            raise RuntimeError(f"Exchange settled twice for request {self.context.request_id}")
        self._seq = self._core.settle(self.context, self.plan, delivery)

    def finish(self, delivery: Delivery) -> ProviderRecord:
        """:meth:`settle`, then return the record."""
        self.settle(delivery)
        return self._core.log.record(self._seq)

    def __repr__(self) -> str:
        return f"<Exchange {self.context.request_id} status={self.plan.status} settled={self.settled}>"


_scan_once = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # the C scanner, without loads' wrapper
_NOT_SPACE = re.compile(r"[^ \t\n\r]")


def load_json(raw: bytes) -> Any:
    """``json.loads``, with a fast path for a UTF-8 object or array (every encoding JSON allows still works)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return json.loads(raw)
    if not text or text[0] not in "{[" or text[-1] not in "}]":
        return json.loads(text) if not text.startswith("\ufeff") else json.loads(raw)
    try:
        value, end = _scan_once(text, 0)
    except StopIteration as exc:
        raise json.JSONDecodeError("Expecting value", text, exc.value) from None
    if end != len(text) and _NOT_SPACE.search(text, end) is not None:
        raise json.JSONDecodeError("Extra data", text, end)
    return value


_ROLE_TOKENS = {role: count_tokens(role) for role in ("system", "user", "assistant", "tool")}


def count_prompt(messages: Iterable[tuple[str, str]]) -> int:
    """:func:`harness.tokenizer.count_messages`, with the roles' counts looked up (the few roles repeat)."""
    total = REPLY_PRIMING
    for role, text in messages:
        role_tokens = _ROLE_TOKENS.get(role)
        if role_tokens is None:
            role_tokens = count_tokens(role)
        total += MESSAGE_OVERHEAD + role_tokens + count_tokens_memo(text)
    return total
