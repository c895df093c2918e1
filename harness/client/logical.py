"""One logical request in flight: its attempts, its money, its deadline, and its one terminal record.

:class:`LogicalRequest` is the call path's working state (the client keeps no other per-request
state); :func:`outcome_record` turns it, with the answer or the error that ended it, into the
:class:`~harness.records.OutcomeRecord` the outcome log keeps — exactly one per logical request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import fields
from decimal import Decimal
from typing import Any

from harness.client.keys import ApiKey
from harness.client.types import ChatRequest, ChatResponse, Message
from harness.errors import ProviderError
from harness.records import AttemptRecord, OutcomeRecord
from harness.tokenizer import MESSAGE_OVERHEAD, REPLY_PRIMING, count_tokens_memo

__all__ = ["AttemptRow", "LogicalRequest", "OutcomeRow", "outcome_record", "outcome_row", "record_of", "status_of"]

_ZERO = Decimal(0)
#: an attempt: AttemptRecord's fields, in order
AttemptRow = tuple[int, float, float, str, int, str | None, str | None, float | None, float | None, str | None]
#: an outcome: OutcomeRecord's fields, in order, the attempts as AttemptRows
OutcomeRow = tuple[Any, ...]

# rows are built positionally on the hot path: fail loudly at import if the record schemas change
_OUTCOME_FIELDS = (
    "id", "ok", "status", "t_start", "t_end", "model_requested", "model", "provider", "user", "feature", "client_id",
    "stream", "ttft_s", "finish_reason", "input_tokens", "output_tokens", "cached_input_tokens", "cost_usd", "error",
    "attempts", "source", "similarity", "cached_from", "embedding_cost_usd", "prompt",
    "degradation_step",
)  # fmt: skip
_ATTEMPTS = _OUTCOME_FIELDS.index("attempts")
_ATTEMPT_FIELDS = (
    "n", "t_start", "t_end", "model", "status", "error", "request_id", "retry_after_s", "wait_s", "cost_usd",
)  # fmt: skip
if tuple(f.name for f in fields(OutcomeRecord)) != _OUTCOME_FIELDS or (
    tuple(f.name for f in fields(AttemptRecord)) != _ATTEMPT_FIELDS
):  # pragma: no cover - a contract change
    raise ImportError("harness.records changed OutcomeRecord or AttemptRecord; update harness.client.logical")


class LogicalRequest:
    """Working state of one logical request (see the module docstring)."""

    __slots__ = (
        "_bodies",
        "_body",
        "_body_model",
        "_body_stream",
        "_prompt",
        "attempts",
        "client_id",
        "cost",
        "deadline",
        "degradation_step",
        "delivered",
        "embedding_cost",
        "first_delivered",
        "id",
        "key_used",
        "messages",
        "n",
        "partial",
        "prefix",
        "prompt",
        "request",
        "sink",
        "t_start",
    )

    def __init__(
        self,
        request: ChatRequest,
        logical_id: str,
        t_start: float,
        deadline: float | None,
        client_id: str | None,
        sink: Callable[[str], None] | None = None,
    ) -> None:
        self.request = request
        self.id = logical_id  # sent as x-harness-request-id on every attempt
        self.t_start = t_start  # when the caller asked (loop clock)
        self.deadline = deadline  # the total deadline (loop clock), None: none
        self.client_id = client_id  # sent as x-client-id
        self.sink = sink  # where stream deltas go (None: the caller wants the whole answer)
        self.messages: tuple[Message, ...] = request.messages  # as sent (a stream restart appends a prefill)
        #: one tuple per attempt, in AttemptRecord's field order (plain tuples: cheap, and the garbage
        #: collector stops tracking them once their fields are atoms)
        self.attempts: list[AttemptRow] = []
        self.cost = _ZERO  # what the client's ledger charged, every attempt included
        self.embedding_cost = _ZERO  # what the semantic cache's embedding call cost
        self.prompt = request.prompt  # the prompt version ("support@v2") once resolved
        self.degradation_step: str | None = None  # the ladder's step that served it (None: no ladder)
        self.n = 0  # attempts sent so far (the next x-harness-attempt)
        self.delivered = False  # a delta reached the caller: no more silent retries
        self.first_delivered: float | None = None  # when the first delta reached the caller
        self.prefix = ""  # text delivered before a stream restart (the new stream continues it)
        self.partial = ""  # text a broken stream had delivered (what a restart continues from)
        self.key_used: ApiKey | None = None  # the key of the latest attempt
        self._prompt: int | None = None
        # the request body as built for one (model, stream), reused by retries; others in _bodies
        self._body: bytes | None = None
        self._body_model = ""
        self._body_stream = False
        self._bodies: dict[tuple[str, bool], bytes] | None = None

    def prompt_tokens(self) -> int:
        """Prompt tokens of the messages as sent, by the harness tokenizer (computed once)."""
        if self._prompt is None:
            total = REPLY_PRIMING  # harness.tokenizer.count_messages, with each text's count remembered
            for m in self.messages:
                total += MESSAGE_OVERHEAD + count_tokens_memo(m.role) + count_tokens_memo(m.content)
            self._prompt = total
        return self._prompt

    def body(self, model: str, stream: bool) -> bytes | None:
        """The body already built for ``model`` (and streaming or not), if any."""
        if self._body is not None and self._body_model == model and self._body_stream is stream:
            return self._body
        return None if self._bodies is None else self._bodies.get((model, stream))

    def keep_body(self, model: str, stream: bool, body: bytes) -> bytes:
        """Remember the body built for ``model`` (retries and later attempts send it again); returns it."""
        if self._body is None:
            self._body, self._body_model, self._body_stream = body, model, stream
        else:
            if self._bodies is None:
                self._bodies = {}
            self._bodies[(model, stream)] = body
        return body

    def deliver(self, text: str, now: float) -> None:
        """A delta reaches the caller."""
        assert self.sink is not None
        if not self.delivered:
            self.delivered = True
            self.first_delivered = now
        self.sink(text)

    def restart_with(self, partial: str) -> None:
        """Continue elsewhere: the text delivered so far becomes an assistant prefill."""
        self.prefix += partial
        messages = self.request.messages
        if messages and messages[-1].role == "assistant":
            head, prefill = messages[:-1], messages[-1].content
        else:
            head, prefill = messages, ""
        self.messages = (*head, Message("assistant", prefill + self.prefix))
        self.partial = ""  # consumed: a model skipped or refused next must not add it twice
        self._prompt = None
        self._body, self._bodies = None, None  # the messages changed: every body is rebuilt

    def request_ids(self) -> tuple[str, ...]:
        """The provider's ids of the attempts that had one, in order."""
        return tuple(a[6] for a in self.attempts if a[6] is not None)

    def wait_before_next(self, seconds: float) -> None:
        """Note on the latest attempt how long the client waits before the next one."""
        if self.attempts:
            last = self.attempts[-1]
            self.attempts[-1] = (*last[:8], seconds, last[9])


