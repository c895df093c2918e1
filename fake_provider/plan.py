"""Plans: what the provider core decided to do with one request, as data.

The core never touches a socket. For each request it returns a :class:`Plan` (status, headers, and
either a body or a timed sequence of :class:`Chunk` writes, or a transport fault) and a way to report
what was actually delivered (:class:`Delivery`). A *performer* carries the plan out: the aiohttp app on
a real socket, the in-memory performer under whatever event-loop clock runs it (the virtual-time
runner's). Both must produce the same bytes at the same offsets from arrival.

Timeline of a plan, from the request's arrival::

    [transport fault?]  reset → abort now;  silence → wait silence_s, then abort
    wait headers_delay_s → send status + headers
    plain:   send body, finish
    stream:  for each chunk: wait chunk.delay_s, write chunk.data (empty data = a pure wait)
             end = CLOSE → finish the response normally;  end = CUT → abort the connection
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = ["Chunk", "Delivery", "Plan", "StreamEnd", "TransportFault", "answer_plan"]


class TransportFault(enum.Enum):
    """Faults below HTTP: the client sees a connection error, never a status."""

    RESET = "reset"  # abort the connection before any response byte
    SILENCE = "silence"  # read the request, send nothing for ``Plan.silence_s``, then abort


class StreamEnd(enum.Enum):
    """How a streamed body ends after its last chunk."""

    CLOSE = "close"  # finish the response normally (chunked terminator, keep-alive allowed)
    CUT = "cut"  # abort the connection: no terminator, the client sees a broken body


class Chunk(NamedTuple):
    """One write of a streamed body (a named tuple: a stream plan holds one per token)."""

    delay_s: float  # wait before writing, measured from the previous write (or from the headers)
    data: bytes  # bytes to write; empty for a pure wait (a stall before a cut, say)
    tokens: int = 0  # output tokens this chunk delivers; a cut stream is billed for those sent


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything a performer needs; nothing it has to decide."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""  # the whole body of a plain response
    chunks: tuple[Chunk, ...] | None = None  # a streamed body; None for a plain one
    headers_delay_s: float = 0.0  # arrival → status line (for plain bodies: the whole latency)
    transport: TransportFault | None = None
    silence_s: float = 0.0  # for TransportFault.SILENCE
    end: StreamEnd = StreamEnd.CLOSE
    body_tokens: int = 0  # output tokens a plain body delivers (billing)

    @property
    def streamed(self) -> bool:
        return self.chunks is not None

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None


_new = object.__new__
_SET = {name: Plan.__dict__[name].__set__ for name in Plan.__dataclass_fields__}  # the slots' setters
_set_status, _set_headers, _set_body, _set_chunks = _SET["status"], _SET["headers"], _SET["body"], _SET["chunks"]
_set_delay, _set_transport, _set_silence = _SET["headers_delay_s"], _SET["transport"], _SET["silence_s"]
_set_end, _set_tokens = _SET["end"], _SET["body_tokens"]
if len(_SET) != 9:  # pragma: no cover - a contract change
    raise ImportError("Plan changed its fields; update fake_provider.plan.answer_plan")


def answer_plan(
    headers: tuple[tuple[str, str], ...],
    body: bytes,
    chunks: tuple[Chunk, ...] | None,
    headers_delay_s: float,
    body_tokens: int = 0,
    end: StreamEnd = StreamEnd.CLOSE,
) -> Plan:
    """``Plan(200, headers, body, chunks, headers_delay_s, body_tokens=body_tokens, end=end)``: the same frozen
    object, set through its slots instead of the frozen dataclass's ``__init__`` (an ``object.__setattr__``
    call per field): half the time, and every answer builds one."""
    plan = _new(Plan)
    _set_status(plan, 200)
    _set_headers(plan, headers)
    _set_body(plan, body)
    _set_chunks(plan, chunks)
    _set_delay(plan, headers_delay_s)
    _set_transport(plan, None)
    _set_silence(plan, 0.0)
    _set_end(plan, end)
    _set_tokens(plan, body_tokens)
    return plan


@dataclass(slots=True)
class Delivery:
    """What a performer actually did with a plan, reported back exactly once.

    ``status`` is 0 when no status line was sent (a transport fault, or the client left first).
    """

    status: int = 0
    ttfb_s: float | None = None  # arrival → first body byte (first chunk for streams)
    duration_s: float = 0.0  # arrival → last byte written or connection end
    chunks_sent: int = 0  # streamed chunks fully written
    tokens_sent: int = 0  # output tokens in what was written
    client_gone: bool = False  # the client disconnected before the plan finished
    notes: list[str] = field(default_factory=list)  # what went differently from the plan, for the log