def status_of(error: BaseException) -> str:
    """The outcome status for an error: its kind ("RateLimited", "CircuitOpen" …) or "Cancelled"."""
    if isinstance(error, asyncio.CancelledError):
        return "Cancelled"
    if isinstance(error, ProviderError):
        return error.kind
    return type(error).__name__


def outcome_row(
    lr: LogicalRequest, t_end: float, response: ChatResponse | None, error: BaseException | None, message: str
) -> OutcomeRow:
    """The terminal record, as a row in OutcomeRecord's field order (``message`` already scrubbed of keys)."""
    request = lr.request
    cost = "0" if not lr.cost else format(lr.cost, "f")
    attempts = tuple(lr.attempts)
    embedding = "0" if not lr.embedding_cost else format(lr.embedding_cost, "f")
    if response is not None:
        usage = response.usage
        return (
            lr.id, True, "ok", lr.t_start, t_end, request.model, response.model, response.provider, request.user,
            request.feature, lr.client_id, request.stream, response.ttft_s, response.finish_reason,
            usage.input_tokens, usage.output_tokens, usage.cached_input_tokens, cost, None, attempts,
            response.source, response.similarity, response.cached_from, embedding, lr.prompt,
            lr.degradation_step,
        )  # fmt: skip
    assert error is not None
    return (
        lr.id, False, status_of(error), lr.t_start, t_end, request.model, None, None, request.user, request.feature,
        lr.client_id, request.stream, None, None, 0, 0, 0, cost, message[:500], attempts,
        "provider", None, None, embedding, lr.prompt, lr.degradation_step,
    )  # fmt: skip


def outcome_record(
    lr: LogicalRequest, t_end: float, response: ChatResponse | None, error: BaseException | None, message: str
) -> OutcomeRecord:
    """The terminal record as an :class:`~harness.records.OutcomeRecord`."""
    return record_of(outcome_row(lr, t_end, response, error, message))


def record_of(row: OutcomeRow) -> OutcomeRecord:
    """An OutcomeRecord from a row (the attempts become AttemptRecords)."""
    # a row holds the fields in order (checked at import); mypy cannot count a tuple[Any, ...]
    attempts = tuple(AttemptRecord(*a) for a in row[_ATTEMPTS])
    return OutcomeRecord(*row[:_ATTEMPTS], attempts, *row[_ATTEMPTS + 1 :])  # type: ignore[call-arg]
